/* Glue shared by the ingest stage plugins: paths relative to the DAG
 * folder, the run's work area, logging through the host. */
#ifndef CFB_PLUGIN_H
#define CFB_PLUGIN_H

#include "costflow/plugin.h"
#include "cfb_lake.h"

struct cfbp {
  struct cf_plugin_ctx *ctx;
  const struct cf_host_api *api;
};

/* Absolute path: p itself if absolute, else relative to the DAG folder
 * (so a DAG and its data can move together). Caller frees (cf_free). */
char *cfbp_path(const struct cfbp *h, const char *p);
/* cfb_log_fn adapter; ud is a struct cfbp. */
void cfbp_log(void *ud, int level, const char *msg);
/* "true"/"1"/"yes" -> 1; anything else (or NULL) -> dflt if NULL else 0. */
int cfbp_bool(const char *s, int dflt);
/* Integer param with a default. */
long long cfbp_int(const struct cfbp *h, const char *name, long long dflt);
/* Category maps plus the optional `category_map_aws` / `category_map_gcp`
 * CSV params. NULL (logged) if a CSV cannot be read. */
struct cfb_maps *cfbp_maps(const struct cfbp *h);
/* The run's work area for provider p (created). Caller frees. */
char *cfbp_work(const struct cfbp *h, enum cfb_provider p);

/* Stage bodies (each plugin folder is a thin descriptor around one). */
int cfbp_extract_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                     enum cfb_provider p);
int cfbp_bronze_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api);
int cfbp_silver_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api);
int cfbp_check_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api);
int cfbp_validate_run(struct cf_plugin_ctx *ctx,
                      const struct cf_host_api *api);
/* Optional AWS Cost Explorer pull into `work` (cfb_ce.c). Returns rows
 * staged, 0 when skipped, or negative. */
long long cfbp_ce_pull(const struct cfbp *h, const char *work);

#endif
