/* Test plugin: fails until try `succeed_on` (default 2), then succeeds. */
#include <stdlib.h>
#include "costflow/plugin.h"
static const struct cf_param_spec params[] = {
  {"succeed_on", CF_PARAM_INT, 0, "2", "first try that succeeds"},
};
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *s = api->param(ctx, "succeed_on");
  int want = s ? atoi(s) : 2;
  int t = api->try_number(ctx);
  api->log(ctx, CF_LOG_INFO, "flaky: try %d, succeeding on %d", t, want);
  return t >= want ? CF_RESULT_OK : CF_RESULT_FAIL;
}
static const struct cf_plugin desc = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "flaky", "fails until a given try", params, 1, run};
CF_PLUGIN_EXPORT(desc)
