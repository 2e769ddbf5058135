/* Test plugin: exits the process with status 0 without returning. */
#include <stdlib.h>
#include "costflow/plugin.h"
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  (void)ctx; (void)api;
  exit(0);
}
static const struct cf_plugin desc = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "noresult", "exits without a result", NULL, 0, run};
CF_PLUGIN_EXPORT(desc)
