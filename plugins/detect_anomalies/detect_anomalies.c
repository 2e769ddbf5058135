/* detect_anomalies: runs the cost anomaly and zombie rules on the usage
 * dates the gold stage loaded, replacing their findings in the warehouse.
 * Rules: plugins/lib/anomaly_rule.h, docs/billing-pipeline.md. */
#include <stdio.h>
#include <stdlib.h>
#include "costflow/common.h"
#include "costflow/plugin.h"
#include "anomaly_detect.h"
#include "gold_plugin.h"
#include "gold_warehouse.h"

static const struct cf_param_spec params[] = {
  {"from_task", CF_PARAM_STRING, 0, "load_to_analytics",
   "task whose `partitions` output lists the usage dates to evaluate"},
  {"dates", CF_PARAM_LIST, 0, NULL,
   "explicit usage dates (YYYY-MM-DD) instead of from_task's output"},
  {"warehouse", CF_PARAM_STRING, 0, "warehouse.db",
   "SQLite warehouse, relative to COSTFLOW_HOME unless absolute"},
  {"min_days", CF_PARAM_INT, 0, "3",
   "fewest loaded days of the 7-day trailing window to evaluate a date"},
};

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  struct cfb_dates dates = {0};
  struct cfb_anomaly_counts c;
  struct cfb_anomaly_opts opts = {3};
  const char **dv = NULL;
  char *wh = NULL, *err = NULL;
  sqlite3 *db = NULL;
  int result = CF_RESULT_FAIL, ret;
  const char *md = api->param(ctx, "min_days");

  if (md && *md) opts.min_days = atoi(md);
  if (opts.min_days < 1 || opts.min_days > CFB_ANOMALY_WINDOW) {
    api->log(ctx, CF_LOG_ERROR, "min_days must be 1..%d",
             CFB_ANOMALY_WINDOW);
    goto done;
  }
  if (cfb_task_dates(ctx, api, "load_to_analytics", "partitions",
                     &dates) < 0)
    goto done;
  wh = cfb_home_path(ctx, api, "warehouse", "warehouse.db");
  dv = cf_calloc(dates.n ? dates.n : 1, sizeof *dv);
  if (!wh || !dv) goto done;
  for (size_t i = 0; i < dates.n; i++) dv[i] = dates.v[i];
  if ((ret = cfb_gold_open(wh, &db, &err)) < 0 ||
      (ret = cfb_anomaly_detect(db, dv, dates.n, &opts, &c, &err)) < 0) {
    api->log(ctx, CF_LOG_ERROR, "%s", err ? err : cf_strerror(ret));
    goto done;
  }
  api->log(ctx, CF_LOG_INFO, "evaluated %lld date(s) (%lld with too little"
           " history): %lld anomalies, %lld zombie resources",
           (long long)c.dates, (long long)c.skipped,
           (long long)c.anomalies, (long long)c.zombies);
  char num[32];
  snprintf(num, sizeof num, "%lld", (long long)c.anomalies);
  if (api->output_set(ctx, "anomalies", num) < 0) goto done;
  snprintf(num, sizeof num, "%lld", (long long)c.zombies);
  if (api->output_set(ctx, "zombies", num) < 0) goto done;
  snprintf(num, sizeof num, "%lld", (long long)c.dates);
  if (api->output_set(ctx, "dates_evaluated", num) < 0) goto done;
  result = CF_RESULT_OK;
done:
  sqlite3_close(db);
  cf_free(err);
  cf_free(dv);
  cf_free(wh);
  cfb_dates_release(&dates);
  return result;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "detect_anomalies",
  "Flag daily cost anomalies (>20% and >2 sigma above the trailing 7-day "
  "average) and zombie resources (cost with zero usage) in gold",
  params, sizeof params / sizeof *params, run,
};
CF_PLUGIN_EXPORT(desc)
