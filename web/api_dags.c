/* GET /api/dags (schedule, zone, next run, recent run states, import
 * errors) and POST /api/dags/ID/pause|unpause. */
#include <string.h>
#include "costflow/cron.h"
#include "web-int.h"

#define RECENT_RUNS 14

/* The last RECENT_RUNS runs of one DAG, newest first. One prepared
 * statement re-bound per DAG: each execution is an index seek on
 * UNIQUE(dag_id, logical_date), so the cost grows with the number of DAGs,
 * never with the number of runs (a window over all runs would scan them
 * all on every page load). */
static json_t *recent_runs(sqlite3_stmt *s, const char *dag_id) {
  json_t *arr = json_array();
  sqlite3_reset(s);
  sqlite3_bind_text(s, 1, dag_id, -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 2, RECENT_RUNS);
  while (sqlite3_step(s) == SQLITE_ROW)
    json_array_append_new(arr, json_pack("{s:o, s:o, s:o}",
        "logical_date", cf__json_col_text(s, 0),
        "state", cf__json_col_text(s, 1), "run_id", cf__json_col_text(s, 2)));
  return arr;
}

static json_t *paused_map(struct cf_store *st) {
  json_t *m = json_object();
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(cf_store_db(st), "SELECT dag_id, paused FROM dags",
                         -1, &s, NULL) != SQLITE_OK)
    return m;
  while (sqlite3_step(s) == SQLITE_ROW)
    json_object_set_new(m, (const char *)sqlite3_column_text(s, 0),
                        json_boolean(sqlite3_column_int(s, 1)));
  sqlite3_finalize(s);
  return m;
}

static json_t *next_run(const struct cf_dag *dag) {
  int64_t next = 0;
  char iso[32];
  if (!dag->cron || !dag->tz) return json_null();
  if (cf_cron_next(dag->cron, dag->tz, cf_now_ms() / 1000, &next) < 0)
    return json_null();
  cf_format_iso_s(next, iso);
  return json_string(iso);
}

static json_t *dag_json(const struct cf__dag_entry *e, sqlite3_stmt *recent,
                        json_t *paused) {
  const struct cf_dag *d = e->dag;
  json_t *tasks = json_array();
  for (size_t k = 0; k < d->ntasks; k++) {
    const struct cf_task *t = &d->tasks[d->topo[k]];
    json_t *deps = json_array();
    for (size_t j = 0; j < t->ndeps; j++)
      json_array_append_new(deps, json_string(t->deps[j]));
    json_array_append_new(tasks, json_pack("{s:s, s:s, s:o}", "task_id",
                                           t->id, "plugin", t->plugin,
                                           "depends_on", deps));
  }
  json_t *runs = recent ? recent_runs(recent, d->id) : json_array();
  json_t *p = json_object_get(paused, d->id);
  char sd[11] = "";
  if (d->has_start_date) cf_date_format(d->start_date, sd);
  return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:o, s:o, s:o, s:s?, "
                   "s:b, s:i, s:o, s:o}",
                   "dag_id", d->id, "file", e->path,
                   "description", d->description, "schedule", d->schedule,
                   "timezone", d->timezone ? d->timezone : "UTC",
                   "paused", p ? json_incref(p) : json_false(),
                   "next_run", next_run(d),
                   "trigger", d->trigger ? json_incref(d->trigger)
                                         : json_null(),
                   "start_date", sd[0] ? sd : NULL,
                   "catchup", d->catchup, "max_active_runs",
                   d->max_active_runs, "tasks", tasks,
                   "recent_runs", runs);
}

void cf__api_dags(struct cf_web_req *r) {
  struct cf__dag_entry *v;
  size_t n;
  cf__dag_cache_refresh(r->web, &v, &n);
  sqlite3_stmt *recent = NULL;
  if (sqlite3_prepare_v2(cf_store_db(r->web->st), "SELECT logical_date, "
                         "state, run_id FROM runs WHERE dag_id=?1 ORDER BY "
                         "logical_date DESC LIMIT ?2", -1, &recent, NULL) !=
      SQLITE_OK)
    recent = NULL;
  json_t *paused = paused_map(r->web->st);
  json_t *dags = json_array(), *errs = json_array();
  for (size_t i = 0; i < n; i++) {
    if (v[i].dag)
      json_array_append_new(dags, dag_json(&v[i], recent, paused));
    else
      json_array_append_new(errs, json_pack("{s:s, s:s}", "file", v[i].path,
                                            "error", v[i].error));
  }
  sqlite3_finalize(recent);
  json_decref(paused);
  cf__respond_json(r, 200, json_pack("{s:o, s:o}", "dags", dags,
                                     "import_errors", errs));
}

static void set_paused(struct cf_web_req *r, int paused) {
  struct cf_dag *dag = cf__dag_cache_get(r->web, r->param[0]);
  if (!dag) {
    cf__respond_error(r, 404, "no DAG '%s' in %s", r->param[0],
                      r->web->dags_dir);
    return;
  }
  sqlite3_stmt *s = NULL;
  int ok = sqlite3_prepare_v2(cf_store_db(r->web->st),
      "INSERT INTO dags(dag_id, path, sha256, paused, updated_at) "
      "VALUES(?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ','now')) "
      "ON CONFLICT(dag_id) DO UPDATE SET paused=excluded.paused",
      -1, &s, NULL) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text(s, 1, dag->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, dag->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, dag->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, paused);
    ok = sqlite3_step(s) == SQLITE_DONE;
  }
  sqlite3_finalize(s);
  if (!ok) {
    cf__respond_error(r, 500, "store: %s", cf_store_errmsg(r->web->st));
    return;
  }
  cf_store_event(r->web->st, dag->id, 0, NULL,
                 paused ? "dag_paused" : "dag_unpaused", "{\"by\":\"web\"}");
  cf__respond_json(r, 200, json_pack("{s:s, s:b}", "dag_id", dag->id,
                                     "paused", paused));
}

void cf__api_dag_pause(struct cf_web_req *r) { set_paused(r, 1); }
void cf__api_dag_unpause(struct cf_web_req *r) { set_paused(r, 0); }
