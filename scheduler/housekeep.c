/* Housekeeping on the daemon's loop: deadline-miss notifications and
 * retention (pruning old runs, attempts, logs, sensor records, events). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "costflow/cron.h"
#include "daemon.h"

#define DEADLINE_WINDOW_S (48 * 3600)  /* older misses are not reported */

/* ---- deadlines ------------------------------------------------------------
 * The run for logical date D must succeed by the first HH:MM (DAG zone) at
 * or after its interval ends (D+1 HH:MM for a daily schedule or an
 * unscheduled DAG). The first check after that instant that does not see
 * `success` sends one notification: an event `deadline_miss` and a line in
 * $HOME/outbox/notifications.jsonl for the notifier. */

static int64_t local_midnight(const struct cf_tz *tz, cf_date d) {
  int64_t t = (int64_t)d * 86400;
  return t - cf_tz_offset_at(tz, t);
}

/* When the run of logical date d is created: the end of d's last
 * interval (the first fire on a later date); CF_ENEVER if d is not a
 * date of the schedule. */
static int interval_end(const struct cf_dag *dag, cf_date d, int64_t *out) {
  if (!dag->cron) {
    *out = local_midnight(dag->tz, d + 1);
    return 0;
  }
  int64_t f = local_midnight(dag->tz, d) - 4 * 3600;
  int fires_on_d = 0;
  for (int i = 0; i < 20000; i++) {
    if (cf_cron_next(dag->cron, dag->tz, f, &f) < 0) return CF_ENEVER;
    cf_date ld = cf_tz_local_date(dag->tz, f);
    if (ld == d) fires_on_d = 1;
    else if (ld > d) {                 /* the first fire after d's last */
      if (!fires_on_d) return CF_ENEVER;
      *out = f;
      return 0;
    }
  }
  return CF_ENEVER;
}

static int already_notified(struct cf_daemon *d, const char *dag_id,
                            const char *ds) {
  sqlite3_stmt *s = NULL;
  int yes = 0;
  if (sqlite3_prepare_v2(cf_store_db(d->st),
          "SELECT 1 FROM events WHERE kind='deadline_miss' AND dag_id=? "
          "AND json_extract(detail,'$.logical_date')=? LIMIT 1", -1, &s,
          NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, dag_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, ds, -1, SQLITE_STATIC);
    yes = sqlite3_step(s) == SQLITE_ROW;
  }
  sqlite3_finalize(s);
  return yes;
}

static void outbox_append(struct cf_daemon *d, const char *line) {
  char *dir = cf_asprintf("%s/outbox", d->cli->home);
  char *path = dir ? cf_asprintf("%s/notifications.jsonl", dir) : NULL;
  int fd = -1;
  if (path && cf_mkdir_p(dir, 0755) == 0)
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  /* one small O_APPEND write: lines from several writers never mix */
  if (fd < 0 || write(fd, line, strlen(line)) < 0)
    cf__dlog(d, "error", NULL, 0, NULL, 0, "outbox %s: %s",
             path ? path : "?", strerror(errno));
  if (fd >= 0) close(fd);
  cf_free(path);
  cf_free(dir);
}

static void notify_miss(struct cf_daemon *d, const struct cf_dag *dag,
                        const char *ds, int64_t deadline, int64_t run_pk,
                        const char *state) {
  char when[32], ts[32];
  cf_format_iso_s(deadline, when);
  cf_format_iso_ms(cf_now_ms(), ts);
  char *msg = cf_asprintf("%s: the run for %s had not succeeded by its "
                          "deadline %s %s (%s)", dag->id, ds, dag->deadline,
                          dag->timezone ? dag->timezone : "UTC", state);
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ts", ts,
                        "kind", "deadline_miss", "dag", dag->id,
                        "logical_date", ds, "deadline", when, "state", state,
                        "msg", msg ? msg : "deadline missed");
  char *detail = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!detail) {
    cf_free(msg);
    return;
  }
  /* the event first: a crash after it loses a line, never repeats one */
  if (cf_store_event(d->st, dag->id, run_pk, NULL, "deadline_miss",
                     detail) == 0) {
    char *line = cf_asprintf("%s\n", detail);
    if (line) outbox_append(d, line);
    cf_free(line);
    cf__deadline_notify(d, dag, msg ? msg : "deadline missed");
    cf__dlog(d, "warn", dag->id, run_pk, NULL, 0, "%s", msg ? msg : "");
  }
  free(detail);
  cf_free(msg);
}

static void check_dag(struct cf_daemon *d, struct cf_dag *dag, int64_t now,
                      struct cf_cron *dl) {
  cf_date today = cf_tz_local_date(dag->tz, now);
  for (cf_date day = today - 3; day <= today; day++) {
    if (dag->has_start_date && day < dag->start_date) continue;
    if (dag->has_end_date && day > dag->end_date) continue;
    int64_t end, deadline;
    if (interval_end(dag, day, &end) < 0) continue;
    if (cf_cron_next(dl, dag->tz, end - 1, &deadline) < 0) continue;
    if (deadline > now || now - deadline > DEADLINE_WINDOW_S) continue;
    char ds[11];
    cf_date_format(day, ds);
    struct cf_run_row run = {0};
    int have = cf_store_run_get(d->st, dag->id, day, &run) == 0;
    if ((!have && !dag->cron) ||
        (have && !strcmp(run.state, "success")) ||
        already_notified(d, dag->id, ds)) {
      cf_run_row_release(&run);
      continue;
    }
    notify_miss(d, dag, ds, deadline, have ? run.id : 0,
                have ? run.state : "missing");
    cf_run_row_release(&run);
  }
}

void cf__deadlines_check(struct cf_daemon *d) {
  int64_t now = cf__daemon_now_ms(d) / 1000;
  for (struct cf_dentry *e = d->dags; e; e = e->next) {
    const char *hm = e->dag->deadline;
    if (!hm || strlen(hm) != 5 || !e->dag->tz) continue;
    char expr[32];
    struct cf_cron *dl = NULL;
    snprintf(expr, sizeof expr, "%d %d * * *", atoi(hm + 3), atoi(hm));
    if (cf_cron_parse(expr, &dl, NULL) < 0) continue;
    check_dag(d, e->dag, now, dl);
    cf_cron_free(dl);
  }
}

/* ---- retention ------------------------------------------------------------
 * Finished runs that ended more than --retention days ago (by the daemon's
 * clock) go, with their task instances, attempts, outputs and log folders;
 * the newest run of each DAG stays, and so does its newest scheduled run
 * (catch-up starts after it). Sensor
 * records already given to a run and events age out the same way. */

struct rmjob {
  uv_work_t w;
  char **dirs;
  size_t n;
};

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void rm_work(uv_work_t *w) {
  struct rmjob *j = w->data;
  for (size_t i = 0; i < j->n; i++)
    nftw(j->dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void rm_done(uv_work_t *w, int status) {
  struct rmjob *j = w->data;
  (void)status;
  for (size_t i = 0; i < j->n; i++) cf_free(j->dirs[i]);
  cf_free(j->dirs);
  cf_free(j);
}

/* the newest scheduled run stays too: catch-up counts from it (ticker.c) */
#define VICTIMS "SELECT id, dag_id, logical_date FROM runs WHERE state IN " \
  "('success','failed') AND coalesce(end_us, created_us) < ?1 AND "        \
  "logical_date < (SELECT max(logical_date) FROM runs r2 WHERE "           \
  "r2.dag_id = runs.dag_id) AND NOT (kind = 'scheduled' AND "              \
  "logical_date = (SELECT max(logical_date) FROM runs r3 WHERE "           \
  "r3.dag_id = runs.dag_id AND r3.kind = 'scheduled')) LIMIT 10000"

void cf__retention_prune(struct cf_daemon *d) {
  int64_t cutoff_ms = cf__daemon_now_ms(d) -
                      (int64_t)d->o.retention_days * 86400000;
  int64_t cutoff_us = cutoff_ms * 1000;
  char cutoff_iso[32];
  cf_format_iso_ms(cutoff_ms, cutoff_iso);
  sqlite3 *db = cf_store_db(d->st);
  sqlite3_stmt *s = NULL;
  struct rmjob *j = cf_calloc(1, sizeof *j);
  size_t alloc = 0;
  int64_t runs = 0;
  if (!j || cf_store_begin(d->st) < 0) {
    cf_free(j);
    return;
  }
  if (sqlite3_prepare_v2(db, VICTIMS, -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(s, 1, cutoff_us);
    while (sqlite3_step(s) == SQLITE_ROW) {
      if (j->n == alloc &&
          cf_grow(&j->dirs, &alloc, j->n + 1, sizeof *j->dirs, 64) < 0)
        break;
      char *dir = cf_asprintf("%s/logs/%s/%s", d->cli->home,
                              (const char *)sqlite3_column_text(s, 1),
                              (const char *)sqlite3_column_text(s, 2));
      if (dir) j->dirs[j->n++] = dir;
    }
  }
  sqlite3_finalize(s);
  s = NULL;
  int ok = 1;
  const char *sql[] = {
    "DELETE FROM runs WHERE id IN (SELECT id FROM (" VICTIMS "))",
    ("DELETE FROM dq_results WHERE run_pk IS NOT NULL AND run_pk NOT IN "
     "(SELECT id FROM runs)"),
    "DELETE FROM sensor_files WHERE run_pk IS NOT NULL AND seen_at < ?2",
    "DELETE FROM events WHERE at_us < ?1 AND kind <> 'deadline_miss'",
  };
  for (size_t i = 0; i < sizeof sql / sizeof *sql && ok; i++) {
    ok = sqlite3_prepare_v2(db, sql[i], -1, &s, NULL) == SQLITE_OK;
    if (ok) {
      if (sqlite3_bind_parameter_index(s, "?1"))
        sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, "?1"),
                           cutoff_us);
      if (sqlite3_bind_parameter_index(s, "?2"))
        sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, "?2"),
                          cutoff_iso, -1, SQLITE_STATIC);
      ok = sqlite3_step(s) == SQLITE_DONE;
      if (i == 0) runs = sqlite3_changes(db);
    }
    sqlite3_finalize(s);
    s = NULL;
  }
  if (!ok || cf_store_commit(d->st) < 0) {
    cf__dlog(d, "error", NULL, 0, NULL, 0, "retention: %s",
             sqlite3_errmsg(db));
    cf_store_rollback(d->st);
    rm_done(&j->w, 0);
    return;
  }
  if (runs)
    cf__dlog(d, "info", NULL, 0, NULL, 0, "retention: pruned %lld run(s) "
             "older than %d days", (long long)runs, d->o.retention_days);
  j->w.data = j;
  /* removing log folders touches many files: off the loop */
  if (!j->n || uv_queue_work(&d->loop, &j->w, rm_work, rm_done) < 0)
    rm_done(&j->w, 0);
}
