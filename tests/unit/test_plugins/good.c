#include "common.h"
static const wm_plugin_descriptor desc = {
    sizeof desc,        WM_ABI_MAJOR, WM_ABI_MINOR, "good", "1.0.0", "accepted by the loader",
    WM_PLUGIN_ANALYZER, create,       destroy,      &hooks, 0};
WM_EXPORT const wm_plugin_descriptor* wiremeter_plugin_register(void) { return &desc; }
