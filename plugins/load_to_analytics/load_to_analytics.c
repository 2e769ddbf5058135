/* load_to_analytics (gold): loads the silver partitions an upstream task
 * published into the SQLite warehouse, in one transaction, and records
 * each gold partition (dataset gold.fact_daily_cost) in the store. */
#include <stdio.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/plugin.h"
#include "gold_plugin.h"
#include "gold_warehouse.h"

static const struct cf_param_spec params[] = {
  {"from_task", CF_PARAM_STRING, 0, "transform_to_cleaned",
   "task whose `partitions` output lists the usage dates to load"},
  {"dates", CF_PARAM_LIST, 0, NULL,
   "explicit usage dates (YYYY-MM-DD) instead of from_task's output"},
  {"warehouse", CF_PARAM_STRING, 0, "warehouse.db",
   "SQLite warehouse, relative to COSTFLOW_HOME unless absolute"},
  {"silver", CF_PARAM_STRING, 0, "lake/silver/cost",
   "silver dataset root, relative to COSTFLOW_HOME unless absolute"},
};

/* Records each published partition in the store, with silver lineage. */
static int record_parts(struct cf_plugin_ctx *ctx,
                        const struct cf_host_api *api,
                        const struct cfb_gold_part *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char key[32], inputs[80];
    snprintf(key, sizeof key, "usage_date=%s", p[i].date);
    snprintf(inputs, sizeof inputs, "[\"%s\"]", p[i].silver_checksum);
    int64_t v = api->partition_record(ctx, "gold.fact_daily_cost", key,
                                      p[i].fact_rows, p[i].checksum, inputs);
    if (v < 0) {
      api->log(ctx, CF_LOG_ERROR, "recording %s: %s", key,
               cf_strerror((int)v));
      return (int)v;
    }
    api->log(ctx, CF_LOG_INFO, "gold %s: %lld fact rows from %lld silver "
             "rows, gold v%lld, sha256 %s", key, (long long)p[i].fact_rows,
             (long long)p[i].silver_rows, (long long)p[i].version,
             p[i].checksum);
  }
  return 0;
}

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  struct cfb_dates dates = {0};
  struct cfb_gold_part *parts = NULL;
  const char **dv = NULL;
  char *wh = NULL, *silver = NULL, *err = NULL, *out = NULL;
  sqlite3 *db = NULL;
  int result = CF_RESULT_FAIL, ret;

  if (cfb_task_dates(ctx, api, "transform_to_cleaned", "partitions",
                     &dates) < 0)
    goto done;
  wh = cfb_home_path(ctx, api, "warehouse", "warehouse.db");
  silver = cfb_home_path(ctx, api, "silver", "lake/silver/cost");
  parts = cf_calloc(dates.n ? dates.n : 1, sizeof *parts);
  dv = cf_calloc(dates.n ? dates.n : 1, sizeof *dv);
  if (!wh || !silver || !parts || !dv) goto done;
  for (size_t i = 0; i < dates.n; i++) dv[i] = dates.v[i];
  if ((ret = cfb_gold_open(wh, &db, &err)) < 0) {
    api->log(ctx, CF_LOG_ERROR, "%s", err ? err : cf_strerror(ret));
    goto done;
  }
  struct cfb_gold_run run_info = {api->dag_id(ctx), api->run_id(ctx),
                                  api->logical_date(ctx)};
  ret = cfb_gold_load(db, silver, dv, dates.n, &run_info, parts, &err);
  if (ret < 0) {
    api->log(ctx, CF_LOG_ERROR, "gold load failed, nothing published: %s",
             err ? err : cf_strerror(ret));
    goto done;
  }
  api->log(ctx, CF_LOG_INFO, "loaded %zu usage date(s) into %s", dates.n,
           wh);
  if (record_parts(ctx, api, parts, dates.n) < 0) goto done;
  out = cfb_dates_to_json(&dates);
  if (!out || api->output_set(ctx, "partitions", out) < 0) goto done;
  result = CF_RESULT_OK;
done:
  sqlite3_close(db);
  cf_free(out);
  cf_free(err);
  cf_free(dv);
  cf_free(parts);
  cf_free(silver);
  cf_free(wh);
  cfb_dates_release(&dates);
  return result;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "load_to_analytics",
  "Load silver cost partitions into the gold SQLite warehouse (star "
  "schema, aggregates), replacing each usage date atomically",
  params, sizeof params / sizeof *params, run,
};
CF_PLUGIN_EXPORT(desc)
