/* noop: succeeds at once (joins, placeholders, benchmarks). */
#include "costflow/plugin.h"

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  (void)ctx;
  (void)api;
  return CF_RESULT_OK;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "noop", "Do nothing, succeed",
  NULL, 0, run,
};
CF_PLUGIN_EXPORT(desc)
