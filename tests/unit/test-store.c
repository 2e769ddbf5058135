/* Store unit tests on a real SQLite database (":memory:" and files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "cf_test.h"
#include "costflow/store.h"
#include "store_fixture.h"

static struct cf_store *open_mem(void) {
  struct cf_store *st = NULL;
  char *err = NULL;
  CF_ASSERT_EQ(0, cf_store_open(":memory:", &st, &err));
  CF_ASSERT(err == NULL);
  return st;
}

CF_TEST(store_migrates_to_latest_version) {
  struct cf_store *st = open_mem();
  CF_ASSERT(cf_store_schema_version(st) >= 1);
  cf_store_close(st);
}

CF_TEST(run_is_unique_per_dag_and_date) {
  struct cf_store *st = open_mem();
  struct cf_run_row a = {0}, b = {0};
  int created = -1;
  cf_date d;
  CF_ASSERT_EQ(0, cf_date_parse("2025-01-31", &d));
  CF_ASSERT_EQ(0, cf_store_run_create(st, "billing", d, "scheduled", "{}",
                                      &a, &created));
  CF_ASSERT_EQ(1, created);
  CF_ASSERT_STR(a.run_id, "scheduled__2025-01-31");
  CF_ASSERT_STR(a.state, "queued");
  CF_ASSERT_EQ(0, cf_store_run_create(st, "billing", d, "manual",
                                      "{\"x\":\"1\"}", &b, &created));
  CF_ASSERT_EQ(0, created);
  CF_ASSERT_EQ(a.id, b.id);
  CF_ASSERT_STR(b.kind, "scheduled");       /* the first trigger wins */
  CF_ASSERT_EQ(a.logical_date, d);
  cf_run_row_release(&a);
  cf_run_row_release(&b);
  /* another DAG, same date: a different run */
  CF_ASSERT_EQ(0, cf_store_run_create(st, "other", d, "manual", NULL, &a,
                                      &created));
  CF_ASSERT_EQ(1, created);
  cf_run_row_release(&a);
  cf_store_close(st);
}

CF_TEST(run_states_and_listing_newest_first) {
  struct cf_store *st = open_mem();
  struct cf_run_row r = {0};
  int created;
  for (int i = 1; i <= 3; i++) {
    CF_ASSERT_EQ(0, cf_store_run_create(st, "d", cf_date_from_ymd(2025, 1, i),
                                        "backfill", NULL, &r, &created));
    cf_run_row_release(&r);
  }
  struct cf_run_row *v = NULL;
  size_t n = 0;
  CF_ASSERT_EQ(0, cf_store_run_list(st, "d", 2, &v, &n));
  CF_ASSERT_EQ(2, n);
  CF_ASSERT_EQ(cf_date_from_ymd(2025, 1, 3), v[0].logical_date);
  CF_ASSERT_EQ(0, cf_store_run_set_state(st, v[0].id, "running"));
  CF_ASSERT_EQ(0, cf_store_run_set_state(st, v[0].id, "success"));
  CF_ASSERT_EQ(0, cf_store_run_get_pk(st, v[0].id, &r));
  CF_ASSERT_STR(r.state, "success");
  CF_ASSERT(r.start_us > 0 && r.end_us >= r.start_us);
  cf_run_row_release(&r);
  cf_run_rows_free(v, n);
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_store_run_get(st, "d",
               cf_date_from_ymd(2030, 1, 1), &r));
  cf_store_close(st);
}

CF_TEST(task_instances_attempts_and_outputs) {
  struct cf_store *st = open_mem();
  struct cf_run_row r = {0};
  int created;
  CF_ASSERT_EQ(0, cf_store_run_create(st, "d", 20000, "manual", NULL, &r,
                                      &created));
  CF_ASSERT_EQ(0, cf_store_ti_ensure(st, r.id, "extract", "shell", 3));
  CF_ASSERT_EQ(0, cf_store_ti_ensure(st, r.id, "extract", "shell", 9));
  struct cf_ti_row *v = NULL;
  size_t n = 0;
  CF_ASSERT_EQ(0, cf_store_ti_list(st, r.id, &v, &n));
  CF_ASSERT_EQ(1, n);
  CF_ASSERT_STR(v[0].state, "none");
  CF_ASSERT_EQ(3, v[0].max_tries);         /* ensure() never overwrites */
  CF_ASSERT_EQ(-1, v[0].exit_code);
  cf_free(v[0].state);
  v[0].state = cf_strdup("running");
  v[0].try_number = 1;
  v[0].start_us = cf_store_now_us();
  v[0].pid = 4242;
  CF_ASSERT_EQ(0, cf_store_ti_update(st, &v[0]));
  int64_t apk = 0;
  CF_ASSERT_EQ(0, cf_store_attempt_start(st, &v[0], "/tmp/x.log", &apk));
  CF_ASSERT_EQ(0, cf_store_attempt_finish(st, apk, "failed", -1, 9,
                                          "killed by signal 9"));
  int64_t ti_pk = 0;
  int tryno = 0;
  char *log = NULL;
  CF_ASSERT_EQ(0, cf_store_attempt_ti(st, apk, &ti_pk, &tryno, &log));
  CF_ASSERT_EQ(v[0].id, ti_pk);
  CF_ASSERT_EQ(1, tryno);
  CF_ASSERT_STR(log, "/tmp/x.log");
  cf_free(log);
  struct cf_ti_row t = {0};
  CF_ASSERT_EQ(0, cf_store_ti_get(st, ti_pk, &t));
  CF_ASSERT_STR(t.state, "running");
  CF_ASSERT_EQ(4242, t.pid);
  cf_ti_row_release(&t);

  char *val = NULL;
  CF_ASSERT_EQ(0, cf_store_output_set(st, r.id, "extract", "rows", "10"));
  CF_ASSERT_EQ(0, cf_store_output_set(st, r.id, "extract", "rows", "12"));
  CF_ASSERT_EQ(0, cf_store_output_get(st, r.id, "extract", "rows", &val));
  CF_ASSERT_STR(val, "12");
  cf_free(val);
  CF_ASSERT_EQ(CF_ENOTFOUND,
               cf_store_output_get(st, r.id, "extract", "nope", &val));
  cf_ti_rows_free(v, n);
  cf_run_row_release(&r);
  cf_store_close(st);
}

CF_TEST(partition_versions_grow) {
  struct cf_store *st = open_mem();
  int64_t v = 0;
  CF_ASSERT_EQ(0, cf_store_partition_record(st, "silver.cost",
               "usage_date=2025-01-01", 10, "abc", "[]", 1, "t", &v));
  CF_ASSERT_EQ(1, v);
  CF_ASSERT_EQ(0, cf_store_partition_record(st, "silver.cost",
               "usage_date=2025-01-01", 11, "def", "[]", 1, "t", &v));
  CF_ASSERT_EQ(2, v);
  CF_ASSERT_EQ(0, cf_store_partition_record(st, "silver.cost",
               "usage_date=2025-01-02", 1, "x", "[]", 1, "t", &v));
  CF_ASSERT_EQ(1, v);
  cf_store_close(st);
}

CF_TEST(transaction_rollback_leaves_nothing) {
  struct cf_store *st = open_mem();
  struct cf_run_row r = {0};
  int created;
  CF_ASSERT_EQ(0, cf_store_begin(st));
  CF_ASSERT_EQ(0, cf_store_event(st, "d", 0, NULL, "test", "{}"));
  CF_ASSERT_EQ(0, cf_store_rollback(st));
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(cf_store_db(st), "SELECT count(*) FROM events", -1, &s,
                     NULL);
  CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(s));
  CF_ASSERT_EQ(0, sqlite3_column_int(s, 0));
  sqlite3_finalize(s);
  CF_ASSERT_EQ(0, cf_store_run_create(st, "d", 1, "manual", NULL, &r,
                                      &created));
  cf_run_row_release(&r);
  cf_store_close(st);
}

CF_TEST(file_store_is_wal_and_reopens) {
  char path[] = "/tmp/cf-store-XXXXXX";
  struct cf_store *st = fx_store_open(path);
  char *err = NULL;
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(cf_store_db(st), "PRAGMA journal_mode", -1, &s, NULL);
  CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(s));
  CF_ASSERT_STR((const char *)sqlite3_column_text(s, 0), "wal");
  sqlite3_finalize(s);
  int version = cf_store_schema_version(st);
  cf_store_close(st);
  CF_ASSERT_EQ(0, cf_store_open(path, &st, &err));   /* no re-migration */
  CF_ASSERT_EQ(version, cf_store_schema_version(st));
  cf_store_close(st);
  /* a store from a newer costflow is refused, not damaged */
  sqlite3 *db = NULL;
  sqlite3_open(path, &db);
  sqlite3_exec(db, "INSERT INTO schema_version VALUES(999)", NULL, NULL,
               NULL);
  sqlite3_close(db);
  CF_ASSERT(cf_store_open(path, &st, &err) < 0);
  CF_ASSERT_CONTAINS(err, "newer than this costflow");
  cf_free(err);
  fx_store_remove(path);
}

/* Processes that open a new store at the same moment (a daemon and an
 * operator's first `costflow run`) must all get it migrated once, not fail
 * on "table already exists" because another one migrated first. */
CF_TEST(concurrent_first_opens_all_succeed) {
  enum { PROCS = 6, ROUNDS = 5 };
  for (int round = 0; round < ROUNDS; round++) {
    char path[] = "/tmp/cf-store-XXXXXX";
    int fd = mkstemp(path);
    CF_ASSERT(fd >= 0);
    close(fd);
    unlink(path);
    int go[2];
    CF_ASSERT_EQ(0, pipe(go));
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
      pids[i] = fork();
      CF_ASSERT(pids[i] >= 0);
      if (pids[i] == 0) {
        char c, *err = NULL;
        struct cf_store *st = NULL;
        close(go[1]);
        if (read(go[0], &c, 1) < 0) _exit(3);   /* start together */
        int rc = cf_store_open(path, &st, &err);
        if (rc < 0) fprintf(stderr, "open: %s\n", err ? err : "?");
        _exit(rc < 0 ? 1 : cf_store_schema_version(st) > 0 ? 0 : 2);
      }
    }
    close(go[0]);
    close(go[1]);                       /* EOF releases every child */
    int failed = 0;
    for (int i = 0; i < PROCS; i++) {
      int ws = 0;
      CF_ASSERT_EQ(pids[i], waitpid(pids[i], &ws, 0));
      if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) failed++;
    }
    struct cf_store *st = NULL;
    char *err = NULL;
    CF_ASSERT_EQ(0, cf_store_open(path, &st, &err));
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(cf_store_db(st), "SELECT count(*), count(DISTINCT "
                       "version) FROM schema_version", -1, &s, NULL);
    CF_ASSERT_EQ(SQLITE_ROW, sqlite3_step(s));
    int rows = sqlite3_column_int(s, 0), distinct = sqlite3_column_int(s, 1);
    sqlite3_finalize(s);
    cf_store_close(st);
    fx_store_remove(path);
    CF_ASSERT_EQ(0, failed);
    CF_ASSERT_EQ(distinct, rows);       /* each migration applied once */
  }
}

/* The store keeps its prepared statements for reuse (core/store.c): a
 * reused statement must not carry parameters over from its last use, must
 * not keep a read open (that would pin the WAL), and transactions made of
 * kept BEGIN/COMMIT/ROLLBACK statements behave as before. */

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
  struct cf_store *st = fx_store_open(path);
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
  fx_store_remove(path);
}

CF_TEST(no_read_stays_open_after_a_query) {
  char path[] = "/tmp/cf-stmts-XXXXXX";
  struct cf_store *st = fx_store_open(path);
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
  fx_store_remove(path);
}

CF_TEST(kept_transactions_commit_and_roll_back) {
  char path[] = "/tmp/cf-stmts-XXXXXX";
  struct cf_store *st = fx_store_open(path);
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
  fx_store_remove(path);
}

/* Out of memory: for n = 0, 1, 2, ... the n-th allocation fails (and
 * every later one). Each read must return an error or every row whole --
 * never a row with a field left NULL, never fewer rows. */
static void run_ok(const struct cf_run_row *r) {
  CF_ASSERT_STR(r->dag_id, "billing");
  CF_ASSERT_STR(r->kind, "manual");
  CF_ASSERT_STR(r->state, "queued");
  CF_ASSERT_STR(r->conf, "{\"a\":1}");
  CF_ASSERT(r->run_id && !strncmp(r->run_id, "manual__2025-01-0", 17));
}

CF_TEST(open_survives_every_failed_allocation) {
  /* an existing store (nothing left to migrate) opened again: an error,
   * or a store with its disk-full reserve in place, never one that runs
   * without that guard */
  char path[] = "/tmp/cf-store-oom-XXXXXX", reserve[64];
  cf_store_close(fx_store_open(path));
  snprintf(reserve, sizeof reserve, "%s.reserve", path);
  for (long n = 0;; n++) {
    unlink(reserve);
    struct cf_store *st = NULL;
    char *err = NULL;
    cf_alloc_fail_after(n);
    int r = cf_store_open(path, &st, &err);
    cf_alloc_fail_after(-1);
    free(err);
    int has_reserve = access(reserve, F_OK) == 0;
    cf_store_close(st);
    if (r == 0) {
      CF_ASSERT(has_reserve);
      break;
    }
    CF_ASSERT(r < 0);
  }
  fx_store_remove(path);
}

CF_TEST(reads_survive_every_failed_allocation) {
  struct cf_store *st = open_mem();
  struct cf_run_row run = {0};
  int created;
  for (int day = 1; day <= 3; day++) {
    cf_run_row_release(&run);
    CF_ASSERT_EQ(0, cf_store_run_create(st, "billing",
                                        cf_date_from_ymd(2025, 1, day),
                                        "manual", "{\"a\":1}", &run,
                                        &created));
  }
  for (int t = 0; t < 3; t++) {
    char id[8];
    snprintf(id, sizeof id, "t%d", t);
    CF_ASSERT_EQ(0, cf_store_ti_ensure(st, run.id, id, "noop", 2));
  }
  CF_ASSERT_EQ(0, cf_store_output_set(st, run.id, "t0", "k", "value"));
  int got = 0;
  for (long n = 0; got != 0x1f; n++) {
    struct cf_run_row r = {0}, *rv = NULL;
    struct cf_ti_row *tv = NULL;
    size_t nr = 0, nt = 0;
    char *v = NULL;
    cf_alloc_fail_after(n);
    int a = cf_store_run_get(st, "billing", cf_date_from_ymd(2025, 1, 2), &r);
    cf_alloc_fail_after(n);
    int b = cf_store_run_list(st, "billing", 0, &rv, &nr);
    cf_alloc_fail_after(n);
    int c = cf_store_ti_list(st, run.id, &tv, &nt);
    cf_alloc_fail_after(n);
    int d = cf_store_output_get(st, run.id, "t0", "k", &v);
    cf_alloc_fail_after(n);
    struct cf_run_row r2 = {0};
    int e = cf_store_run_create(st, "other", cf_date_from_ymd(2025, 2, 1),
                                "manual", "{\"a\":1}", &r2, &created);
    cf_alloc_fail_after(-1);
    CF_ASSERT(a <= 0 && b <= 0 && c <= 0 && d <= 0 && e <= 0);
    if (a == 0) {
      run_ok(&r);
      got |= 1;
    }
    if (b == 0) {
      CF_ASSERT_EQ(3, nr);
      for (size_t i = 0; i < nr; i++) run_ok(&rv[i]);
      got |= 2;
    }
    if (c == 0) {
      CF_ASSERT_EQ(3, nt);
      for (size_t i = 0; i < nt; i++) {
        CF_ASSERT(tv[i].task_id && tv[i].state && tv[i].plugin);
        CF_ASSERT_STR(tv[i].plugin, "noop");
      }
      got |= 4;
    }
    if (d == 0) {
      CF_ASSERT_STR(v, "value");
      got |= 8;
    }
    if (e == 0) {
      CF_ASSERT(r2.dag_id && r2.state);
      got |= 16;
    }
    cf_run_row_release(&r);
    cf_run_row_release(&r2);
    cf_run_rows_free(rv, nr);
    cf_ti_rows_free(tv, nt);
    cf_free(v);
  }
  cf_run_row_release(&run);
  cf_store_close(st);
}

CF_TEST_MAIN()
