/* Runs of a DAG (keyset-paginated, newest first), the runs x tasks grid,
 * one run with its task instances and attempts, and its data-quality
 * results. Every page is a fixed number of queries, whatever its size. */
#include <string.h>
#include "web-int.h"

#define TI_COLS "ti.task_id, ti.state, ti.try_number, ti.max_tries, " \
  "ti.plugin, ti.start_us, ti.end_us, ti.exit_code, ti.signal, ti.reason, " \
  "ti.next_retry_us, ti.id"

static json_t *int_or_null(sqlite3_stmt *s, int col) {
  return sqlite3_column_type(s, col) == SQLITE_NULL
             ? json_null() : json_integer(sqlite3_column_int64(s, col));
}

static json_t *dur(int64_t a, int64_t b) {
  return a && b ? json_real((double)(b - a) / 1e6) : json_null();
}

/* One task instance from TI_COLS starting at column `c`. */
static json_t *ti_json(sqlite3_stmt *s, int c) {
  int64_t st = sqlite3_column_int64(s, c + 5), en = sqlite3_column_int64(s,
                                                                    c + 6);
  json_t *o = json_pack("{s:o, s:o, s:i, s:i, s:o}",
      "task_id", cf__json_col_text(s, c), "state", cf__json_col_text(s, c + 1),
      "try_number", sqlite3_column_int(s, c + 2),
      "max_tries", sqlite3_column_int(s, c + 3),
      "plugin", cf__json_col_text(s, c + 4));
  json_object_set_new(o, "start", cf__json_time(st));
  json_object_set_new(o, "end", cf__json_time(en));
  json_object_set_new(o, "duration_s", dur(st, en));
  json_object_set_new(o, "exit_code", int_or_null(s, c + 7));
  json_object_set_new(o, "signal", int_or_null(s, c + 8));
  json_object_set_new(o, "reason", cf__json_col_text(s, c + 9));
  json_object_set_new(o, "next_retry",
                      cf__json_time(sqlite3_column_int64(s, c + 10)));
  return o;
}

#define RUN_SEL "SELECT id, dag_id, run_id, kind, state, conf, " \
  "logical_date, created_us, start_us, end_us FROM runs "

static json_t *run_from_stmt(sqlite3_stmt *s) {
  struct cf_run_row run = {0};
  run.id = sqlite3_column_int64(s, 0);
  run.dag_id = (char *)sqlite3_column_text(s, 1);
  run.run_id = (char *)sqlite3_column_text(s, 2);
  run.kind = (char *)sqlite3_column_text(s, 3);
  run.state = (char *)sqlite3_column_text(s, 4);
  run.conf = (char *)sqlite3_column_text(s, 5);
  cf_date_parse((const char *)sqlite3_column_text(s, 6), &run.logical_date);
  run.created_us = sqlite3_column_int64(s, 7);
  run.start_us = sqlite3_column_int64(s, 8);
  run.end_us = sqlite3_column_int64(s, 9);
  return cf__run_json(&run);
}

/* Prepares the page query: runs of param[0] before ?before, newest first.
 * Responds 400 and returns NULL on a bad cursor or limit. */
static sqlite3_stmt *page_stmt(struct cf_web_req *r, const char *sql,
                               long *limit) {
  char *before = cf__query_get(r, "before");
  cf_date d;
  if (before && cf_date_parse(before, &d) < 0) {
    cf__respond_error(r, 400, "before must be YYYY-MM-DD");
    cf_free(before);
    return NULL;
  }
  sqlite3_stmt *s = NULL;
  if (cf__query_long(r, "limit", 25, 1, 500, limit) < 0) {
    /* answered 400 */
  } else if (sqlite3_prepare_v2(cf_store_db(r->web->st), sql, -1, &s, NULL) !=
      SQLITE_OK) {
    cf__respond_error(r, 500, "store: %s", cf_store_errmsg(r->web->st));
    s = NULL;
  } else {
    sqlite3_bind_text(s, 1, r->param[0], -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, before ? before : "9999-12-31", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, *limit + 1);  /* +1: is there a next page? */
  }
  cf_free(before);
  return s;
}

void cf__api_runs(struct cf_web_req *r) {
  long limit;
  sqlite3_stmt *s = page_stmt(r, RUN_SEL "WHERE dag_id=?1 AND "
                              "logical_date < ?2 ORDER BY logical_date DESC "
                              "LIMIT ?3", &limit);
  if (!s) return;
  json_t *runs = json_array(), *next = json_null();
  while (sqlite3_step(s) == SQLITE_ROW) {
    if ((long)json_array_size(runs) == limit) {
      json_decref(next);
      next = json_string(json_string_value(json_object_get(
          json_array_get(runs, (size_t)limit - 1), "logical_date")));
      break;
    }
    json_array_append_new(runs, run_from_stmt(s));
  }
  sqlite3_finalize(s);
  json_int_t total = 0;
  if (sqlite3_prepare_v2(cf_store_db(r->web->st),
          "SELECT count(*) FROM runs WHERE dag_id=?1", -1, &s, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(s, 1, r->param[0], -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) total = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  cf__respond_json(r, 200, json_pack("{s:s, s:o, s:o, s:I}", "dag_id",
                                     r->param[0], "runs", runs,
                                     "next_before", next, "total", total));
}

void cf__api_grid(struct cf_web_req *r) {
  long limit;
  sqlite3_stmt *s = page_stmt(r, RUN_SEL "WHERE dag_id=?1 AND "
                              "logical_date < ?2 ORDER BY logical_date DESC "
                              "LIMIT ?3", &limit);
  if (!s) return;
  json_t *runs = json_array(), *byid = json_object(), *next = json_null();
  while (sqlite3_step(s) == SQLITE_ROW) {
    if ((long)json_array_size(runs) == limit) {
      json_decref(next);
      next = json_string(json_string_value(json_object_get(
          json_array_get(runs, (size_t)limit - 1), "logical_date")));
      break;
    }
    json_t *run = run_from_stmt(s);
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)sqlite3_column_int64(s, 0));
    json_object_set_new(run, "tasks", json_object());
    json_object_set(byid, key, run);
    json_array_append_new(runs, run);
  }
  sqlite3_finalize(s);
  /* every task instance of the page's runs in one query */
  if (json_array_size(runs) &&
      sqlite3_prepare_v2(cf_store_db(r->web->st),
          "SELECT ti.run_pk, " TI_COLS " FROM task_instances ti WHERE "
          "ti.run_pk IN (SELECT id FROM runs WHERE dag_id=?1 AND "
          "logical_date < ?2 ORDER BY logical_date DESC LIMIT ?3)",
          -1, &s, NULL) == SQLITE_OK) {
    char *before = cf__query_get(r, "before");
    sqlite3_bind_text(s, 1, r->param[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, before ? before : "9999-12-31", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, limit);
    cf_free(before);
    while (sqlite3_step(s) == SQLITE_ROW) {
      char key[32];
      snprintf(key, sizeof key, "%lld",
               (long long)sqlite3_column_int64(s, 0));
      json_t *run = json_object_get(byid, key);
      if (run)
        json_object_set_new(json_object_get(run, "tasks"),
                            (const char *)sqlite3_column_text(s, 1),
                            ti_json(s, 1));
    }
    sqlite3_finalize(s);
  }
  json_decref(byid);
  /* task order: the DAG's topological order when the file loads */
  json_t *tasks = json_array();
  struct cf_dag *dag = cf__dag_cache_get(r->web, r->param[0]);
  for (size_t k = 0; dag && k < dag->ntasks; k++) {
    const struct cf_task *t = &dag->tasks[dag->topo[k]];
    json_t *deps = json_array();
    for (size_t j = 0; j < t->ndeps; j++)
      json_array_append_new(deps, json_string(t->deps[j]));
    json_array_append_new(tasks, json_pack("{s:s, s:s, s:o}", "task_id",
                          t->id, "plugin", t->plugin, "depends_on", deps));
  }
  if (!dag) {  /* file gone or broken: the tasks the runs know about */
    json_t *seen = json_object();
    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run) {
      const char *k;
      json_t *v;
      json_object_foreach(json_object_get(run, "tasks"), k, v)
        if (!json_object_get(seen, k)) {
          json_object_set_new(seen, k, json_true());
          json_array_append_new(tasks, json_pack("{s:s}", "task_id", k));
        }
    }
    json_decref(seen);
  }
  cf__respond_json(r, 200, json_pack("{s:s, s:o, s:o, s:o}", "dag_id",
                                     r->param[0], "tasks", tasks, "runs",
                                     runs, "next_before", next));
}

void cf__api_run(struct cf_web_req *r) {
  struct cf_run_row run = {0};
  if (cf__req_run(r, &run) < 0) return;
  json_t *tis = json_array(), *byti = json_object();
  sqlite3_stmt *s = NULL;
  sqlite3 *db = cf_store_db(r->web->st);
  if (sqlite3_prepare_v2(db, "SELECT " TI_COLS " FROM task_instances ti "
                         "WHERE ti.run_pk=?1 ORDER BY ti.start_us IS NULL, "
                         "ti.start_us, ti.id", -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(s, 1, run.id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      json_t *t = ti_json(s, 0);
      char key[32];
      snprintf(key, sizeof key, "%lld",
               (long long)sqlite3_column_int64(s, 11));
      json_object_set_new(t, "attempts", json_array());
      json_object_set(byti, key, t);
      json_array_append_new(tis, t);
    }
  }
  sqlite3_finalize(s);
  if (sqlite3_prepare_v2(db, "SELECT a.ti_pk, a.try_number, a.state, "
        "a.start_us, a.end_us, a.exit_code, a.signal, a.reason, a.pid "
        "FROM attempts a JOIN task_instances ti ON ti.id=a.ti_pk "
        "WHERE ti.run_pk=?1 ORDER BY a.ti_pk, a.try_number", -1, &s,
        NULL) == SQLITE_OK) {
    sqlite3_bind_int64(s, 1, run.id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      char key[32];
      snprintf(key, sizeof key, "%lld",
               (long long)sqlite3_column_int64(s, 0));
      json_t *t = json_object_get(byti, key);
      if (!t) continue;
      int64_t st = sqlite3_column_int64(s, 3), en = sqlite3_column_int64(s,
                                                                        4);
      json_t *a = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
          "try_number", sqlite3_column_int(s, 1),
          "state", cf__json_col_text(s, 2), "start", cf__json_time(st),
          "end", cf__json_time(en), "duration_s", dur(st, en),
          "exit_code", int_or_null(s, 5), "signal", int_or_null(s, 6),
          "reason", cf__json_col_text(s, 7), "pid", int_or_null(s, 8));
      json_array_append_new(json_object_get(t, "attempts"), a);
    }
  }
  sqlite3_finalize(s);
  json_decref(byti);
  cf__respond_json(r, 200, json_pack("{s:o, s:o}", "run", cf__run_json(&run),
                                     "tasks", tis));
  cf_run_row_release(&run);
}

void cf__api_run_dq(struct cf_web_req *r) {
  struct cf_run_row run = {0};
  if (cf__req_run(r, &run) < 0) return;
  json_t *res = json_array();
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(cf_store_db(r->web->st),
        "SELECT task_id, rule, severity, rows_checked, rows_failed, passed,"
        " samples, at FROM dq_results WHERE run_pk=?1 ORDER BY id LIMIT 1000",
        -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(s, 1, run.id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      const char *sm = (const char *)sqlite3_column_text(s, 6);
      json_t *samples = sm ? json_loads(sm, 0, NULL) : NULL;
      json_array_append_new(res, json_pack(
          "{s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o}",
          "task_id", cf__json_col_text(s, 0), "rule", cf__json_col_text(s, 1),
          "severity", cf__json_col_text(s, 2),
          "rows_checked", int_or_null(s, 3), "rows_failed",
          int_or_null(s, 4), "passed", sqlite3_column_int(s, 5),
          "samples", samples ? samples : cf__json_col_text(s, 6),
          "at", cf__json_col_text(s, 7)));
    }
  }
  sqlite3_finalize(s);
  cf__respond_json(r, 200, json_pack("{s:s, s:s, s:o}", "dag_id",
                                     run.dag_id, "run_id", run.run_id,
                                     "results", res));
  cf_run_row_release(&run);
}
