/* Test plugin: dereferences NULL (SIGSEGV). */
#include <signal.h>
#include "costflow/plugin.h"
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  (void)ctx; (void)api;
  raise(SIGSEGV);
  return CF_RESULT_OK;
}
static const struct cf_plugin desc = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "crash", "segfaults", NULL, 0, run};
CF_PLUGIN_EXPORT(desc)
