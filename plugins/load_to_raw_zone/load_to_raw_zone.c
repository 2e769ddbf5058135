/* load_to_raw_zone: store each delivered file byte for byte in bronze,
 * named by its SHA-256, with a manifest; same bytes again change nothing. */
#include "cfb_plugin.h"

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "load_to_raw_zone",
  "Store the day's delivered files immutably in the bronze zone",
  NULL, 0, cfbp_bronze_run,
};
CF_PLUGIN_EXPORT(desc)
