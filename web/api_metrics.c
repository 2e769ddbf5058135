/* GET /metrics (Prometheus text format 0.0.4) and GET /healthz. Gauges
 * are read from the store on each scrape with a few grouped queries;
 * HTTP counters are this process's own. */
#include <string.h>
#include "web-int.h"

static const double run_buckets[] = {1, 5, 15, 30, 60, 300, 900, 1800,
                                     3600, 7200, 21600};
#define NB (sizeof run_buckets / sizeof *run_buckets)

/* Label values escape \, " and newline (exposition format). */
static void label(struct cf_buf *b, const char *v) {
  for (; v && *v; v++) {
    if (*v == '\\') cf_buf_adds(b, "\\\\");
    else if (*v == '"') cf_buf_adds(b, "\\\"");
    else if (*v == '\n') cf_buf_adds(b, "\\n");
    else cf_buf_addch(b, *v);
  }
}

static void head(struct cf_buf *b, const char *name, const char *type,
                 const char *help) {
  cf_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Runs `sql`; each row is label values (nlabels columns) then a value. */
static void grouped(struct cf_buf *b, sqlite3 *db, const char *name,
                    const char *sql, const char *const *labels,
                    int nlabels) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return;
  while (sqlite3_step(s) == SQLITE_ROW) {
    cf_buf_adds(b, name);
    for (int i = 0; i < nlabels; i++) {
      cf_buf_addf(b, "%s%s=\"", i ? "," : "{", labels[i]);
      label(b, (const char *)sqlite3_column_text(s, i));
      cf_buf_addch(b, '"');
    }
    cf_buf_addf(b, "%s %s\n", nlabels ? "}" : "",
                (const char *)sqlite3_column_text(s, nlabels));
  }
  sqlite3_finalize(s);
}

static void durations(struct cf_buf *b, sqlite3 *db) {
  /* one pass per scrape: bucket counts computed in SQL */
  struct cf_buf sql = CF_BUF_INIT(0);
  cf_buf_adds(&sql, "SELECT dag_id, state");
  for (size_t i = 0; i < NB; i++)
    cf_buf_addf(&sql, ", sum(d <= %g)", run_buckets[i]);
  cf_buf_adds(&sql, ", count(*), total(d) FROM (SELECT dag_id, state, "
              "(end_us - start_us) / 1e6 AS d FROM runs WHERE state IN "
              "('success','failed') AND end_us > 0 AND start_us > 0) "
              "GROUP BY dag_id, state");
  sqlite3_stmt *s = NULL;
  const char *n = "costflow_dagrun_duration_seconds";
  head(b, n, "histogram", "Duration of finished DAG runs.");
  if (sqlite3_prepare_v2(db, sql.buf, -1, &s, NULL) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      struct cf_buf l = CF_BUF_INIT(0);
      cf_buf_adds(&l, "dag=\"");
      label(&l, (const char *)sqlite3_column_text(s, 0));
      cf_buf_adds(&l, "\",state=\"");
      label(&l, (const char *)sqlite3_column_text(s, 1));
      cf_buf_adds(&l, "\"");
      for (size_t i = 0; i < NB; i++)
        cf_buf_addf(b, "%s_bucket{%s,le=\"%g\"} %lld\n", n, l.buf,
                    run_buckets[i],
                    (long long)sqlite3_column_int64(s, 2 + (int)i));
      long long cnt = sqlite3_column_int64(s, 2 + NB);
      cf_buf_addf(b, "%s_bucket{%s,le=\"+Inf\"} %lld\n", n, l.buf, cnt);
      cf_buf_addf(b, "%s_sum{%s} %.6f\n", n, l.buf,
                  sqlite3_column_double(s, 3 + NB));
      cf_buf_addf(b, "%s_count{%s} %lld\n", n, l.buf, cnt);
      cf_buf_release(&l);
    }
  }
  sqlite3_finalize(s);
  cf_buf_release(&sql);
}

void cf__api_metrics(struct cf_web_req *r) {
  struct cf_web *w = r->web;
  sqlite3 *db = cf_store_db(w->st);
  struct cf_buf b = CF_BUF_INIT(0);
  static const char *const dag_state[] = {"dag", "state"};
  static const char *const state[] = {"state"};
  static const char *const dag[] = {"dag"};
  static const char *const dag_task[] = {"dag", "task"};

  head(&b, "costflow_dag_runs", "gauge", "DAG runs by DAG and state.");
  grouped(&b, db, "costflow_dag_runs", "SELECT dag_id, state, count(*) "
          "FROM runs GROUP BY 1, 2 ORDER BY 1, 2", dag_state, 2);
  head(&b, "costflow_task_instances", "gauge",
       "Task instances by state.");
  grouped(&b, db, "costflow_task_instances", "SELECT state, count(*) FROM "
          "task_instances GROUP BY 1 ORDER BY 1", state, 1);
  head(&b, "costflow_queue_depth", "gauge",
       "Task instances waiting to run (queued or up for retry).");
  grouped(&b, db, "costflow_queue_depth", "SELECT count(*) FROM "
          "task_instances WHERE state IN ('queued','up_for_retry')", NULL,
          0);
  head(&b, "costflow_runs_queued", "gauge", "Runs not started yet.");
  grouped(&b, db, "costflow_runs_queued", "SELECT count(*) FROM runs "
          "WHERE state='queued'", NULL, 0);
  durations(&b, db);
  head(&b, "costflow_scheduling_delay_seconds", "gauge",
       "Mean wait between a run's creation and its start, last 100 runs.");
  grouped(&b, db, "costflow_scheduling_delay_seconds", "SELECT dag_id, "
          "printf('%.6f', avg((start_us - created_us) / 1e6)) FROM (SELECT "
          "dag_id, start_us, created_us, row_number() OVER (PARTITION BY "
          "dag_id ORDER BY created_us DESC) rn FROM runs WHERE start_us > 0)"
          " WHERE rn <= 100 GROUP BY 1 ORDER BY 1", dag, 1);
  head(&b, "costflow_last_success_timestamp_seconds", "gauge",
       "End time of the last successful run (freshness alerts).");
  grouped(&b, db, "costflow_last_success_timestamp_seconds", "SELECT "
          "dag_id, printf('%.3f', max(end_us) / 1e6) FROM runs WHERE "
          "state='success' GROUP BY 1 ORDER BY 1", dag, 1);
  head(&b, "costflow_task_failures_total", "counter",
       "Failed task attempts.");
  grouped(&b, db, "costflow_task_failures_total", "SELECT r.dag_id, "
          "ti.task_id, count(*) FROM attempts a JOIN task_instances ti ON "
          "ti.id=a.ti_pk JOIN runs r ON r.id=ti.run_pk WHERE a.state="
          "'failed' GROUP BY 1, 2 ORDER BY 1, 2", dag_task, 2);
  head(&b, "costflow_sensor_files_total", "counter",
       "Files accepted by sensors.");
  grouped(&b, db, "costflow_sensor_files_total", "SELECT dag_id, count(*) "
          "FROM sensor_files GROUP BY 1 ORDER BY 1", dag, 1);
  struct cf__dag_entry *v;
  size_t n, nerr = 0;
  cf__dag_cache_refresh(w, &v, &n);
  for (size_t i = 0; i < n; i++) nerr += v[i].dag == NULL;
  head(&b, "costflow_dag_import_errors", "gauge",
       "DAG files that fail to load.");
  cf_buf_addf(&b, "costflow_dag_import_errors %zu\n", nerr);
  head(&b, "costflow_http_requests_total", "counter",
       "HTTP requests answered, by class.");
  cf_buf_addf(&b, "costflow_http_requests_total{class=\"all\"} %llu\n"
              "costflow_http_requests_total{class=\"4xx\"} %llu\n"
              "costflow_http_requests_total{class=\"5xx\"} %llu\n",
              (unsigned long long)w->http_requests,
              (unsigned long long)w->http_4xx,
              (unsigned long long)w->http_5xx);
  head(&b, "costflow_http_connections", "gauge", "Open HTTP connections.");
  cf_buf_addf(&b, "costflow_http_connections %d\n", w->nconns);
  head(&b, "costflow_http_refused_total", "counter",
       "Connections refused at the connection cap.");
  cf_buf_addf(&b, "costflow_http_refused_total %llu\n",
              (unsigned long long)w->conns_refused);
  head(&b, "costflow_http_timeouts_total", "counter",
       "Requests cut off by header or body timeouts.");
  cf_buf_addf(&b, "costflow_http_timeouts_total %llu\n",
              (unsigned long long)w->timeouts);
  head(&b, "costflow_uploads_total", "counter", "Files uploaded.");
  cf_buf_addf(&b, "costflow_uploads_total %llu\n",
              (unsigned long long)w->uploads);
  head(&b, "costflow_upload_bytes_total", "counter", "Bytes uploaded.");
  cf_buf_addf(&b, "costflow_upload_bytes_total %llu\n",
              (unsigned long long)w->upload_bytes);
  head(&b, "costflow_web_start_time_seconds", "gauge",
       "When this web server started.");
  cf_buf_addf(&b, "costflow_web_start_time_seconds %.3f\n",
              (double)w->started_ms / 1000);
  cf__respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.buf,
              b.len, NULL);
  cf_buf_release(&b);
}

void cf__api_healthz(struct cf_web_req *r) {
  sqlite3_stmt *s = NULL;
  int ok = sqlite3_prepare_v2(cf_store_db(r->web->st), "SELECT 1", -1, &s,
                              NULL) == SQLITE_OK &&
           sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  cf__respond_json(r, ok ? 200 : 503, json_pack("{s:s, s:s, s:I}",
      "status", ok ? "ok" : "store unavailable", "version", "0.1.0",
      "uptime_s", (json_int_t)((cf_now_ms() - r->web->started_ms) / 1000)));
}
