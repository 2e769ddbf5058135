/* publish_report: writes $HOME/reports/<dag>/<ds>/report.html (inline SVG
 * charts, spend, anomalies, zombies, data quality) and summary.md, each
 * atomically (temp + fsync + rename). Output `report`: the HTML path. */
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/plugin.h"
#include "gold_plugin.h"
#include "gold_warehouse.h"
#include "report_build.h"

static const struct cf_param_spec params[] = {
  {"from_task", CF_PARAM_STRING, 0, "load_to_analytics",
   "task whose `partitions` output lists the run's usage dates"},
  {"dates", CF_PARAM_LIST, 0, NULL,
   "explicit usage dates (YYYY-MM-DD) instead of from_task's output"},
  {"warehouse", CF_PARAM_STRING, 0, "warehouse.db",
   "SQLite warehouse, relative to COSTFLOW_HOME unless absolute"},
  {"reports_dir", CF_PARAM_STRING, 0, "reports",
   "report root, relative to COSTFLOW_HOME unless absolute"},
  {"history_days", CF_PARAM_INT, 0, "30", "days shown in the charts"},
};

static int valid_component(const char *s) {
  return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  struct cfb_dates dates = {0};
  char *wh = NULL, *root = NULL, *dir = NULL, *hpath = NULL, *mpath = NULL;
  char *html = NULL, *md = NULL, *store = NULL, *err = NULL;
  sqlite3 *db = NULL;
  int result = CF_RESULT_FAIL, ret;
  const char *dag = api->dag_id(ctx), *ds = api->logical_date(ctx);
  const char *hd = api->param(ctx, "history_days");

  if (!valid_component(dag) || !valid_component(ds)) {
    api->log(ctx, CF_LOG_ERROR, "bad dag id or logical date");
    return CF_RESULT_FAIL;
  }
  if (cfb_task_dates(ctx, api, "load_to_analytics", "partitions",
                     &dates) < 0)
    goto done;
  wh = cfb_home_path(ctx, api, "warehouse", "warehouse.db");
  root = cfb_home_path(ctx, api, "reports_dir", "reports");
  store = cfb_home_path(ctx, api, NULL, "costflow.db");
  if (!wh || !root || !store) goto done;
  dir = cf_asprintf("%s/%s/%s", root, dag, ds);
  hpath = cf_asprintf("%s/report.html", dir);
  mpath = cf_asprintf("%s/summary.md", dir);
  if (!dir || !hpath || !mpath) goto done;
  /* Read-write open creates the schema, so an empty warehouse still
   * gives a (mostly empty) report rather than a failure. */
  if ((ret = cfb_gold_open(wh, &db, &err)) < 0) {
    api->log(ctx, CF_LOG_ERROR, "%s", err ? err : cf_strerror(ret));
    goto done;
  }
  struct cfb_report_in in = {dag, api->run_id(ctx), ds, db, store,
                             (const char (*)[11])dates.v, dates.n,
                             hd ? atoi(hd) : 30};
  if (in.history_days < 1 || in.history_days > 366) in.history_days = 30;
  if ((ret = cfb_report_build(&in, &html, &md)) < 0) {
    api->log(ctx, CF_LOG_ERROR, "building report: %s", cf_strerror(ret));
    goto done;
  }
  if ((ret = cf_mkdir_p(dir, 0755)) < 0 ||
      (ret = cf_write_file_atomic(mpath, md, strlen(md))) < 0 ||
      (ret = cf_write_file_atomic(hpath, html, strlen(html))) < 0) {
    api->log(ctx, CF_LOG_ERROR, "writing %s: %s", dir, cf_strerror(ret));
    goto done;
  }
  api->log(ctx, CF_LOG_INFO, "report written: %s", hpath);
  if (api->output_set(ctx, "report", hpath) < 0 ||
      api->output_set(ctx, "summary", mpath) < 0)
    goto done;
  result = CF_RESULT_OK;
done:
  sqlite3_close(db);
  cf_free(err);
  cf_free(html);
  cf_free(md);
  cf_free(mpath);
  cf_free(hpath);
  cf_free(dir);
  cf_free(store);
  cf_free(root);
  cf_free(wh);
  cfb_dates_release(&dates);
  return result;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "publish_report",
  "Write a static HTML report (inline SVG charts) and a Markdown summary "
  "of spend, anomalies, zombies and data quality",
  params, sizeof params / sizeof *params, run,
};
CF_PLUGIN_EXPORT(desc)
