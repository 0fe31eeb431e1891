#include "common.h"
/* Built against ABI 1.0: the analyzer hooks end before worker_tick/query. Must still load. */
static const wm_analyzer_hooks hooks10 = {
    WM_ANALYZER_HOOKS_V1_0_SIZE, 8, worker_init, worker_fini, on_batch, 0, 0, 0, 0, 0, 0};
static const wm_plugin_descriptor desc = {
    sizeof desc,        WM_ABI_MAJOR, 0,       "abi10",  "1.0.0", "an ABI 1.0 plugin",
    WM_PLUGIN_ANALYZER, create,       destroy, &hooks10, 0};
WM_EXPORT const wm_plugin_descriptor* wiremeter_plugin_register(void) { return &desc; }
