/* The costflow command line: one table row per subcommand, one file each.
 *
 * How to add a command:
 *   1. Write `int cmd_NAME(int argc, char **argv, struct cf_cli *cli)` in
 *      scheduler/cmd_NAME.c; argv[0] is the command name. Parse options
 *      with getopt_long; print usage on --help (exit 0) and bad usage
 *      (exit 2).
 *   2. Declare it below and add a row to `commands[]` in main.c.
 * Exit codes: 0 ok, 1 a run/check failed, 2 bad usage or invalid input. */
#ifndef COSTFLOW_CLI_H
#define COSTFLOW_CLI_H

#include <stdio.h>

#define CF_EXIT_OK 0
#define CF_EXIT_FAIL 1
#define CF_EXIT_USAGE 2

struct cf_cli {
  const char *home;         /* --home, $COSTFLOW_HOME, default ./var */
  const char *dags_dir;     /* --dags, $COSTFLOW_DAGS, default ./dags */
  const char *plugin_path;  /* --plugins, $COSTFLOW_PLUGIN_PATH, or NULL */
  const char *exe;          /* absolute path of this binary */
};

struct cf_cmd {
  const char *name;
  const char *summary;
  int (*fn)(int argc, char **argv, struct cf_cli *cli);
};

/* Completes cli once the command line has been read into it (fields
 * not given are NULL): fills exe (this binary's absolute path), then each
 * of home, dags_dir and plugin_path not given from COSTFLOW_HOME,
 * COSTFLOW_DAGS, COSTFLOW_PLUGIN_PATH, then the defaults: an empty or
 * unset home is ./var, dags_dir ./dags, plugin_path NULL (the built-in
 * plugin folder only). Shared by costflow and costflow-task. */
void cf_cli_setup(struct cf_cli *cli);

/* Prints "costflow: MSG\n" on stderr and returns `code` (git's error()). */
int cf_cli_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int cmd_dags(int argc, char **argv, struct cf_cli *cli);
int cmd_schedule(int argc, char **argv, struct cf_cli *cli);
int cmd_plugins(int argc, char **argv, struct cf_cli *cli);
int cmd_run(int argc, char **argv, struct cf_cli *cli);
int cmd_backfill(int argc, char **argv, struct cf_cli *cli);
int cmd_rerun(int argc, char **argv, struct cf_cli *cli);
int cmd_scheduler(int argc, char **argv, struct cf_cli *cli);
int cmd_runs(int argc, char **argv, struct cf_cli *cli);
int cmd_tasks(int argc, char **argv, struct cf_cli *cli);
int cmd_logs(int argc, char **argv, struct cf_cli *cli);
int cmd_task_run(int argc, char **argv, struct cf_cli *cli);
int cmd_costs(int argc, char **argv, struct cf_cli *cli);
int cmd_anomalies(int argc, char **argv, struct cf_cli *cli);
int cmd_zombies(int argc, char **argv, struct cf_cli *cli);
int cmd_verify(int argc, char **argv, struct cf_cli *cli);
int cmd_web(int argc, char **argv, struct cf_cli *cli);

#endif
