/* check_availability: the inputs of the logical date are there (paths or
 * globs, minimum files/bytes, optional marker); if not yet, RETRY so the
 * task's retry policy waits instead of failing the run. */
#include "cfb_plugin.h"

static const struct cf_param_spec params[] = {
  {"paths", CF_PARAM_LIST, 1, NULL,
   "folders or globs (templates rendered; relative to the DAG folder)"},
  {"min_files", CF_PARAM_INT, 0, "1", "at least this many files in total"},
  {"min_bytes", CF_PARAM_INT, 0, "0", "at least this many bytes in total"},
  {"marker", CF_PARAM_STRING, 0, NULL,
   "file name required in every folder (e.g. _SUCCESS), or a path"},
};

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "check_availability",
  "Wait (retry) until the day's billing files have landed",
  params, sizeof params / sizeof *params, cfbp_check_run,
};
CF_PLUGIN_EXPORT(desc)
