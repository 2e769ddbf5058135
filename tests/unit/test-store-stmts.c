/* The store keeps its prepared statements for reuse (core/store.c): a
 * reused statement must not carry parameters over from its last use, must
 * not keep a read open (that would pin the WAL), and transactions made of
 * kept BEGIN/COMMIT/ROLLBACK statements behave as before. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cf_test.h"
#include "costflow/store.h"

static struct cf_store *open_file(char *path) {
  int fd = mkstemp(path);
  CF_ASSERT(fd >= 0);
  close(fd);
  unlink(path);
  struct cf_store *st = NULL;
  char *err = NULL;
  CF_ASSERT_EQ(0, cf_store_open(path, &st, &err));
  return st;
}

static void remove_store(const char *path) {
  char p[96];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
  snprintf(p, sizeof p, "%s.reserve", path);
  unlink(p);
}

static struct cf_ti_row make_ti(struct cf_store *st, int64_t *run_pk) {
  struct cf_run_row r = {0};
  int created;
  CF_ASSERT_EQ(0, cf_store_run_create(st, "d", 20000, "manual", NULL, &r,
                                      &created));
  CF_ASSERT_EQ(0, cf_store_ti_ensure(st, r.id, "t", "noop", 1));
  struct cf_ti_row *v = NULL;
  size_t n = 0;
  CF_ASSERT_EQ(0, cf_store_ti_list(st, r.id, &v, &n));
  CF_ASSERT_EQ(1, n);
  struct cf_ti_row t = v[0];
  cf_free(v);
  *run_pk = r.id;
  cf_run_row_release(&r);
  return t;
}

CF_TEST(unset_values_are_null_again_on_reuse) {
  char path[] = "/tmp/cf-stmts-XXXXXX";
  struct cf_store *st = open_file(path);
  int64_t run_pk;
  struct cf_ti_row t = make_ti(st, &run_pk);
  /* first use binds exit code, signal, retry time and pid ... */
  t.exit_code = 3;
  t.signal = 9;
  t.next_retry_us = cf_store_now_us();
  t.pid = 4242;
  t.pid_start = 77;
  CF_ASSERT_EQ(0, cf_store_ti_update(st, &t));
  /* ... the second leaves them unset: they must read back as unset */
  t.exit_code = t.signal = -1;
  t.next_retry_us = t.pid = t.pid_start = 0;
  CF_ASSERT_EQ(0, cf_store_ti_update(st, &t));
  struct cf_ti_row back = {0};
  CF_ASSERT_EQ(0, cf_store_ti_get(st, t.id, &back));
  CF_ASSERT_EQ(-1, back.exit_code);
  CF_ASSERT_EQ(-1, back.signal);
  CF_ASSERT_EQ(0, back.next_retry_us);
  CF_ASSERT_EQ(0, back.pid);
  CF_ASSERT_EQ(0, back.pid_start);
  cf_ti_row_release(&back);
  cf_ti_row_release(&t);
  cf_store_close(st);
  remove_store(path);
}

CF_TEST(no_read_stays_open_after_a_query) {
  char path[] = "/tmp/cf-stmts-XXXXXX";
  struct cf_store *st = open_file(path);
  int64_t run_pk;
  struct cf_ti_row t = make_ti(st, &run_pk);
  char *val = NULL;
  CF_ASSERT_EQ(0, cf_store_output_set(st, run_pk, "t", "k", "v"));
  CF_ASSERT_EQ(0, cf_store_output_get(st, run_pk, "t", "k", &val));
  cf_free(val);
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_store_output_get(st, run_pk, "t", "x", &val));
  struct cf_ti_row back = {0};
  CF_ASSERT_EQ(0, cf_store_ti_get(st, t.id, &back));
  cf_ti_row_release(&back);
  /* every kept statement is reset: the connection is in autocommit with
   * no statement running, and a TRUNCATE checkpoint can empty the WAL */
  CF_ASSERT(sqlite3_get_autocommit(cf_store_db(st)));
  CF_ASSERT(sqlite3_next_stmt(cf_store_db(st), NULL) != NULL);
  for (sqlite3_stmt *s = sqlite3_next_stmt(cf_store_db(st), NULL); s;
       s = sqlite3_next_stmt(cf_store_db(st), s))
    CF_ASSERT(!sqlite3_stmt_busy(s));
  int log = -1, ckpt = -1;
  CF_ASSERT_EQ(SQLITE_OK, sqlite3_wal_checkpoint_v2(cf_store_db(st), "main",
                                                    SQLITE_CHECKPOINT_TRUNCATE,
                                                    &log, &ckpt));
  CF_ASSERT_EQ(0, log);
  cf_ti_row_release(&t);
  cf_store_close(st);
  remove_store(path);
}

CF_TEST(kept_transactions_commit_and_roll_back) {
  char path[] = "/tmp/cf-stmts-XXXXXX";
  struct cf_store *st = open_file(path);
  int64_t run_pk;
  struct cf_ti_row t = make_ti(st, &run_pk);
  for (int i = 0; i < 3; i++) {      /* the same kept statements, reused */
    CF_ASSERT_EQ(0, cf_store_begin(st));
    CF_ASSERT(cf_store_begin(st) < 0);          /* no nesting, as before */
    CF_ASSERT_EQ(0, cf_store_output_set(st, run_pk, "t", "k", "kept"));
    CF_ASSERT_EQ(0, cf_store_commit(st));
    CF_ASSERT_EQ(0, cf_store_begin(st));
    CF_ASSERT_EQ(0, cf_store_output_set(st, run_pk, "t", "k", "undone"));
    CF_ASSERT_EQ(0, cf_store_rollback(st));
  }
  char *val = NULL;
  CF_ASSERT_EQ(0, cf_store_output_get(st, run_pk, "t", "k", &val));
  CF_ASSERT_STR(val, "kept");
  cf_free(val);
  CF_ASSERT(cf_store_commit(st) < 0);           /* nothing to commit */
  cf_ti_row_release(&t);
  cf_store_close(st);
  remove_store(path);
}

CF_TEST_MAIN()
