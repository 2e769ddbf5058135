/* WAL checkpoints on the libuv thread pool (see wal_checkpoint.h). */
#include <errno.h>
#include <string.h>
#include "costflow/common.h"
#include "wal_checkpoint.h"

/* SQLite's own default threshold. */
#define CHECKPOINT_PAGES 1000
/* The WAL starts again from its beginning only when a write begins after
 * a checkpoint has copied every frame; with commits landing while the
 * pool thread checkpoints (its fsyncs take milliseconds), that may not
 * happen for a while. Past this length the loop's connection checkpoints
 * itself after a commit, as SQLite would by default, so the WAL stays
 * bounded; the pool thread has copied most frames already by then. */
#define CHECKPOINT_PAGES_MAX (4 * CHECKPOINT_PAGES)

struct cf_wal_checkpointer {
  uv_loop_t *loop;
  sqlite3 *db;                 /* the loop thread's connection */
  char *path;
  sqlite3 *own;                /* used by the pool thread only; opened there */
  uv_work_t req;
  int busy;                    /* a checkpoint is queued or running */
  int cancelled;               /* ...queued, and taken back (uv_cancel) */
  int next_at;                 /* WAL length (pages) for the next one */
  int last_pages;              /* WAL length after the previous commit */
};

/* Pool thread: one PASSIVE checkpoint on our own connection. A failure
 * (SQLITE_BUSY while another connection checkpoints, say) is left for the
 * next commit to retry. */
static void checkpoint_work(uv_work_t *req) {
  struct cf_wal_checkpointer *w = req->data;
  if (!w->own) {
    if (sqlite3_open_v2(w->path, &w->own,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
      sqlite3_close(w->own);
      w->own = NULL;
      return;
    }
    sqlite3_exec(w->own, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  }
  sqlite3_wal_checkpoint_v2(w->own, "main", SQLITE_CHECKPOINT_PASSIVE, NULL,
                            NULL);
}

static void checkpoint_done(uv_work_t *req, int status) {
  struct cf_wal_checkpointer *w = req->data;
  (void)status;
  w->busy = 0;
  w->cancelled = 0;
}

/* Called by SQLite after every commit on the loop's connection, with the
 * WAL's length in pages: queues a checkpoint on the pool; only past
 * CHECKPOINT_PAGES_MAX does it checkpoint here, on the loop. */
static int wal_committed(void *arg, sqlite3 *db, const char *schema,
                         int pages) {
  struct cf_wal_checkpointer *w = arg;
  if (pages < w->last_pages) w->next_at = CHECKPOINT_PAGES;  /* restarted */
  w->last_pages = pages;
  /* Past the bound the loop checkpoints itself, unless the pool is at it
   * right now. A checkpoint still queued behind other pool work (file
   * hashing, folder scans) is taken back first: waiting for it would let
   * the WAL grow for as long as the pool stays busy. */
  if (pages >= CHECKPOINT_PAGES_MAX &&
      (!w->busy || w->cancelled || uv_cancel((uv_req_t *)&w->req) == 0)) {
    if (w->busy) w->cancelled = 1;      /* its done callback still runs */
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
    return SQLITE_OK;
  }
  if (pages < w->next_at || w->busy) return SQLITE_OK;
  /* one checkpoint per CHECKPOINT_PAGES new frames at most, like SQLite */
  w->next_at = pages + CHECKPOINT_PAGES;
  w->req.data = w;
  if (uv_queue_work(w->loop, &w->req, checkpoint_work, checkpoint_done) == 0)
    w->busy = 1;
  return SQLITE_OK;
}

int cf_wal_checkpointer_start(uv_loop_t *loop, sqlite3 *db,
                              struct cf_wal_checkpointer **out) {
  *out = NULL;
  const char *path = sqlite3_db_filename(db, "main");
  if (!path || !*path || !sqlite3_threadsafe()) return -ENOTSUP;
  struct cf_wal_checkpointer *w = cf_calloc(1, sizeof *w);
  if (!w || !(w->path = cf_strdup(path))) {
    cf_free(w);
    return -ENOMEM;
  }
  w->loop = loop;
  w->db = db;
  w->next_at = CHECKPOINT_PAGES;
  sqlite3_wal_hook(db, wal_committed, w);   /* replaces the automatic one */
  *out = w;
  return 0;
}

void cf_wal_checkpointer_stop(struct cf_wal_checkpointer *w) {
  if (!w) return;
  sqlite3_wal_autocheckpoint(w->db, CHECKPOINT_PAGES);
  while (w->busy) uv_run(w->loop, UV_RUN_ONCE);
  sqlite3_close(w->own);
  cf_free(w->path);
  cf_free(w);
}
