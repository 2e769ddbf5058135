/* SQLite store: open/migrate, transactions, runs, task instances,
 * attempts, outputs, data quality, partitions, events. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include "costflow/common.h"
#include "store-int.h"

int64_t cf_store_now_us(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void cf_us_to_iso(int64_t us, char out[32]) {
  if (!us) {
    out[0] = '\0';
    return;
  }
  cf_format_iso_ms(us / 1000, out);
}

/* The kept statement for sql (a string literal), prepared on first use;
 * a statement of its own if the kept one is in use or the cache is full.
 * NULL if it does not prepare. */
static sqlite3_stmt *stmt_get(struct cf_store *st, const char *sql) {
  size_t i = 0;
  while (i < st->nstmts && st->stmts[i].sql != sql) i++;
  if (i < st->nstmts && !sqlite3_stmt_busy(st->stmts[i].stmt))
    return st->stmts[i].stmt;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
                         NULL) != SQLITE_OK) {
    sqlite3_finalize(s);
    return NULL;
  }
  if (i == st->nstmts && i < CF_STORE_STMTS)
    st->stmts[st->nstmts++] = (struct cf_store_stmt){sql, s};
  return s;
}

/* Gives a statement back: a kept one is reset (which also ends the read
 * it may hold open) and its parameters cleared; any other is finalized. */
static void stmt_done(struct cf_store *st, sqlite3_stmt *s) {
  if (!s) return;
  for (size_t i = 0; i < st->nstmts; i++)
    if (st->stmts[i].stmt == s) {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      return;
    }
  sqlite3_finalize(s);
}

sqlite3_stmt *cf_store_stmt(struct cf_store *st, const char *sql) {
  return stmt_get(st, sql);
}

void cf_store_stmt_done(struct cf_store *st, sqlite3_stmt *s) {
  stmt_done(st, s);
}

static void stmts_release(struct cf_store *st) {
  for (size_t i = 0; i < st->nstmts; i++) sqlite3_finalize(st->stmts[i].stmt);
  st->nstmts = 0;
}

/* Steps a statement without parameters or rows (BEGIN, COMMIT, ...). */
static int step_once(struct cf_store *st, const char *sql) {
  sqlite3_stmt *s = stmt_get(st, sql);
  if (!s) return sqlite3_errcode(st->db);
  int rc = sqlite3_step(s);
  stmt_done(st, s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Prepares sql (a string literal: see stmt_get) and binds args by a type
 * string: 'i' int64, 'n' int,
 * 's' string (NULL binds NULL), 'd' cf_date (as YYYY-MM-DD), 't' a *_us
 * value bound as ISO text (0 binds NULL), 'u' a *_us value as integer
 * (0 binds NULL). */
static int prep(struct cf_store *st, sqlite3_stmt **s, const char *sql,
                const char *types, va_list ap) {
  if (!(*s = stmt_get(st, sql))) return CF_ESTORE;
  for (int i = 0; types && types[i]; i++) {
    int col = i + 1, rc = SQLITE_OK;
    char buf[32];
    switch (types[i]) {
    case 'i': rc = sqlite3_bind_int64(*s, col, va_arg(ap, int64_t)); break;
    case 'n': rc = sqlite3_bind_int(*s, col, va_arg(ap, int)); break;
    case 's': {
      const char *v = va_arg(ap, const char *);
      rc = v ? sqlite3_bind_text(*s, col, v, -1, SQLITE_TRANSIENT)
             : sqlite3_bind_null(*s, col);
      break;
    }
    case 'd':
      cf_date_format(va_arg(ap, cf_date), buf);
      rc = sqlite3_bind_text(*s, col, buf, -1, SQLITE_TRANSIENT);
      break;
    case 't': {
      int64_t us = va_arg(ap, int64_t);
      cf_us_to_iso(us, buf);
      rc = us ? sqlite3_bind_text(*s, col, buf, -1, SQLITE_TRANSIENT)
              : sqlite3_bind_null(*s, col);
      break;
    }
    case 'u': {
      int64_t us = va_arg(ap, int64_t);
      rc = us ? sqlite3_bind_int64(*s, col, us) : sqlite3_bind_null(*s, col);
      break;
    }
    }
    if (rc != SQLITE_OK) {
      stmt_done(st, *s);
      *s = NULL;
      return CF_ESTORE;
    }
  }
  return 0;
}

/* Disk full: the lake and the store share a disk, and a stage that fills
 * it must still be recorded as failed. The store keeps a ballast file
 * ($db.reserve) and gives its space back the first time SQLite reports
 * SQLITE_FULL; the next open re-creates it. Returns 1 if space was freed. */
#define RESERVE_BYTES (1 << 20)

static void reserve_make(struct cf_store *st) {
  if (!st->reserve) return;
  int fd = open(st->reserve, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  struct stat sb;
  if (fstat(fd, &sb) == 0 && sb.st_size < RESERVE_BYTES &&
      posix_fallocate(fd, 0, RESERVE_BYTES) != 0)
    (void)ftruncate(fd, 0);    /* no room now: try again at the next open */
  close(fd);
}

static int reserve_release(struct cf_store *st) {
  struct stat sb;
  if (!st->reserve || stat(st->reserve, &sb) < 0 || sb.st_size == 0)
    return 0;
  fprintf(stderr, "costflow: store: disk full; released the %d MiB "
          "reserve to record state (free space, then restart)\n",
          RESERVE_BYTES >> 20);
  return unlink(st->reserve) == 0;
}

int cf_store_reserve_ok(struct cf_store *st) {
  struct stat sb;
  if (!st->reserve) return 1;
  if (stat(st->reserve, &sb) == 0 && sb.st_size >= RESERVE_BYTES) return 1;
  reserve_make(st);
  return stat(st->reserve, &sb) == 0 && sb.st_size >= RESERVE_BYTES;
}

/* Runs a statement that returns no rows. */
static int exec(struct cf_store *st, const char *sql, const char *types,
                ...) {
  sqlite3_stmt *s = NULL;
  va_list ap;
  va_start(ap, types);
  int r = prep(st, &s, sql, types, ap);
  va_end(ap);
  if (r < 0) return r;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_FULL && reserve_release(st)) {
    sqlite3_reset(s);
    rc = sqlite3_step(s);
  }
  stmt_done(st, s);
  if (rc == SQLITE_CONSTRAINT) return CF_EEXISTS;
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : CF_ESTORE;
}

static sqlite3_stmt *query(struct cf_store *st, const char *sql,
                           const char *types, ...) {
  sqlite3_stmt *s = NULL;
  va_list ap;
  va_start(ap, types);
  prep(st, &s, sql, types, ap);
  va_end(ap);
  return s;
}

static char *col_text(sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? cf_strdup((const char *)t) : NULL;
}

/* True unless col_text(s, i) gave NULL for a value it could not copy. */
static int col_copied(sqlite3_stmt *s, int i, const char *v) {
  return v || sqlite3_column_type(s, i) == SQLITE_NULL;
}

static int64_t col_i64(sqlite3_stmt *s, int i) {
  return sqlite3_column_type(s, i) == SQLITE_NULL ? 0
                                                  : sqlite3_column_int64(s, i);
}

static int col_int_or(sqlite3_stmt *s, int i, int dflt) {
  return sqlite3_column_type(s, i) == SQLITE_NULL ? dflt
                                                  : sqlite3_column_int(s, i);
}

int cf_store_open(const char *path, struct cf_store **out, char **errmsg) {
  struct cf_store *st = cf_calloc(1, sizeof *st);
  if (!st) return -ENOMEM;
  *errmsg = NULL;
  int r = CF_ESTORE;
  if (sqlite3_open_v2(path, &st->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    *errmsg = cf_asprintf("cannot open store %s: %s", path,
                          st->db ? sqlite3_errmsg(st->db) : "out of memory");
    goto fail;
  }
  sqlite3_busy_timeout(st->db, 15000);
  /* WAL: readers never block the writer; NORMAL sync is durable across
   * process crashes (kill -9), which is the failure we design for.
   * Switching a new file to WAL does not wait on the busy handler: when
   * another process is opening the same new store, wait here, within the
   * same 15 s. */
  int rc = SQLITE_BUSY;
  for (int i = 0; i < 1500 && rc == SQLITE_BUSY; i++) {
    rc = sqlite3_exec(st->db, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL);
    if (rc == SQLITE_BUSY) sqlite3_sleep(10);
  }
  if (rc != SQLITE_OK ||
      sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL;"
                   "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK) {
    *errmsg = cf_asprintf("cannot configure store %s: %s", path,
                          sqlite3_errmsg(st->db));
    goto fail;
  }
  st->path = cf_strdup(path);
  if (strcmp(path, ":memory:"))
    st->reserve = cf_asprintf("%s.reserve", path);
  /* without its reserve path the store would run with no disk-full guard */
  if (!st->path || (strcmp(path, ":memory:") && !st->reserve)) {
    r = -ENOMEM;
    goto fail;
  }
  if (st->reserve) reserve_make(st);
  if ((r = cf__store_migrate(st, errmsg)) < 0) goto fail;
  *out = st;
  return 0;
fail:
  stmts_release(st);
  sqlite3_close(st->db);
  cf_free(st->path);
  cf_free(st->reserve);
  cf_free(st);
  return r < 0 ? r : CF_ESTORE;
}

void cf_store_close(struct cf_store *st) {
  if (!st) return;
  stmts_release(st);
  sqlite3_close(st->db);
  cf_free(st->path);
  cf_free(st->reserve);
  cf_free(st);
}

sqlite3 *cf_store_db(struct cf_store *st) { return st->db; }
const char *cf_store_errmsg(struct cf_store *st) {
  return sqlite3_errmsg(st->db);
}

int cf_store_begin(struct cf_store *st) {
  return step_once(st, "BEGIN IMMEDIATE") == SQLITE_OK ? 0 : CF_ESTORE;
}
int cf_store_commit(struct cf_store *st) {
  int rc = step_once(st, "COMMIT");
  /* if SQLite rolled the transaction back itself, the caller redoes it
   * (the space is free now); if not, the commit can simply be retried */
  if (rc == SQLITE_FULL && reserve_release(st) &&
      !sqlite3_get_autocommit(st->db))
    rc = step_once(st, "COMMIT");
  return rc == SQLITE_OK ? 0 : CF_ESTORE;
}
int cf_store_rollback(struct cf_store *st) {
  return step_once(st, "ROLLBACK") == SQLITE_OK ? 0 : CF_ESTORE;
}

/* ---- runs ------------------------------------------------------------ */

void cf_run_row_release(struct cf_run_row *r) {
  cf_free(r->dag_id);
  cf_free(r->run_id);
  cf_free(r->kind);
  cf_free(r->state);
  cf_free(r->conf);
  memset(r, 0, sizeof *r);
}

void cf_run_rows_free(struct cf_run_row *v, size_t n) {
  for (size_t i = 0; i < n; i++) cf_run_row_release(&v[i]);
  cf_free(v);
}

#define RUN_COLS "id, dag_id, run_id, kind, state, conf, logical_date, " \
                 "created_us, start_us, end_us"

/* 0, or -ENOMEM (a text it could not copy: never a NULL field). */
static int read_run(sqlite3_stmt *s, struct cf_run_row *r) {
  r->id = sqlite3_column_int64(s, 0);
  r->dag_id = col_text(s, 1);
  r->run_id = col_text(s, 2);
  r->kind = col_text(s, 3);
  r->state = col_text(s, 4);
  r->conf = col_text(s, 5);
  cf_date_parse((const char *)sqlite3_column_text(s, 6), &r->logical_date);
  r->created_us = col_i64(s, 7);
  r->start_us = col_i64(s, 8);
  r->end_us = col_i64(s, 9);
  return col_copied(s, 1, r->dag_id) && col_copied(s, 2, r->run_id) &&
         col_copied(s, 3, r->kind) && col_copied(s, 4, r->state) &&
         col_copied(s, 5, r->conf) ? 0 : -ENOMEM;
}

static int run_one(struct cf_store *st, sqlite3_stmt *s,
                   struct cf_run_row *out) {
  if (!s) return CF_ESTORE;
  int rc = sqlite3_step(s);
  int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? CF_ENOTFOUND : CF_ESTORE;
  if (!r && (r = read_run(s, out)) < 0) cf_run_row_release(out);
  stmt_done(st, s);
  return r;
}

int cf_store_run_get(struct cf_store *st, const char *dag_id, cf_date d,
                     struct cf_run_row *out) {
  return run_one(st, query(st, "SELECT " RUN_COLS " FROM runs WHERE dag_id=? "
                       "AND logical_date=?", "sd", dag_id, d), out);
}

int cf_store_run_get_pk(struct cf_store *st, int64_t pk,
                        struct cf_run_row *out) {
  return run_one(st, query(st, "SELECT " RUN_COLS " FROM runs WHERE id=?", "i",
                       pk), out);
}

int cf_store_run_create(struct cf_store *st, const char *dag_id, cf_date d,
                        const char *kind, const char *conf_json,
                        struct cf_run_row *out, int *created) {
  char ds[11];
  cf_date_format(d, ds);
  char *run_id = cf_asprintf("%s__%s", kind, ds);
  int64_t now = cf_store_now_us();
  if (!run_id) return -ENOMEM;
  int r = cf_store_begin(st);
  if (r < 0) goto done;
  r = exec(st, "INSERT INTO runs(dag_id, logical_date, run_id, kind, state,"
           " conf, created_at, created_us) VALUES(?,?,?,?,'queued',?,?,?) "
           "ON CONFLICT(dag_id, logical_date) DO NOTHING", "sdsssti",
           dag_id, d, run_id, kind, conf_json ? conf_json : "{}", now, now);
  if (r < 0) {
    cf_store_rollback(st);
    goto done;
  }
  *created = sqlite3_changes(st->db) > 0;
  r = cf_store_run_get(st, dag_id, d, out);
  if (r < 0) cf_store_rollback(st);
  else r = cf_store_commit(st);
done:
  cf_free(run_id);
  return r;
}

int cf_store_run_list(struct cf_store *st, const char *dag_id, int limit,
                      struct cf_run_row **out, size_t *n) {
  sqlite3_stmt *s = query(st, "SELECT " RUN_COLS " FROM runs WHERE dag_id=? "
                          "ORDER BY logical_date DESC LIMIT ?", "sn", dag_id,
                          limit > 0 ? limit : -1);
  if (!s) return CF_ESTORE;
  struct cf_run_row *v = NULL;
  size_t cnt = 0, alloc = 0;
  int rc, r = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (cnt == alloc && cf_grow(&v, &alloc, cnt + 1, sizeof *v, 16) < 0) {
      r = -ENOMEM;
      break;
    }
    memset(&v[cnt], 0, sizeof v[cnt]);
    if ((r = read_run(s, &v[cnt++])) < 0) break;
  }
  stmt_done(st, s);
  if (r == 0 && rc != SQLITE_DONE) r = CF_ESTORE;
  if (r < 0) {                    /* never some of the rows */
    cf_run_rows_free(v, cnt);
    v = NULL;
    cnt = 0;
  }
  *out = v;
  *n = cnt;
  return r;
}

int cf_store_run_set_state(struct cf_store *st, int64_t pk,
                           const char *state) {
  int64_t now = cf_store_now_us();
  int terminal = !strcmp(state, "success") || !strcmp(state, "failed");
  int running = !strcmp(state, "running");
  (void)running;
  return exec(st,
      "UPDATE runs SET state=?1,"
      " start_at=CASE WHEN ?1='running' AND start_us IS NULL THEN ?2"
      "   WHEN ?1='queued' THEN NULL ELSE start_at END,"
      " start_us=CASE WHEN ?1='running' AND start_us IS NULL THEN ?3"
      "   WHEN ?1='queued' THEN NULL ELSE start_us END,"
      " end_at=CASE WHEN ?4 THEN ?2 ELSE NULL END,"
      " end_us=CASE WHEN ?4 THEN ?3 ELSE NULL END WHERE id=?5",
      "stini", state, now, now, terminal, pk);
}

int cf_store_run_set_conf(struct cf_store *st, int64_t pk, const char *conf) {
  return exec(st, "UPDATE runs SET conf=? WHERE id=?", "si", conf, pk);
}

/* ---- task instances ---------------------------------------------------- */

void cf_ti_row_release(struct cf_ti_row *t) {
  cf_free(t->task_id);
  cf_free(t->state);
  cf_free(t->plugin);
  cf_free(t->params);
  cf_free(t->reason);
  memset(t, 0, sizeof *t);
}

void cf_ti_rows_free(struct cf_ti_row *v, size_t n) {
  for (size_t i = 0; i < n; i++) cf_ti_row_release(&v[i]);
  cf_free(v);
}

#define TI_COLS "id, run_pk, task_id, state, plugin, params, reason, " \
  "try_number, max_tries, exit_code, signal, start_us, end_us, "       \
  "next_retry_us, pid, pid_start"

/* 0, or -ENOMEM (a text it could not copy: never a NULL field). */
static int read_ti(sqlite3_stmt *s, struct cf_ti_row *t) {
  t->id = sqlite3_column_int64(s, 0);
  t->run_pk = sqlite3_column_int64(s, 1);
  t->task_id = col_text(s, 2);
  t->state = col_text(s, 3);
  t->plugin = col_text(s, 4);
  t->params = col_text(s, 5);
  t->reason = col_text(s, 6);
  t->try_number = sqlite3_column_int(s, 7);
  t->max_tries = sqlite3_column_int(s, 8);
  t->exit_code = col_int_or(s, 9, -1);
  t->signal = col_int_or(s, 10, -1);
  t->start_us = col_i64(s, 11);
  t->end_us = col_i64(s, 12);
  t->next_retry_us = col_i64(s, 13);
  t->pid = col_i64(s, 14);
  t->pid_start = col_i64(s, 15);
  return col_copied(s, 2, t->task_id) && col_copied(s, 3, t->state) &&
         col_copied(s, 4, t->plugin) && col_copied(s, 5, t->params) &&
         col_copied(s, 6, t->reason) ? 0 : -ENOMEM;
}

int cf_store_ti_ensure(struct cf_store *st, int64_t run_pk,
                       const char *task_id, const char *plugin,
                       int max_tries) {
  return exec(st, "INSERT INTO task_instances(run_pk, task_id, plugin, "
              "max_tries) VALUES(?,?,?,?) ON CONFLICT(run_pk, task_id) "
              "DO NOTHING", "issn", run_pk, task_id, plugin, max_tries);
}

int cf_store_ti_list(struct cf_store *st, int64_t run_pk,
                     struct cf_ti_row **out, size_t *n) {
  sqlite3_stmt *s = query(st, "SELECT " TI_COLS " FROM task_instances "
                          "WHERE run_pk=? ORDER BY id", "i", run_pk);
  if (!s) return CF_ESTORE;
  struct cf_ti_row *v = NULL;
  size_t cnt = 0, alloc = 0;
  int rc, r = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (cnt == alloc && cf_grow(&v, &alloc, cnt + 1, sizeof *v, 16) < 0) {
      r = -ENOMEM;
      break;
    }
    memset(&v[cnt], 0, sizeof v[cnt]);
    if ((r = read_ti(s, &v[cnt++])) < 0) break;
  }
  stmt_done(st, s);
  if (r == 0 && rc != SQLITE_DONE) r = CF_ESTORE;
  if (r < 0) {                    /* never some of the rows */
    cf_ti_rows_free(v, cnt);
    v = NULL;
    cnt = 0;
  }
  *out = v;
  *n = cnt;
  return r;
}

int cf_store_ti_get(struct cf_store *st, int64_t ti_pk,
                    struct cf_ti_row *out) {
  sqlite3_stmt *s = query(st, "SELECT " TI_COLS " FROM task_instances "
                          "WHERE id=?", "i", ti_pk);
  if (!s) return CF_ESTORE;
  int rc = sqlite3_step(s);
  int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? CF_ENOTFOUND : CF_ESTORE;
  if (!r && (r = read_ti(s, out)) < 0) cf_ti_row_release(out);
  stmt_done(st, s);
  return r;
}

int cf_store_ti_update(struct cf_store *st, const struct cf_ti_row *t) {
  int64_t dur = t->start_us && t->end_us ? (t->end_us - t->start_us) / 1000
                                         : 0;
  sqlite3_stmt *s = query(st,
      "UPDATE task_instances SET state=?, try_number=?, max_tries=?,"
      " params=?, reason=?, start_at=?, start_us=?, end_at=?, end_us=?,"
      " duration_ms=?, exit_code=?, signal=?, next_retry_at=?,"
      " next_retry_us=?, pid=?, pid_start=? WHERE id=?",
      "snnsstutuu", t->state, t->try_number, t->max_tries, t->params,
      t->reason, t->start_us, t->start_us, t->end_us, t->end_us,
      t->end_us ? dur : 0);
  if (!s) return CF_ESTORE;
  /* the remaining binds need NULL for "unset" sentinels */
  if (t->exit_code >= 0) sqlite3_bind_int(s, 11, t->exit_code);
  if (t->signal >= 0) sqlite3_bind_int(s, 12, t->signal);
  char iso[32];
  cf_us_to_iso(t->next_retry_us, iso);
  if (t->next_retry_us) {
    sqlite3_bind_text(s, 13, iso, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 14, t->next_retry_us);
  }
  if (t->pid) sqlite3_bind_int64(s, 15, t->pid);
  if (t->pid_start) sqlite3_bind_int64(s, 16, t->pid_start);
  sqlite3_bind_int64(s, 17, t->id);
  int rc = sqlite3_step(s);
  stmt_done(st, s);
  return rc == SQLITE_DONE ? 0 : CF_ESTORE;
}

/* ---- attempts ---------------------------------------------------------- */

int cf_store_attempt_start(struct cf_store *st, const struct cf_ti_row *t,
                           const char *log_path, int64_t *attempt_pk) {
  int r = exec(st, "INSERT INTO attempts(ti_pk, try_number, state, "
               "start_at, start_us, log_path) VALUES(?,?,'running',?,?,?)",
               "intus", t->id, t->try_number, t->start_us, t->start_us,
               log_path);
  if (r == 0) *attempt_pk = sqlite3_last_insert_rowid(st->db);
  return r;
}

int cf_store_attempt_set_pid(struct cf_store *st, int64_t attempt_pk,
                             int64_t pid, int64_t pid_start) {
  return exec(st, "UPDATE attempts SET pid=?, pid_start=? WHERE id=?", "iii",
              pid, pid_start, attempt_pk);
}

int cf_store_attempt_set_times(struct cf_store *st, int64_t attempt_pk,
                               int64_t spawn_us, int64_t exit_us) {
  return exec(st, "UPDATE attempts SET spawn_us=coalesce(?, spawn_us), "
              "exit_us=coalesce(?, exit_us) WHERE id=?", "uui", spawn_us,
              exit_us, attempt_pk);
}

int cf_store_attempt_finish(struct cf_store *st, int64_t attempt_pk,
                            const char *state, int exit_code, int sig,
                            const char *reason) {
  int64_t now = cf_store_now_us();
  sqlite3_stmt *s = query(st, "UPDATE attempts SET state=?, end_at=?, "
                          "end_us=?, exit_code=?, signal=?, reason=? "
                          "WHERE id=?", "sti", state, now, now);
  if (!s) return CF_ESTORE;
  if (exit_code >= 0) sqlite3_bind_int(s, 4, exit_code);
  if (sig >= 0) sqlite3_bind_int(s, 5, sig);
  if (reason) sqlite3_bind_text(s, 6, reason, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 7, attempt_pk);
  int rc = sqlite3_step(s);
  stmt_done(st, s);
  return rc == SQLITE_DONE ? 0 : CF_ESTORE;
}

int cf_store_attempts_orphaned(struct cf_store *st, int64_t ti_pk,
                               int64_t end_us) {
  return exec(st, "UPDATE attempts SET state='failed', reason=?, end_us=? "
              "WHERE ti_pk=? AND state='running'", "sii", CF_ORPHANED_REASON,
              end_us, ti_pk);
}

int cf_store_attempt_ti(struct cf_store *st, int64_t attempt_pk,
                        int64_t *ti_pk, int *try_number, char **log_path) {
  sqlite3_stmt *s = query(st, "SELECT ti_pk, try_number, log_path FROM "
                          "attempts WHERE id=?", "i", attempt_pk);
  if (!s) return CF_ESTORE;
  int rc = sqlite3_step(s), r = CF_ENOTFOUND;
  if (rc == SQLITE_ROW) {
    *ti_pk = sqlite3_column_int64(s, 0);
    *try_number = sqlite3_column_int(s, 1);
    if (log_path) *log_path = col_text(s, 2);
    r = log_path && !col_copied(s, 2, *log_path) ? -ENOMEM : 0;
  }
  stmt_done(st, s);
  return r;
}

/* ---- outputs, dq, partitions, events ---------------------------------- */

int cf_store_output_set(struct cf_store *st, int64_t run_pk,
                        const char *task_id, const char *key,
                        const char *value) {
  return exec(st, "INSERT INTO task_outputs(run_pk, task_id, key, value) "
              "VALUES(?,?,?,?) ON CONFLICT(run_pk, task_id, key) DO UPDATE "
              "SET value=excluded.value", "isss", run_pk, task_id, key,
              value);
}

int cf_store_output_get(struct cf_store *st, int64_t run_pk,
                        const char *task_id, const char *key, char **value) {
  sqlite3_stmt *s = query(st, "SELECT value FROM task_outputs WHERE "
                          "run_pk=? AND task_id=? AND key=?", "iss", run_pk,
                          task_id, key);
  if (!s) return CF_ESTORE;
  int r = CF_ENOTFOUND;
  if (sqlite3_step(s) == SQLITE_ROW) {
    *value = col_text(s, 0);
    r = col_copied(s, 0, *value) ? 0 : -ENOMEM;
  }
  stmt_done(st, s);
  return r;
}

int cf_store_dq_insert(struct cf_store *st, int64_t attempt_pk,
                       int64_t run_pk, const char *task_id, const char *rule,
                       const char *severity, int64_t rows_checked,
                       int64_t rows_failed, int passed, const char *samples) {
  return exec(st,
      "INSERT INTO dq_results(attempt_pk, run_pk, dag_id, logical_date,"
      " task_id, rule, severity, rows_checked, rows_failed, passed, samples,"
      " at) SELECT ?1, ?2, r.dag_id, r.logical_date, ?3, ?4, ?5, ?6, ?7, ?8,"
      " ?9, ?10 FROM runs r WHERE r.id=?2", "iisssiinst", attempt_pk, run_pk,
      task_id, rule, severity, rows_checked, rows_failed, passed, samples,
      cf_store_now_us());
}

int cf_store_partition_record(struct cf_store *st, const char *dataset,
                              const char *key, int64_t row_count,
                              const char *checksum, const char *inputs,
                              int64_t run_pk, const char *task_id,
                              int64_t *version) {
  int r = cf_store_begin(st);
  if (r < 0) return r;
  sqlite3_stmt *s = query(st, "SELECT coalesce(max(version),0)+1 FROM "
                          "partitions WHERE dataset=? AND partition_key=?",
                          "ss", dataset, key);
  int64_t v = 1;
  if (s && sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  stmt_done(st, s);
  r = exec(st, "INSERT INTO partitions(dataset, partition_key, version, "
           "row_count, checksum, inputs, run_pk, task_id, published_at) "
           "VALUES(?,?,?,?,?,?,?,?,?)", "ssiissist", dataset, key, v,
           row_count, checksum, inputs, run_pk, task_id, cf_store_now_us());
  if (r < 0) {
    cf_store_rollback(st);
    return r;
  }
  *version = v;
  return cf_store_commit(st);
}

int cf_store_event(struct cf_store *st, const char *dag_id, int64_t run_pk,
                   const char *task_id, const char *kind,
                   const char *detail_json) {
  int64_t now = cf_store_now_us();
  return exec(st, "INSERT INTO events(at, at_us, dag_id, run_pk, task_id, "
              "kind, detail) VALUES(?,?,?,?,?,?,?)", "tisisss", now, now,
              dag_id, run_pk ? run_pk : 0, task_id, kind, detail_json);
}
