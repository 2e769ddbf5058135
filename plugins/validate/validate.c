/* validate: data-quality rules from params over the raw staging or the
 * run's silver partitions; results go to the store. */
#include "cfb_plugin.h"

static const struct cf_param_spec params[] = {
  {"stage", CF_PARAM_STRING, 0, "raw", "raw (extract staging) or cleaned"},
  {"silver_task", CF_PARAM_STRING, 0, "transform_to_cleaned",
   "task whose 'partitions' output lists the silver dates (cleaned)"},
  {"required_columns", CF_PARAM_LIST, 0, NULL, "columns that must exist"},
  {"not_null", CF_PARAM_LIST, 0, NULL, "columns that must not be empty"},
  {"unique_key", CF_PARAM_LIST, 0, NULL, "columns forming a unique key"},
  {"accepted_values", CF_PARAM_JSON, 0, NULL, "map column -> allowed list"},
  {"numeric", CF_PARAM_LIST, 0, NULL, "columns that must be decimals"},
  {"dates", CF_PARAM_LIST, 0, NULL, "columns that must be timestamps"},
  {"non_negative_cost_except_credits", CF_PARAM_BOOL, 0, "false",
   "BilledCost >= 0 unless a credit, refund or adjustment"},
  {"date_continuity", CF_PARAM_BOOL, 0, "false",
   "no missing usage day between the first and the last"},
  {"row_count_min", CF_PARAM_INT, 0, NULL, "fewest rows allowed"},
  {"row_count_max", CF_PARAM_INT, 0, NULL, "most rows allowed"},
  {"severity", CF_PARAM_MAP, 0, NULL,
   "rule (or rule:column) -> critical|warning"},
  {"max_failed_ratio", CF_PARAM_MAP, 0, NULL,
   "rule (or rule:column) -> tolerated failed/checked ratio, e.g. 0.01"},
  {"default_severity", CF_PARAM_STRING, 0, "critical",
   "severity of rules not named in 'severity'"},
};

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "validate",
  "Data-quality rules over raw staging or silver partitions",
  params, sizeof params / sizeof *params, cfbp_validate_run,
};
CF_PLUGIN_EXPORT(desc)
