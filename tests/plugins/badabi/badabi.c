/* Test plugin: built for a future ABI level the host must refuse. */
#include "costflow/plugin.h"
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  (void)ctx; (void)api;
  return CF_RESULT_OK;
}
static const struct cf_plugin desc = {99, sizeof(struct cf_plugin), "badabi",
  "wrong ABI", NULL, 0, run};
__attribute__((visibility("default"))) const unsigned cf_plugin_abi = 99;
__attribute__((visibility("default")))
const struct cf_plugin *cf_plugin_entry(void) { return &desc; }
