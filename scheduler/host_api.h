/* The host side of the plugin ABI inside a `task-run` child: the context
 * a plugin sees and the function table it calls. */
#ifndef COSTFLOW_HOST_API_H
#define COSTFLOW_HOST_API_H

#include <jansson.h>
#include "costflow/plugin.h"
#include "costflow/store.h"
#include "host_params.h"

struct cf_plugin_ctx {
  struct cf_store *st;
  int64_t run_pk, attempt_pk;
  const char *dag_id, *task_id, *run_id, *home, *dag_dir;
  char logical_date[11];
  int try_number;
  json_t *params;             /* rendered params (object) */
  json_t *conf;               /* run conf (object) */
  char *scratch;              /* created on first use */
  struct cf_keeper kept;      /* strings handed to the plugin, freed after */
  char last_error[512];       /* last ERROR log line: the failure reason */
};

extern const struct cf_host_api cf_host_api_table;
void cf_plugin_ctx_release(struct cf_plugin_ctx *ctx);

#endif
