/* Helpers the gold-side stage plugins share: where the warehouse is, and
 * which usage dates an upstream task published. */
#ifndef CFB_GOLD_PLUGIN_H
#define CFB_GOLD_PLUGIN_H

#include <stddef.h>
#include "costflow/plugin.h"

/* A sorted, deduplicated list of valid YYYY-MM-DD strings. */
struct cfb_dates { char (*v)[11]; size_t n; };

/* Parses a JSON array of dates (as set in the `partitions` output).
 * Returns 0, or CF_EINVALID for anything else. */
int  cfb_dates_from_json(const char *json, struct cfb_dates *out);
int  cfb_dates_add(struct cfb_dates *d, const char *date);  /* keeps order */
void cfb_dates_release(struct cfb_dates *d);
/* JSON array text of the dates; caller frees (NULL on OOM). */
char *cfb_dates_to_json(const struct cfb_dates *d);

/* Absolute path of a param naming a file under COSTFLOW_HOME: the param's
 * value if set (relative values are resolved against home), else
 * home/deflt. Caller frees. */
char *cfb_home_path(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                    const char *param, const char *deflt);

/* The dates this task works on: param `dates` (a list) if given, else the
 * JSON array in output `key` of task param `from_task` (default
 * deflt_task). Missing output gives an empty list and a warning. */
int cfb_task_dates(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                   const char *deflt_task, const char *key,
                   struct cfb_dates *out);

#endif
