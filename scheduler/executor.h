/* The executor: drives runs of DAGs on a libuv loop, one child process
 * (`costflow task-run`) per task attempt.
 *
 * State lives in the store; the executor keeps a write-through copy of the
 * task instances of the runs it drives. A downstream task is launched in
 * the same loop iteration in which its last upstream attempt is reaped:
 * no polling on the hand-off path. */
#ifndef COSTFLOW_EXECUTOR_H
#define COSTFLOW_EXECUTOR_H

#include <stdint.h>
#include <uv.h>
#include "costflow/dag.h"
#include "costflow/store.h"

struct cf_exec;

struct cf_exec_opts {
  const char *home;          /* COSTFLOW_HOME (logs, scratch) */
  const char *exe;           /* path of the costflow binary for task-run */
  const char *plugin_path;   /* passed to children, may be NULL */
  int parallelism;           /* max attempts at once; 0 = 32 */
  int64_t kill_grace_ms;     /* SIGTERM -> SIGKILL delay; 0 = 5000 */
  int64_t log_limit;         /* bytes per attempt log; 0 = 64 MiB */
  int64_t min_free;          /* bytes that must stay free under home for
                                an attempt to start; 0 = 8 MiB, <0 = off */
};

/* Called once when a run reaches success or failed (or is left unfinished
 * because the executor is stopping: state is then "running"). */
typedef void (*cf_run_done_cb)(struct cf_exec *x, int64_t run_pk,
                               const char *state, void *data);

int  cf_exec_new(uv_loop_t *loop, struct cf_store *st,
                 const struct cf_exec_opts *opts, struct cf_exec **out);
/* Frees x; every run must be finished and every handle closed (call after
 * uv_run returns). */
void cf_exec_free(struct cf_exec *x);

/* Starts driving run `run_pk` of `dag` (which must outlive the run).
 * Task instances missing in the store are created; attempts left
 * "running" by a dead process are failed as orphaned and retried per
 * policy. `on_done` fires when the run ends. */
int cf_exec_start_run(struct cf_exec *x, struct cf_dag *dag, int64_t run_pk,
                      cf_run_done_cb on_done, void *data);

/* Drain: start no new attempts, let running ones finish; runs with
 * nothing running end as unfinished ("running") and resume at the next
 * start. cf_exec_stop may follow to interrupt what is still running. */
void cf_exec_drain(struct cf_exec *x);

/* Stop: no new attempts; running ones get SIGTERM (then SIGKILL after the
 * grace period) and their tasks are put back to be resumed later. */
void cf_exec_stop(struct cf_exec *x);
int  cf_exec_active_runs(const struct cf_exec *x);


#endif
