/* Test plugin: ignores SIGTERM and hangs forever (needs SIGKILL). */
#include <signal.h>
#include <unistd.h>
#include "costflow/plugin.h"
static const struct cf_param_spec params[] = {
  {"ignore_term", CF_PARAM_BOOL, 0, "false", "ignore SIGTERM"},
};
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *ig = api->param(ctx, "ignore_term");
  if (ig && ig[0] == 't') signal(SIGTERM, SIG_IGN);
  for (;;) pause();
  return CF_RESULT_OK;
}
static const struct cf_plugin desc = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "hang", "never returns", params, 1, run};
CF_PLUGIN_EXPORT(desc)
