/* The off-loop WAL checkpointer (scheduler/wal_checkpoint.c) on a real
 * file store in WAL mode and a real libuv loop: commits on the loop's
 * connection never checkpoint, the thread pool does, the WAL then starts
 * again from its beginning, and stopping hands checkpoints back. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include "cf_test.h"
#include "costflow/common.h"
#include "costflow/store.h"
#include "store_fixture.h"
#include "wal_checkpoint.h"

#define BLOB 65536               /* bytes per commit: 16 pages and more */
#define COMMITS 90               /* ~1,600 WAL pages: past 1,000, < 4,000 */

static struct cf_store *open_store(char *path) {
  struct cf_store *st = fx_store_open(path);
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_exec(cf_store_db(st),
                                       "CREATE TABLE filler(b BLOB)", NULL,
                                       NULL, NULL));
  return st;
}

/* A file store with a filler table, a loop, and a checkpointer on both. */
struct walfx {
  char path[32];
  struct cf_store *st;
  sqlite3 *db;
  uv_loop_t loop;
  struct cf_wal_checkpointer *w;
};

static void walfx_start(struct walfx *f) {
  snprintf(f->path, sizeof f->path, "/tmp/cf-walck-XXXXXX");
  f->st = open_store(f->path);
  f->db = cf_store_db(f->st);
  CF_ASSERT_EQ(0, uv_loop_init(&f->loop));
  CF_ASSERT_EQ(0, cf_wal_checkpointer_start(&f->loop, f->db, &f->w));
  CF_ASSERT(f->w != NULL);
}

/* Stops the checkpointer (if the test has not: NULL is fine), closes
 * the loop and the store, and removes its files. */
static void walfx_end(struct walfx *f) {
  cf_wal_checkpointer_stop(f->w);
  CF_ASSERT_EQ(0, uv_loop_close(&f->loop));
  cf_store_close(f->st);
  fx_store_remove(f->path);
}

static long long file_size(const char *path, const char *suffix) {
  char p[96];
  struct stat sb;
  snprintf(p, sizeof p, "%s%s", path, suffix);
  return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static long long page_size(sqlite3 *db) {
  sqlite3_stmt *s = NULL;
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s,
                                             NULL));
  CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(s));
  long long n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return n;
}

/* COMMITS transactions of BLOB random bytes each, one per commit. */
static void fill(sqlite3 *db) {
  for (int i = 0; i < COMMITS; i++)
    CF_ASSERT_EQ(SQLITE_OK, sqlite3_exec(db, "INSERT INTO filler VALUES"
                                         "(randomblob(65536))", NULL, NULL,
                                         NULL));
}

/* Holds the pool's only thread until opened, so that what the checkpointer
 * queues waits and what the loop's commits do can be seen alone. */
struct gate {
  uv_work_t req;
  uv_sem_t started, open;
};

static void gate_work(uv_work_t *req) {
  struct gate *g = req->data;
  uv_sem_post(&g->started);
  uv_sem_wait(&g->open);
}

static void gate_done(uv_work_t *req, int status) {
  (void)req;
  (void)status;
}

/* A failed assertion exits with the gate perhaps still shut, and libuv's
 * exit-time cleanup joins its threads: open it first (atexit handlers run
 * before the libraries' destructors), or the test would hang. */
static struct gate gate;
static void open_gate_at_exit(void) { uv_sem_post(&gate.open); }

/* Queues the gate on the pool's only thread and waits until it holds it. */
static void shut_gate(uv_loop_t *loop) {
  CF_ASSERT_EQ(0, uv_sem_init(&gate.started, 0));
  CF_ASSERT_EQ(0, uv_sem_init(&gate.open, 0));
  CF_ASSERT_EQ(0, atexit(open_gate_at_exit));
  gate.req.data = &gate;
  CF_ASSERT_EQ(0, uv_queue_work(loop, &gate.req, gate_work, gate_done));
  uv_sem_wait(&gate.started);
}

static void timer_fired(uv_timer_t *t) { *(int *)t->data = 1; }

CF_TEST(checkpoints_run_on_the_pool_not_in_commits) {
  CF_ASSERT_EQ(0, setenv("UV_THREADPOOL_SIZE", "1", 1));  /* before use */
  struct walfx f;
  walfx_start(&f);
  shut_gate(&f.loop);

  long long db0 = file_size(f.path, "");
  CF_ASSERT(db0 > 0);
  fill(f.db);
  /* a WAL file is a 32-byte header, then frames of 24 bytes + a page */
  long long frames =
      (file_size(f.path, "-wal") - 32) / (page_size(f.db) + 24);
  CF_ASSERT(frames > 1000 && frames < 4000);   /* one pool checkpoint due */
  /* No commit checkpointed on the loop's connection (SQLite's automatic
   * checkpoint would have copied the pages into the file at 1,000). */
  CF_ASSERT_EQ(db0, file_size(f.path, ""));

  /* the loop keeps serving its timers while the checkpoint waits */
  int fired = 0;
  uv_timer_t timer;
  CF_ASSERT_EQ(0, uv_timer_init(&f.loop, &timer));
  timer.data = &fired;
  CF_ASSERT_EQ(0, uv_timer_start(&timer, timer_fired, 1, 0));
  /* NOWAIT: with the queued work alive, a ONCE run after the timer has
   * fired would wait for that work forever */
  while (!fired) uv_run(&f.loop, UV_RUN_NOWAIT);
  uv_close((uv_handle_t *)&timer, NULL);

  /* the pool thread is free: the queued checkpoint copies the pages */
  uv_sem_post(&gate.open);
  uv_run(&f.loop, UV_RUN_DEFAULT);      /* until the gate and it reported */
  CF_ASSERT(file_size(f.path, "") >= (long long)COMMITS * BLOB);

  /* every frame was copied, so the next commit starts the WAL over */
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_exec(f.db, "INSERT INTO filler VALUES(1)",
                                       NULL, NULL, NULL));
  int log = -1, ckpt = -1;
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_wal_checkpoint_v2(f.db, "main",
                                                    SQLITE_CHECKPOINT_PASSIVE,
                                                    &log, &ckpt));
  CF_ASSERT(log >= 1 && log < 10);

  walfx_end(&f);
}

CF_TEST(a_checkpoint_stuck_behind_pool_work_is_done_on_the_loop) {
  /* The pool's only thread stays busy with other work past the WAL's
   * bound: the checkpoint queued at 1,000 pages never starts, so the
   * loop's connection must take it back and checkpoint itself. */
  CF_ASSERT_EQ(0, setenv("UV_THREADPOOL_SIZE", "1", 1));  /* before use */
  struct walfx f;
  walfx_start(&f);
  shut_gate(&f.loop);
  long long db0 = file_size(f.path, "");
  for (int round = 0; round < 4; round++) fill(f.db);   /* ~6,400 pages */
  /* the pages reached the file although the pool never ran a checkpoint */
  CF_ASSERT(file_size(f.path, "") > db0 + 2LL * COMMITS * BLOB);
  uv_sem_post(&gate.open);
  uv_run(&f.loop, UV_RUN_DEFAULT);      /* the gate, and the taken-back job */
  walfx_end(&f);
}

CF_TEST(stop_gives_checkpoints_back_to_the_connection) {
  struct walfx f;
  walfx_start(&f);
  cf_wal_checkpointer_stop(f.w);
  f.w = NULL;                           /* stopped: not again at the end */
  long long db0 = file_size(f.path, "");
  fill(f.db);                           /* the loop never runs */
  /* SQLite's own checkpoint at 1,000 pages copied them into the file */
  CF_ASSERT(file_size(f.path, "") > db0 + (1 << 20));
  walfx_end(&f);
}

CF_TEST(in_memory_store_is_refused) {
  struct cf_store *st = NULL;
  char *err = NULL;
  uv_loop_t loop;
  struct cf_wal_checkpointer *w = (struct cf_wal_checkpointer *)&loop;
  CF_ASSERT_EQ(0, cf_store_open(":memory:", &st, &err));
  CF_ASSERT_EQ(0, uv_loop_init(&loop));
  CF_ASSERT(cf_wal_checkpointer_start(&loop, cf_store_db(st), &w) < 0);
  CF_ASSERT(w == NULL);
  cf_wal_checkpointer_stop(w);        /* NULL is fine */
  CF_ASSERT_EQ(0, uv_loop_close(&loop));
  cf_store_close(st);
}

CF_TEST_MAIN()
