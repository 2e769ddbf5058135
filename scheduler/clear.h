/* Clearing task instances so they run again (rerun, backfill --reprocess).
 * A cleared task keeps its try count and gets its full retry budget back,
 * as in Airflow; its outputs are dropped. */
#ifndef COSTFLOW_CLEAR_H
#define COSTFLOW_CLEAR_H

#include "costflow/dag.h"
#include "costflow/store.h"

/* Clears the tasks of run_pk whose index has sel[i] != 0, in one
 * transaction, and puts the run back to queued. The caller holds the run
 * lock: a selected task still "running" was left by a dead driver, so what
 * is left of its attempt is killed and the attempt failed as orphaned.
 * Returns 0 or an error. */
int cf_clear_tasks(struct cf_store *st, const struct cf_dag *dag,
                   int64_t run_pk, const unsigned char *sel);
/* Marks in sel every task downstream of task i (transitively). */
void cf_select_downstream(const struct cf_dag *dag, size_t i,
                          unsigned char *sel);

#endif
