/* Test plugin: sets output `key`=`value`; with `read_from`, copies that
 * task's output `key` into its log and fails if it is missing. */
#include "costflow/plugin.h"
static const struct cf_param_spec params[] = {
  {"key", CF_PARAM_STRING, 0, "greeting", "output key"},
  {"value", CF_PARAM_STRING, 0, NULL, "value to set"},
  {"read_from", CF_PARAM_STRING, 0, NULL, "upstream task to read"},
};
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *key = api->param(ctx, "key");
  const char *val = api->param(ctx, "value");
  const char *from = api->param(ctx, "read_from");
  if (val && api->output_set(ctx, key, val) < 0) return CF_RESULT_FAIL;
  if (from) {
    const char *got = api->output_get(ctx, from, key);
    if (!got) return CF_RESULT_FAIL;
    api->log(ctx, CF_LOG_INFO, "read %s=%s from %s", key, got, from);
  }
  return CF_RESULT_OK;
}
static const struct cf_plugin desc = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "outputs", "sets and reads task outputs", params, 3, run};
CF_PLUGIN_EXPORT(desc)
