/* Fake plugin descriptors for DAG-loader tests and the DAG fuzz target:
 * shell, sleep, noop, typed (one param of each type), and "oldabi", which
 * is refused like a plugin built for another ABI. */
#ifndef CF_FAKE_PLUGINS_H
#define CF_FAKE_PLUGINS_H

#include <string.h>
#include "costflow/common.h"
#include "costflow/plugin.h"

static const struct cf_param_spec shell_params[] = {
  {"command", CF_PARAM_STRING, 1, NULL, "shell command"},
  {"env", CF_PARAM_MAP, 0, NULL, "extra environment"},
  {"cwd", CF_PARAM_STRING, 0, NULL, "working directory"},
};
static const struct cf_param_spec sleep_params[] = {
  {"seconds", CF_PARAM_INT, 1, NULL, "how long"},
};
static const struct cf_param_spec typed_params[] = {
  {"flag", CF_PARAM_BOOL, 0, "false", NULL},
  {"wait", CF_PARAM_DURATION, 0, "30s", NULL},
  {"paths", CF_PARAM_LIST, 0, NULL, NULL},
  {"extra", CF_PARAM_JSON, 0, "{\"a\": 1}", NULL},
  {"count", CF_PARAM_INT, 0, "3", NULL},
};
static const struct cf_plugin shell = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "shell", "run a command", shell_params, 3, NULL};
static const struct cf_plugin sleepp = {CF_PLUGIN_ABI,
  sizeof(struct cf_plugin), "sleep", "sleep", sleep_params, 1, NULL};
static const struct cf_plugin noop = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "noop", "nothing", NULL, 0, NULL};
static const struct cf_plugin typed = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "typed", "typed params", typed_params, 5, NULL};

static const struct cf_plugin *fake_plugin_lookup(void *data, const char *name,
                                      char **errmsg) {
  (void)data;
  if (!strcmp(name, "shell")) return &shell;
  if (!strcmp(name, "sleep")) return &sleepp;
  if (!strcmp(name, "noop")) return &noop;
  if (!strcmp(name, "typed")) return &typed;
  if (!strcmp(name, "oldabi"))
    *errmsg = cf_strdup("plugin 'oldabi' was built for ABI 2, this "
                        "costflow has ABI 1");
  else
    *errmsg = cf_asprintf("unknown plugin '%s'", name);
  return NULL;
}

#endif
