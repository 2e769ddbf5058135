/* transform_to_cleaned: recompute, from bronze only, every usage date the
 * day's deliveries touch; dedupe, apply restatements and publish each
 * silver partition atomically. */
#include "cfb_plugin.h"

static const struct cf_param_spec params[] = {
  {"dates", CF_PARAM_STRING, 0, NULL,
   "comma-separated usage dates to recompute instead (operator re-run)"},
  {"keep_versions", CF_PARAM_INT, 0, "3",
   "partition versions kept on disk (the live one included)"},
  {"threads", CF_PARAM_INT, 0, "0",
   "usage dates deduped and published at once (0: one per CPU, max 8)"},
  {"category_map_aws", CF_PARAM_STRING, 0, NULL,
   "CSV product_code,ServiceCategory adding to the built-in table"},
  {"category_map_gcp", CF_PARAM_STRING, 0, NULL,
   "CSV service description,ServiceCategory adding to the built-in table"},
};

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "transform_to_cleaned",
  "Build silver cost partitions (FOCUS columns) from bronze",
  params, sizeof params / sizeof *params, cfbp_silver_run,
};
CF_PLUGIN_EXPORT(desc)
