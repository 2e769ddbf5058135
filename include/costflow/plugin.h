/* costflow stage plugin ABI: the only header a plugin includes.
 *
 * How to write a plugin (see examples/hello_plugin/ and plugins/shell/):
 *   1. Declare the params you accept in a `struct cf_param_spec[]`.
 *   2. Write `int run(struct cf_plugin_ctx *, const struct cf_host_api *)`
 *      returning CF_RESULT_OK / FAIL / RETRY / SKIP.
 *   3. Fill a `struct cf_plugin` and export it with CF_PLUGIN_EXPORT(desc).
 *   4. Build it as <name>.so into a plugin directory; the file name must be
 *      the plugin name.
 *
 * The host loads the .so with dlopen(RTLD_NOW|RTLD_LOCAL), reads the
 * `cf_plugin_abi` constant first and refuses a different ABI level, naming
 * both; then calls `cf_plugin_entry()` for the descriptor.
 *
 * Each task attempt runs in its own child process, so a plugin may block,
 * crash or leak without harming the scheduler. Everything a plugin needs
 * from the host comes through `struct cf_host_api`; the struct is
 * append-only (never reordered): test `api->size` before using an entry
 * added after the plugin was built. */
#ifndef COSTFLOW_PLUGIN_H
#define COSTFLOW_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define CF_PLUGIN_ABI 1

enum cf_result {
  CF_RESULT_OK = 0,     /* task succeeded */
  CF_RESULT_FAIL = 1,   /* task failed; retried per the task's policy */
  CF_RESULT_RETRY = 2,  /* not ready yet (e.g. input missing): wait, retry */
  CF_RESULT_SKIP = 3    /* nothing to do: task and its dependents skip */
};

enum cf_param_type {
  CF_PARAM_STRING = 1,  /* scalar text; templates expanded */
  CF_PARAM_INT,         /* integer */
  CF_PARAM_BOOL,        /* true / false only (YAML 1.2) */
  CF_PARAM_DURATION,    /* "30s", "5m", "1h", ... */
  CF_PARAM_LIST,        /* sequence of scalars */
  CF_PARAM_MAP,         /* mapping of key -> scalar */
  CF_PARAM_JSON         /* any YAML value, passed as JSON */
};

struct cf_param_spec {
  const char *name;
  enum cf_param_type type;
  int required;               /* 1: must be given in the DAG */
  const char *default_value;  /* text form, or NULL */
  const char *help;
};

enum cf_log_level { CF_LOG_DEBUG = 0, CF_LOG_INFO, CF_LOG_WARN, CF_LOG_ERROR };

struct cf_plugin_ctx;         /* opaque, owned by the host */

struct cf_host_api {
  uint32_t abi;               /* host ABI level (CF_PLUGIN_ABI) */
  uint32_t size;              /* sizeof(struct cf_host_api) of the host */

  /* Memory: everything a plugin hands back to the host, and everything it
   * wants leak-checked, goes through these. */
  void *(*alloc)(size_t n);
  void *(*realloc)(void *p, size_t n);
  void  (*free)(void *p);

  /* Params, already rendered (templates expanded). `param` returns the
   * scalar text of a param (the default if not given), NULL if absent or
   * not a scalar. `param_json` returns any param as JSON text (NULL if
   * absent). `param_count`/`param_item`/`param_key` walk a LIST or MAP:
   * item i's scalar text, and for a MAP its key. Strings stay owned by the
   * host and live until run() returns. */
  const char *(*param)(struct cf_plugin_ctx *, const char *name);
  const char *(*param_json)(struct cf_plugin_ctx *, const char *name);
  size_t      (*param_count)(struct cf_plugin_ctx *, const char *name);
  const char *(*param_item)(struct cf_plugin_ctx *, const char *name,
                            size_t i);
  const char *(*param_key)(struct cf_plugin_ctx *, const char *name,
                           size_t i);

  /* Identity of this attempt. */
  const char *(*dag_id)(struct cf_plugin_ctx *);
  const char *(*task_id)(struct cf_plugin_ctx *);
  const char *(*run_id)(struct cf_plugin_ctx *);
  const char *(*logical_date)(struct cf_plugin_ctx *);   /* YYYY-MM-DD */
  int         (*try_number)(struct cf_plugin_ctx *);     /* 1, 2, ... */
  /* Run configuration (`--conf KEY=VALUE`), NULL if not set. */
  const char *(*conf)(struct cf_plugin_ctx *, const char *key);

  /* Paths: COSTFLOW_HOME, the folder of the DAG file, and a scratch folder
   * private to this attempt (created on demand, removed by the host after
   * a successful attempt). */
  const char *(*home)(struct cf_plugin_ctx *);
  const char *(*dag_dir)(struct cf_plugin_ctx *);
  const char *(*scratch_dir)(struct cf_plugin_ctx *);

  /* Log one line to the attempt's log (printf format). */
  void (*log)(struct cf_plugin_ctx *, enum cf_log_level level,
              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

  /* Small key/values that downstream tasks of the same run can read.
   * output_get reads what task `task_id` of this run set (NULL if none);
   * the string is owned by the host. Returns 0 or a negative error. */
  int         (*output_set)(struct cf_plugin_ctx *, const char *key,
                            const char *value);
  const char *(*output_get)(struct cf_plugin_ctx *, const char *task_id,
                            const char *key);

  /* Data-quality result of one rule for this attempt. severity is
   * "critical" or "warning"; samples_json a JSON array (or NULL). */
  int (*dq_record)(struct cf_plugin_ctx *, const char *rule,
                   const char *severity, int64_t rows_checked,
                   int64_t rows_failed, int passed, const char *samples_json);

  /* Record that partition `partition_key` of `dataset` was published with
   * this row count, checksum (hex) and input file hashes (JSON array).
   * Returns the new version number (>= 1) or a negative error. */
  int64_t (*partition_record)(struct cf_plugin_ctx *, const char *dataset,
                              const char *partition_key, int64_t row_count,
                              const char *checksum, const char *inputs_json);

  /* Record one event in the store's event log (kind, JSON detail). */
  int (*event)(struct cf_plugin_ctx *, const char *kind,
               const char *detail_json);
};

struct cf_plugin {
  uint32_t abi;                        /* CF_PLUGIN_ABI at build time */
  uint32_t size;                       /* sizeof(struct cf_plugin) */
  const char *name;                    /* must equal the .so base name */
  const char *description;
  const struct cf_param_spec *params;
  size_t nparams;
  /* Run one attempt. Returns an enum cf_result. */
  int (*run)(struct cf_plugin_ctx *ctx, const struct cf_host_api *api);
};

typedef const struct cf_plugin *(*cf_plugin_entry_fn)(void);

#define CF_PLUGIN_EXPORT(desc)                                         \
  __attribute__((visibility("default")))                               \
  const uint32_t cf_plugin_abi = CF_PLUGIN_ABI;                        \
  __attribute__((visibility("default")))                               \
  const struct cf_plugin *cf_plugin_entry(void) { return &(desc); }

#endif
