/* Clearing task instances (see clear.h). */
#include <string.h>
#include "clear.h"
#include "proc_group.h"

/* A task left "running" by a driver that died (the caller holds the run
 * lock, so nobody drives it): stop what is left of its attempt and close
 * the attempt row, as the executor does when it resumes such a run. */
static int close_orphan(struct cf_store *st, const struct cf_dag *dag,
                        int64_t run_pk, const struct cf_ti_row *t) {
  cf_proc_kill_orphan(t->pid, t->pid_start);
  int rc = cf_store_attempts_orphaned(st, t->id, cf_store_now_us());
  if (rc == 0)
    rc = cf_store_event(st, dag->id, run_pk, t->task_id, "orphaned", NULL);
  return rc;
}

void cf_select_downstream(const struct cf_dag *dag, size_t i,
                          unsigned char *sel) {
  for (size_t k = 0; k < dag->tasks[i].ndown; k++) {
    size_t d = dag->tasks[i].down_idx[k];
    if (!sel[d]) {
      sel[d] = 1;
      cf_select_downstream(dag, d, sel);
    }
  }
}

int cf_clear_tasks(struct cf_store *st, const struct cf_dag *dag,
                   int64_t run_pk, const unsigned char *sel) {
  struct cf_ti_row *v = NULL;
  size_t n = 0;
  int rc = cf_store_begin(st);
  if (rc < 0) return rc;
  for (size_t i = 0; i < dag->ntasks && rc == 0; i++)
    rc = cf_store_ti_ensure(st, run_pk, dag->tasks[i].id,
                            dag->tasks[i].plugin, dag->tasks[i].retries + 1);
  if (rc == 0) rc = cf_store_ti_list(st, run_pk, &v, &n);
  for (size_t j = 0; j < n && rc == 0; j++) {
    long i = cf_dag_task_index(dag, v[j].task_id);
    if (i < 0 || !sel[i]) continue;
    struct cf_ti_row *t = &v[j];
    if (!strcmp(t->state, "running") &&
        (rc = close_orphan(st, dag, run_pk, t)) < 0)
      break;
    cf_free(t->state);
    t->state = cf_strdup("none");
    cf_free(t->reason);
    t->reason = NULL;
    t->max_tries = t->try_number + dag->tasks[i].retries + 1;
    t->start_us = t->end_us = t->next_retry_us = 0;
    t->exit_code = t->signal = -1;
    t->pid = t->pid_start = 0;
    rc = cf_store_ti_update(st, t);
    if (rc == 0) {
      sqlite3_stmt *s = NULL;
      if (sqlite3_prepare_v2(cf_store_db(st), "DELETE FROM task_outputs "
                             "WHERE run_pk=? AND task_id=?", -1, &s,
                             NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, run_pk);
        sqlite3_bind_text(s, 2, t->task_id, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) rc = CF_ESTORE;
      }
      sqlite3_finalize(s);
    }
  }
  cf_ti_rows_free(v, n);
  if (rc == 0) rc = cf_store_run_set_state(st, run_pk, "queued");
  if (rc == 0) rc = cf_store_event(st, dag->id, run_pk, NULL, "cleared",
                                   NULL);
  if (rc < 0) {
    cf_store_rollback(st);
    return rc;
  }
  return cf_store_commit(st);
}
