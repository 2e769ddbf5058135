/* TEMPORARY during parallel development: weak fallbacks for commands whose
 * files have not landed yet. Deleted before release. */
#include "cli.h"
#define PENDING(fn) \
  __attribute__((weak)) int fn(int argc, char **argv, struct cf_cli *cli) { \
    (void)argc; (void)cli; \
    return cf_cli_error(CF_EXIT_USAGE, "'%s' is not built yet", argv[0]); }
PENDING(cmd_dags) PENDING(cmd_schedule) PENDING(cmd_plugins) PENDING(cmd_run)
PENDING(cmd_backfill) PENDING(cmd_rerun) PENDING(cmd_runs) PENDING(cmd_tasks)
PENDING(cmd_logs) PENDING(cmd_task_run) PENDING(cmd_costs)
PENDING(cmd_anomalies) PENDING(cmd_zombies) PENDING(cmd_verify)
