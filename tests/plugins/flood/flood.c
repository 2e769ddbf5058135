/* Test plugin: writes `megabytes` MiB to stdout (default: forever). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "costflow/plugin.h"
static const struct cf_param_spec params[] = {
  {"megabytes", CF_PARAM_INT, 0, "0", "0 = never stop"},
};
static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *s = api->param(ctx, "megabytes");
  long mb = s ? atol(s) : 0;
  static char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  for (long i = 0; mb == 0 || i < mb * 16; i++)
    if (write(1, chunk, sizeof chunk) < 0) return CF_RESULT_FAIL;
  return CF_RESULT_OK;
}
static const struct cf_plugin desc = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "flood", "floods stdout", params, 1, run};
CF_PLUGIN_EXPORT(desc)
