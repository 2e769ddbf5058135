/* extract_gcp: stream the GCP billing files delivered for the logical date
 * into the run's staging area (see docs/billing-ingest.md). */
#include "cfb_plugin.h"

static const struct cf_param_spec params[] = {
  {"landing", CF_PARAM_STRING, 1, NULL,
   "landing root; files for day D are under gcp/year=YYYY/month=MM/day=DD"},
  {"category_map_aws", CF_PARAM_STRING, 0, NULL,
   "CSV product_code,ServiceCategory adding to the built-in table"},
  {"category_map_gcp", CF_PARAM_STRING, 0, NULL,
   "CSV service description,ServiceCategory adding to the built-in table"},
};

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  return cfbp_extract_run(ctx, api, CFB_GCP);
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "extract_gcp",
  "Read GCP billing exports of the day into normalized staging",
  params, sizeof params / sizeof *params, run,
};
CF_PLUGIN_EXPORT(desc)
