/* The store: SQLite in WAL mode, the single source of truth for runs, task
 * instances, attempts, outputs, data-quality results, partitions, sensor
 * files and events. Every state change is one short BEGIN IMMEDIATE
 * transaction. Schema: core/store_schema.c (versioned migrations).
 *
 * Times are stored twice: ISO-8601 UTC text for people, and integer
 * microseconds since the epoch (`*_us`) for arithmetic. */
#ifndef COSTFLOW_STORE_H
#define COSTFLOW_STORE_H

#include <stdint.h>
#include <sqlite3.h>
#include "costflow/common.h"

struct cf_store;

/* Opens (creating and migrating) the store at `path` (":memory:" for
 * tests). Returns 0, or CF_ESTORE with a malloc'd *errmsg. */
int  cf_store_open(const char *path, struct cf_store **out, char **errmsg);
void cf_store_close(struct cf_store *st);
sqlite3 *cf_store_db(struct cf_store *st);       /* for read queries */
/* A prepared statement for `sql`, kept by the store and reused while the
 * same pointer (a string literal or static array) comes back: for queries
 * run very often, e.g. once per file on the loop thread. Give it back
 * with cf_store_stmt_done (it is reset, or finalized if not kept). NULL
 * if it does not prepare. */
sqlite3_stmt *cf_store_stmt(struct cf_store *st, const char *sql);
void cf_store_stmt_done(struct cf_store *st, sqlite3_stmt *s);
const char *cf_store_errmsg(struct cf_store *st);
int  cf_store_schema_version(struct cf_store *st);

/* 1 if the store's disk reserve is in place (re-creating it when space
 * has come back); 0 if it was used up by a full disk. Callers start no
 * new work while it is 0, so the store can always record outcomes. */
int cf_store_reserve_ok(struct cf_store *st);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int cf_store_begin(struct cf_store *st);
int cf_store_commit(struct cf_store *st);
int cf_store_rollback(struct cf_store *st);

/* Run states: queued, running, success, failed.
 * Task states: none, queued, running, success, failed, up_for_retry,
 * upstream_failed, skipped (Airflow's vocabulary). */
struct cf_run_row {
  int64_t id;
  char *dag_id, *run_id, *kind, *state, *conf;  /* conf: JSON object */
  cf_date logical_date;
  int64_t created_us, start_us, end_us;           /* 0 = unset */
};

struct cf_ti_row {
  int64_t id, run_pk;
  char *task_id, *state, *plugin, *params;        /* params: rendered JSON */
  char *reason;                                   /* NULL = none */
  int try_number, max_tries;
  int exit_code, signal;                          /* -1 = unset */
  int64_t start_us, end_us, next_retry_us;        /* 0 = unset */
  int64_t pid, pid_start;                         /* 0 = none */
};

void cf_run_row_release(struct cf_run_row *r);
void cf_ti_row_release(struct cf_ti_row *t);
void cf_ti_rows_free(struct cf_ti_row *v, size_t n);
void cf_run_rows_free(struct cf_run_row *v, size_t n);

/* Creates the run for (dag, date) unless it exists: *created says which.
 * Either way *out holds the row. Unique per (dag_id, logical_date). */
int cf_store_run_create(struct cf_store *st, const char *dag_id, cf_date d,
                        const char *kind, const char *conf_json,
                        struct cf_run_row *out, int *created);
int cf_store_run_get(struct cf_store *st, const char *dag_id, cf_date d,
                     struct cf_run_row *out);       /* CF_ENOTFOUND */
int cf_store_run_get_pk(struct cf_store *st, int64_t pk,
                        struct cf_run_row *out);
/* Runs of a DAG, newest logical date first; limit <= 0 means all. */
int cf_store_run_list(struct cf_store *st, const char *dag_id, int limit,
                      struct cf_run_row **out, size_t *n);
int cf_store_run_set_state(struct cf_store *st, int64_t pk,
                           const char *state);
/* Replaces the run's conf (used when an operator passes --conf again). */
int cf_store_run_set_conf(struct cf_store *st, int64_t pk, const char *conf);

/* Task instances. ensure() inserts (state none) if missing. */
int cf_store_ti_ensure(struct cf_store *st, int64_t run_pk,
                       const char *task_id, const char *plugin,
                       int max_tries);
int cf_store_ti_list(struct cf_store *st, int64_t run_pk,
                     struct cf_ti_row **out, size_t *n);
int cf_store_ti_get(struct cf_store *st, int64_t ti_pk,
                    struct cf_ti_row *out);
/* Writes every mutable field of t (state, tries, times, exit, reason,
 * pid, params). */
int cf_store_ti_update(struct cf_store *st, const struct cf_ti_row *t);

/* Attempts: one row per try of a task instance. */
int cf_store_attempt_start(struct cf_store *st, const struct cf_ti_row *t,
                           const char *log_path, int64_t *attempt_pk);
int cf_store_attempt_set_pid(struct cf_store *st, int64_t attempt_pk,
                             int64_t pid, int64_t pid_start);
/* Hand-off timestamps (*_us, 0 = unknown): child spawned, exit reaped. */
int cf_store_attempt_set_times(struct cf_store *st, int64_t attempt_pk,
                               int64_t spawn_us, int64_t exit_us);
int cf_store_attempt_finish(struct cf_store *st, int64_t attempt_pk,
                            const char *state, int exit_code, int sig,
                            const char *reason);
/* The attempt of task instance ti_pk left "running" by a driver that
 * died: failed with CF_ORPHANED_REASON, ended at end_us. */
#define CF_ORPHANED_REASON "orphaned: its scheduler process died"
int cf_store_attempts_orphaned(struct cf_store *st, int64_t ti_pk,
                               int64_t end_us);
/* The attempt's task instance id, for `task-run`. */
int cf_store_attempt_ti(struct cf_store *st, int64_t attempt_pk,
                        int64_t *ti_pk, int *try_number, char **log_path);

/* Task outputs (small key/values for downstream tasks). */
int cf_store_output_set(struct cf_store *st, int64_t run_pk,
                        const char *task_id, const char *key,
                        const char *value);
int cf_store_output_get(struct cf_store *st, int64_t run_pk,
                        const char *task_id, const char *key, char **value);

/* Data quality, partitions, events. */
int cf_store_dq_insert(struct cf_store *st, int64_t attempt_pk,
                       int64_t run_pk, const char *task_id, const char *rule,
                       const char *severity, int64_t rows_checked,
                       int64_t rows_failed, int passed, const char *samples);
int cf_store_partition_record(struct cf_store *st, const char *dataset,
                              const char *key, int64_t row_count,
                              const char *checksum, const char *inputs,
                              int64_t run_pk, const char *task_id,
                              int64_t *version);
int cf_store_event(struct cf_store *st, const char *dag_id, int64_t run_pk,
                   const char *task_id, const char *kind,
                   const char *detail_json);

/* Current time in microseconds since the epoch (wall clock). */
int64_t cf_store_now_us(void);
/* ISO text of a *_us value ("" for 0), into out[32]. */
void cf_us_to_iso(int64_t us, char out[32]);

#endif
