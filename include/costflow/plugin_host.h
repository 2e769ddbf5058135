/* Host side of the plugin ABI: finding, loading and listing plugins.
 * Plugins are loaded only from the configured plugin directories (never a
 * path a DAG names): $COSTFLOW_PLUGIN_PATH (colon-separated), then the
 * build tree's plugin folder, then <prefix>/lib/costflow/plugins. */
#ifndef COSTFLOW_PLUGIN_HOST_H
#define COSTFLOW_PLUGIN_HOST_H

#include "costflow/plugin.h"

struct cf_plugin_registry;

/* `dirs` is a colon-separated list or NULL for the default search path. */
int  cf_registry_new(const char *dirs, struct cf_plugin_registry **out);
void cf_registry_free(struct cf_plugin_registry *r);
/* The search path actually used, colon-separated (owned by r). */
const char *cf_registry_path(const struct cf_plugin_registry *r);
/* Loads (once, then cached) plugin `name`. Returns the descriptor or NULL
 * with a malloc'd *errmsg: unknown plugin, dlopen error, missing symbol,
 * ABI mismatch ("plugin X was built for ABI 2, host has ABI 1"). */
const struct cf_plugin *cf_registry_get(struct cf_plugin_registry *r,
                                        const char *name, char **errmsg);
/* Loads every plugin in the path (first of a name wins) and returns them
 * sorted by name (array owned by r). Broken files are reported through
 * `on_error` (may be NULL) and skipped. */
int cf_registry_list(struct cf_plugin_registry *r,
                     const struct cf_plugin *const **out, size_t *n,
                     void (*on_error)(const char *path, const char *msg));
/* Adapter with the cf_plugin_lookup_fn signature (data = registry). */
const struct cf_plugin *cf_registry_lookup(void *registry, const char *name,
                                           char **errmsg);
const char *cf_param_type_name(enum cf_param_type t);

#endif
