#include "common.h"
static const wm_plugin_descriptor desc = {
    sizeof desc,        WM_ABI_MAJOR + 1, 0,       "bad_major", "1.0.0", "built for a future ABI",
    WM_PLUGIN_ANALYZER, create,           destroy, &hooks,      0};
WM_EXPORT const wm_plugin_descriptor* wiremeter_plugin_register(void) { return &desc; }
