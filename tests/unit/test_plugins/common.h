/* Shared by the loader test plugins: hooks that do nothing. */
#include <wiremeter/abi.h>

static int g_dummy;
static void* create(const wm_host_api* host, char* err, size_t len) {
  (void)err;
  (void)len;
  host->log(host->host, WM_LOG_INFO, "created");
  return &g_dummy;
}
static void destroy(void* p) { (void)p; }
static void* worker_init(void* p, const wm_worker_info* info) {
  (void)info;
  return p;
}
static void worker_fini(void* w) { (void)w; }
static void on_batch(void* w, const wm_packet* p, uint32_t n) {
  (void)w;
  (void)p;
  (void)n;
}
static const wm_analyzer_hooks hooks = {
    sizeof(wm_analyzer_hooks), 8, worker_init, worker_fini, on_batch, 0, 0, 0, 0, 0, 0};
