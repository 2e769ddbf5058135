/* sleep: waits `seconds` then succeeds (timeouts, demos). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "costflow/plugin.h"

static const struct cf_param_spec params[] = {
  {"seconds", CF_PARAM_INT, 1, NULL, "how long to sleep"},
};

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *s = api->param(ctx, "seconds");
  char *end = NULL;
  long secs = s ? strtol(s, &end, 10) : -1;
  if (!s || *end || secs < 0) {
    api->log(ctx, CF_LOG_ERROR, "param 'seconds' must be an integer >= 0");
    return CF_RESULT_FAIL;
  }
  struct timespec ts = {secs, 0};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
  return CF_RESULT_OK;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "sleep", "Sleep, then succeed",
  params, 1, run,
};
CF_PLUGIN_EXPORT(desc)
