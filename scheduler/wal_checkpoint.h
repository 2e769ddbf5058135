/* Checkpoints of the store's WAL, off the loop thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL
 * past 1,000 pages, in the committing connection, with two fsyncs: on the
 * executor's connection that is a 5-15 ms stall of whatever hand-off
 * happens to commit then. Instead, the loop's connection stops
 * checkpointing on commit, and a PASSIVE checkpoint (it never blocks
 * writers or readers) runs on the libuv thread pool, on a connection of
 * its own, each time the WAL has grown by 1,000 pages. Should the WAL
 * still reach 4,000 pages (it restarts from its beginning only after a
 * checkpoint that no commit overlapped), the loop's connection
 * checkpoints after that commit itself, as SQLite would have.
 * Durability is unchanged: commits still go to the WAL exactly as before. */
#ifndef COSTFLOW_WAL_CHECKPOINT_H
#define COSTFLOW_WAL_CHECKPOINT_H

#include <sqlite3.h>
#include <uv.h>

struct cf_wal_checkpointer;

/* Takes over checkpointing of db (the loop thread's connection). Returns
 * 0, or a negative error when it cannot (an in-memory database, or SQLite
 * built without threads): db then keeps checkpointing on commit and *out
 * is NULL. */
int cf_wal_checkpointer_start(uv_loop_t *loop, sqlite3 *db,
                              struct cf_wal_checkpointer **out);

/* Gives checkpointing back to db (automatic, as SQLite's default) and
 * frees w (NULL is fine). A checkpoint in flight is waited for, running
 * the loop until it reports: call it after uv_run has returned. */
void cf_wal_checkpointer_stop(struct cf_wal_checkpointer *w);

#endif
