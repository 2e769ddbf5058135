/* Test plugin: returns `result` (fail, retry, skip or ok; default fail). */
#include <string.h>
#include "costflow/plugin.h"
static const struct cf_param_spec params[] = {
  {"result", CF_PARAM_STRING, 0, "fail", "ok, fail, retry or skip"},
};
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *r = api->param(ctx, "result");
  api->log(ctx, CF_LOG_INFO, "returning %s", r);
  if (!strcmp(r, "ok")) return CF_RESULT_OK;
  if (!strcmp(r, "retry")) return CF_RESULT_RETRY;
  if (!strcmp(r, "skip")) return CF_RESULT_SKIP;
  return CF_RESULT_FAIL;
}
static const struct cf_plugin desc = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "fail", "returns a chosen result", params, 1, run};
CF_PLUGIN_EXPORT(desc)
