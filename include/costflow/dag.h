/* The DAG model and its YAML loader.
 *
 * A DAG file is loaded whole or not at all: cf_dag_load either returns a
 * fully validated DAG or collects every problem found into `diags` as
 * FILE:LINE:COL messages and returns CF_EINVALID (nothing half-built
 * escapes). File format: README.md "DAG files" and docs/dag-format.md. */
#ifndef COSTFLOW_DAG_H
#define COSTFLOW_DAG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "costflow/common.h"
#include "costflow/diag.h"

struct cf_cron;
struct cf_tz;
struct cf_plugin;

enum cf_trigger_rule {
  CF_TRIGGER_ALL_SUCCESS = 0,   /* default */
  CF_TRIGGER_ALL_DONE,
  CF_TRIGGER_ALL_FAILED,
  CF_TRIGGER_ONE_SUCCESS,
  CF_TRIGGER_ONE_FAILED,
  CF_TRIGGER_NONE_FAILED,
  CF_TRIGGER_ALWAYS
};
const char *cf_trigger_rule_name(enum cf_trigger_rule r);

struct cf_task {
  char *id;                     /* [A-Za-z0-9_][A-Za-z0-9_.-]* */
  int line, col;                /* where the task's key is in the file */
  char *plugin;                 /* plugin name */
  char **deps;                  /* upstream task ids, as written */
  size_t ndeps;
  size_t *dep_idx;              /* upstream indexes into dag->tasks */
  size_t *down_idx;             /* downstream indexes into dag->tasks */
  size_t ndown;
  json_t *params;               /* JSON object, templates NOT expanded;
                                   plugin defaults filled in */
  int retries;                  /* extra tries after the first */
  int64_t retry_delay_ms;
  int retry_exponential;        /* 1: delay * 2^(try-1), capped */
  int64_t max_retry_delay_ms;
  int64_t timeout_ms;           /* 0 = none */
  enum cf_trigger_rule trigger_rule;
  char *pool;                   /* NULL = no pool */
};

struct cf_dag {
  char *id;
  char *description;            /* may be NULL */
  char *path;                   /* the file it came from */
  char *dir;                    /* folder of that file */
  char sha256[65];              /* hash of the file's bytes */
  char *schedule;               /* cron text or macro; NULL = manual only */
  struct cf_cron *cron;         /* parsed schedule, NULL if none */
  char *timezone;               /* IANA name, default "UTC" */
  struct cf_tz *tz;
  cf_date start_date;           /* valid if has_start_date */
  int has_start_date;
  cf_date end_date;             /* valid if has_end_date */
  int has_end_date;
  int catchup;                  /* default 0 */
  int max_active_runs;          /* default 16 */
  json_t *params;               /* DAG-level params ({{ params.X }}) */
  json_t *trigger;              /* `trigger:` section as JSON, or NULL */
  char *deadline;               /* "HH:MM" in the DAG's zone, or NULL */
  json_t *pools;                /* {name: slots}, or NULL */
  struct cf_task *tasks;
  size_t ntasks;
  size_t *topo;                 /* task indexes in topological order */
  size_t *topo_pos;             /* task index -> its position in topo */
  size_t nedges;                /* dependencies: the sum of tasks' ndown */
};

/* Looks up a plugin descriptor by name for schema checks. Returns NULL
 * and sets *errmsg (malloc'd) when unknown or refused (e.g. ABI). */
typedef const struct cf_plugin *(*cf_plugin_lookup_fn)(void *data,
    const char *name, char **errmsg);

struct cf_dag_load_opts {
  size_t max_file_size;         /* 0 = default 1 MiB */
  cf_plugin_lookup_fn lookup;   /* NULL = plugin names not checked */
  void *lookup_data;
};

/* Loads and validates one DAG file. Returns 0 and *out (free with
 * cf_dag_free), or a negative error with every problem in diags. */
int  cf_dag_load(const char *path, const struct cf_dag_load_opts *opts,
                 struct cf_dag **out, struct cf_diags *diags);
void cf_dag_free(struct cf_dag *dag);
/* Index of task `id`, or -1. */
long cf_dag_task_index(const struct cf_dag *dag, const char *id);

/* Finds DAG `name_or_path` : a path to a .yaml/.yml file, or a dag id
 * looked up among the *.yaml / *.yml files of dags_dir (by their `dag:`
 * key). Returns 0 and a malloc'd path, CF_ENOTFOUND otherwise. */
int cf_dag_resolve(const char *dags_dir, const char *name_or_path,
                   char **path_out);

/* ---- templates ---------------------------------------------------------
 * {{ ds }} {{ ds_nodash }} {{ yyyy }} {{ mm }} {{ dd }} {{ prev_ds }}
 * {{ next_ds }} {{ params.NAME }} {{ env.NAME }} {{ run_id }} {{ dag }}
 * {{ task }}. Whitespace inside the braces is optional. */
struct cf_template_vars {
  const char *dag, *task, *run_id;
  cf_date ds, prev_ds, next_ds;
  const json_t *params;         /* DAG params overridden by run conf */
};

/* Checks that every {{ name }} in `text` is known (params.X must be a key
 * of `params`, if params is not NULL). Returns 0 or CF_EINVALID with a
 * malloc'd *errmsg. */
int cf_template_check(const char *text, const json_t *params, char **errmsg);
/* Renders `text`. Returns 0 and a malloc'd *out, or CF_EINVALID with
 * *errmsg (unknown name, missing env var, unterminated braces). */
int cf_template_render(const char *text, const struct cf_template_vars *v,
                       char **out, char **errmsg);
/* Renders every string inside a JSON value (recursively) into a new
 * value. Returns NULL with *errmsg on error. */
json_t *cf_template_render_json(const json_t *in,
                                const struct cf_template_vars *v,
                                char **errmsg);

/* Previous/next logical date of the DAG's schedule around `d` (for
 * prev_ds/next_ds and backfill): for a daily or unscheduled DAG d-1/d+1.
 * Returns 0 or CF_ENEVER. */
int cf_dag_prev_date(const struct cf_dag *dag, cf_date d, cf_date *out);
int cf_dag_next_date(const struct cf_dag *dag, cf_date d, cf_date *out);
/* 1 if the DAG's schedule has a fire instant whose logical date is d
 * (always 1 without a schedule). */
int cf_dag_covers_date(const struct cf_dag *dag, cf_date d);

#endif
