#include "common.h"
/* Claims a descriptor smaller than ABI 1's, as a plugin built against a truncated header would. */
static const wm_plugin_descriptor desc = {24, WM_ABI_MAJOR,       0,      "small_struct", "1.0.0",
                                          "", WM_PLUGIN_ANALYZER, create, destroy,        &hooks,
                                          0};
WM_EXPORT const wm_plugin_descriptor* wiremeter_plugin_register(void) { return &desc; }
