/* Schedule ticks: one uv_timer per scheduled DAG, armed to its next fire
 * instant (no polling). At each fire, and at start-up, the runs of every
 * interval that has ended are created: with catchup every missed interval
 * since start_date (or the last scheduled run), else only the latest.
 * The run for a logical date is created once its interval has ended --
 * for a schedule that fires several times a day, once the day's last
 * interval has (docs/dag-format.md "Logical dates"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "costflow/cron.h"
#include "daemon.h"

#define MAX_TIMER_MS (10 * 60 * 1000)  /* re-check after wall-clock jumps */
#define MAX_DATES 20000                /* bound one catch-up pass */
#define MAX_TICK_EVENTS 1000

struct cf_tick {
  uv_timer_t timer;
  struct cf_daemon *d;
  struct cf_dentry *e;
  int64_t last_fire;           /* newest fire instant (s) already seen */
  int64_t evaluated_ms;        /* the instant evaluate() last looked at */
};

/* Latest logical date of a scheduled run of the DAG, 0 + *found = 0. */
static cf_date last_scheduled(struct cf_daemon *d, const char *dag_id,
                              int *found) {
  sqlite3_stmt *s = NULL;
  cf_date out = 0;
  *found = 0;
  if (sqlite3_prepare_v2(cf_store_db(d->st),
          "SELECT max(logical_date) FROM runs WHERE dag_id=? AND "
          "kind='scheduled'", -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, dag_id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL &&
        cf_date_parse((const char *)sqlite3_column_text(s, 0), &out) == 0)
      *found = 1;
  }
  sqlite3_finalize(s);
  return out;
}

static void record_ticks(struct cf_tick *t, int64_t upto) {
  struct cf_dag *dag = t->e->dag;
  int64_t f = t->last_fire;
  for (int i = 0; i < MAX_TICK_EVENTS; i++) {
    int64_t nf;
    if (cf_cron_next(dag->cron, dag->tz, f, &nf) < 0 || nf > upto) break;
    char iso[32], ld[11];
    cf_format_iso_s(nf, iso);
    cf_date_format(cf_tz_local_date(dag->tz, nf), ld);
    json_t *o = json_pack("{s:s, s:s}", "fire", iso, "local_date", ld);
    char *detail = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    cf_store_event(t->d->st, dag->id, 0, NULL, "tick", detail);
    free(detail);
    f = nf;
  }
}

/* Creates the runs of every ended interval that needs one. */
static void evaluate(struct cf_tick *t, int64_t now_ms) {
  struct cf_daemon *d = t->d;
  struct cf_dag *dag = t->e->dag;
  int64_t now = now_ms / 1000, fire, start;
  t->evaluated_ms = now_ms;
  if (cf_cron_prev(dag->cron, dag->tz, now + 1, &fire) < 0) return;
  if (t->last_fire && fire > t->last_fire) record_ticks(t, fire);
  if (fire > t->last_fire) t->last_fire = fire;
  /* paused: nothing is created; catch-up resumes after unpausing */
  if (cf__daemon_paused(d, dag->id)) return;
  /* the newest ended interval is [start, fire); its date is complete
   * only if no later interval starts on it (a sub-daily schedule's day
   * ends with its last interval), else the newest complete date is the
   * covered date before it */
  if (cf_cron_prev(dag->cron, dag->tz, fire, &start) < 0) return;
  cf_date hi = cf_tz_local_date(dag->tz, start), lo;
  if (cf_tz_local_date(dag->tz, fire) == hi &&
      cf_dag_prev_date(dag, hi, &hi) < 0)
    return;
  if (dag->has_end_date && hi > dag->end_date) hi = dag->end_date;
  if (dag->has_start_date && hi < dag->start_date) return;
  int found = 0;
  cf_date last = last_scheduled(d, dag->id, &found);
  if (found && last >= hi) return;
  if (!dag->catchup) {
    lo = hi;
  } else if (found) {
    if (cf_dag_next_date(dag, last, &lo) < 0) return;
  } else if (dag->has_start_date) {
    lo = dag->start_date;
    if (!cf_dag_covers_date(dag, lo) && cf_dag_next_date(dag, lo, &lo) < 0)
      return;
  } else {
    lo = hi;                    /* no start_date: nothing to catch up */
  }
  int created_n = 0;
  for (int i = 0; lo <= hi && i < MAX_DATES; i++) {
    struct cf_run_row row = {0};
    int created = 0;
    if (cf_store_run_create(d->st, dag->id, lo, "scheduled", NULL, &row,
                            &created) < 0) {
      cf__dlog(d, "error", dag->id, 0, NULL, 0, "store: %s",
               cf_store_errmsg(d->st));
      break;
    }
    if (created) {
      char ds[11];
      cf_date_format(lo, ds);
      cf__dlog(d, "info", dag->id, row.id, NULL, 0,
               "scheduled run created for %s", ds);
      created_n++;
    }
    cf_run_row_release(&row);
    if (cf_dag_next_date(dag, lo, &lo) < 0) break;
  }
  if (created_n) cf__daemon_pump_soon(d);
}

static void arm(struct cf_tick *t);

static void tick_cb(uv_timer_t *h) {
  struct cf_tick *t = h->data;
  if (t->d->stopping) return;
  evaluate(t, cf__daemon_now_ms(t->d));
  arm(t);
}

static void arm(struct cf_tick *t) {
  struct cf_dag *dag = t->e->dag;
  int64_t now_ms = cf__daemon_now_ms(t->d), next;
  /* the next fire after the instant evaluate() saw, not after "now": a
   * timer that fired a hair early must not skip the fire it was for */
  if (cf_cron_next(dag->cron, dag->tz, t->evaluated_ms / 1000, &next) < 0)
    return;
  uint64_t ms = cf__daemon_real_ms(t->d, next * 1000 - now_ms);
  if (ms > MAX_TIMER_MS) ms = MAX_TIMER_MS;
  uv_timer_start(&t->timer, tick_cb, ms, 0);
}

int cf__tick_start(struct cf_daemon *d, struct cf_dentry *e) {
  if (!e->dag->cron || !e->dag->tz) return 0;
  struct cf_tick *t = cf_calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->d = d;
  t->e = e;
  uv_timer_init(&d->loop, &t->timer);
  t->timer.data = t;
  e->tick = t;
  evaluate(t, cf__daemon_now_ms(d));
  if (!d->o.once) arm(t);
  return 0;
}

void cf__tick_kick(struct cf_tick *t) {
  uv_timer_stop(&t->timer);
  tick_cb(&t->timer);
}

static void tick_closed(uv_handle_t *h) { cf_free(h->data); }

void cf__tick_stop(struct cf_tick *t) {
  if (!t) return;
  uv_close((uv_handle_t *)&t->timer, tick_closed);
}
