/* hello: the smallest useful costflow plugin. Copy this file to start a
 * new stage plugin. It greets `name`, and hands the greeting to downstream
 * tasks as the output `greeting`. Build: see examples/CMakeLists.txt. */
#include <stdio.h>
#include "costflow/plugin.h"

static const struct cf_param_spec params[] = {
  {"name", CF_PARAM_STRING, 1, NULL, "who to greet"},
  {"shout", CF_PARAM_BOOL, 0, "false", "greet in capitals"},
};

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *name = api->param(ctx, "name");
  const char *shout = api->param(ctx, "shout");
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s, it is %s", shout[0] == 't' ? "HELLO"
           : "hello", name, api->logical_date(ctx));
  api->log(ctx, CF_LOG_INFO, "%s", msg);
  if (api->output_set(ctx, "greeting", msg) < 0) {
    api->log(ctx, CF_LOG_ERROR, "cannot store the greeting");
    return CF_RESULT_FAIL;
  }
  return CF_RESULT_OK;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "hello",
  "Greets someone (example plugin)", params,
  sizeof params / sizeof *params, run,
};
CF_PLUGIN_EXPORT(desc)
