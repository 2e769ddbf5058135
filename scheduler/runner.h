/* What the foreground commands (run, backfill, rerun) share: open the
 * store and the DAG, lock runs, and drive them on a libuv loop until they
 * end. The daemon drives runs through the same executor. */
#ifndef COSTFLOW_RUNNER_H
#define COSTFLOW_RUNNER_H

#include <uv.h>
#include "cli.h"
#include "costflow/dag.h"
#include "costflow/plugin_host.h"
#include "costflow/store.h"
#include "executor.h"

struct cf_runner {
  struct cf_cli *cli;
  struct cf_store *st;
  struct cf_plugin_registry *reg;
  struct cf_dag *dag;
  uv_loop_t loop;
  int loop_init;
  struct cf_exec *x;
  uv_signal_t sigint, sigterm;
  int interrupted;
  int signals_closed;
  /* queue of runs to drive */
  int64_t *pending;
  size_t npending, next;
  int active, max_active;
  int failed, succeeded, unfinished;
  int *lock_fds;              /* one per pending run, -1 = not locked */
};

/* Opens $COSTFLOW_HOME/costflow.db (creating the home) and, if dag_arg is
 * not NULL, loads that DAG (printing every problem). Returns a CF_EXIT_*
 * code (0 on success). */
int  cf_runner_open(struct cf_runner *r, struct cf_cli *cli,
                    const char *dag_arg);
void cf_runner_close(struct cf_runner *r);
/* Opens the store only (for read-only listings). */
int  cf_runner_open_store(struct cf_runner *r, struct cf_cli *cli);
/* Resolves a DAG argument to its id without loading plugins: the id of a
 * YAML file, or the argument itself if it is an id. Malloc'd. */
char *cf_runner_dag_id(struct cf_cli *cli, const char *dag_arg);

/* Takes the per-run lock ($HOME/locks/DAG__DATE.lock, flock). Returns the
 * fd, or -1 if another process is driving that run. */
int cf_runner_lock(struct cf_runner *r, cf_date d);

/* ---- hand-off to a running daemon (`costflow scheduler`) ----------------
 * 1 if a daemon holds $HOME/scheduler.lock. */
int cf_runner_daemon_running(struct cf_cli *cli);
/* Tells the daemon to drive the runs of r->dag that are queued in the
 * store (the caller created or cleared them and released their locks).
 * Returns 0 if the daemon took them, a negative error otherwise (no
 * daemon, or it does not know the DAG: the caller then drives them). */
int cf_runner_handoff(struct cf_runner *r);
/* Waits (polling the store every 100 ms) until every run has ended, then
 * counts them in r->succeeded/failed/unfinished. A daemon that stops
 * meanwhile leaves the rest unfinished. */
void cf_runner_wait(struct cf_runner *r, const int64_t *run_pks, size_t n);

/* Drives the given runs (each already created, locks taken) with at most
 * max_active at once, until all end or SIGINT/SIGTERM. Returns 0. */
int cf_runner_drive(struct cf_runner *r, const int64_t *run_pks, size_t n,
                    int max_active);

/* Sees one run (already created or cleared) through to its end: handed to
 * the running scheduler when `daemon` is set and it accepts (then waited
 * for), else driven here under the per-run lock (*lock: the caller's fd or
 * -1; it may be released and re-taken). Prints the outcome and the task
 * table (or JSON). Returns CF_EXIT_OK if the run succeeded, else
 * CF_EXIT_FAIL. */
int cf_runner_see_through(struct cf_runner *r, const struct cf_run_row *run,
                          cf_date d, int *lock, int daemon, int json);

/* Prints the task instances of a run as a table, or as JSON. */
void cf_print_tasks(struct cf_store *st, int64_t run_pk, int json);
/* Parses "--conf KEY=VALUE" into obj. Returns 0 or -1 (bad form). */
int cf_conf_add(json_t *obj, const char *kv);
/* Warns on stderr of each conf key that is not a DAG param: a typo
 * (`landng=`) would otherwise leave the DAG's default in force unseen.
 * Not an error: plugins may read run conf keys of their own. */
void cf_conf_warn_unknown(const struct cf_dag *dag, const json_t *conf);

#endif
