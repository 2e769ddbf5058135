/* costflow entry point: global options, then dispatch to one subcommand. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const struct cf_cmd commands[] = {
  {"dags", "list, validate, show DAGs and their next fire times", cmd_dags},
  {"schedule", "evaluate a cron expression: schedule next", cmd_schedule},
  {"plugins", "list installed stage plugins and their params", cmd_plugins},
  {"run", "run one logical date of a DAG in the foreground", cmd_run},
  {"backfill", "run a range of logical dates", cmd_backfill},
  {"rerun", "clear and run again a date, a task, or what failed", cmd_rerun},
  {"scheduler", "run the scheduler daemon (ticks, sensors, hand-offs)",
   cmd_scheduler},
  {"runs", "list the runs of a DAG", cmd_runs},
  {"tasks", "list the task instances of one run", cmd_tasks},
  {"logs", "print the log of one task attempt", cmd_logs},
  {"costs", "spend from the gold warehouse", cmd_costs},
  {"anomalies", "cost anomalies found by detect_anomalies", cmd_anomalies},
  {"zombies", "idle resources that still cost money", cmd_zombies},
  {"verify", "recompute a date in scratch and compare", cmd_verify},
  {"web", "serve the web UI and JSON API", cmd_web},
  {"task-run", "(internal) run one task attempt in this process",
   cmd_task_run},
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: costflow [--home DIR] [--dags DIR] [--plugins PATH] "
          "<command> [args]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (commands[i].name[0] != 't' || strcmp(commands[i].name, "task-run"))
      fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nRun 'costflow <command> --help' for a command's options.\n"
               "Exit status: 0 ok, 1 a run failed, 2 usage or bad input.\n");
}

/* Takes --home/--dags/--plugins out of argv wherever they appear, so they
 * work before or after the command name. Returns the new argc, or -1. */
static int take_global_opts(int argc, char **argv, struct cf_cli *cli) {
  int out = 1;
  for (int i = 1; i < argc; i++) {
    const char **slot = NULL;
    const char *a = argv[i];
    size_t n = 0;
    if (!strncmp(a, "--home", 6)) { slot = &cli->home; n = 6; }
    else if (!strncmp(a, "--dags", 6)) { slot = &cli->dags_dir; n = 6; }
    else if (!strncmp(a, "--plugins", 9)) { slot = &cli->plugin_path; n = 9; }
    if (!strcmp(a, "--")) {           /* stop: the rest is positional */
      while (i < argc) argv[out++] = argv[i++];
      break;
    }
    if (slot && a[n] == '=') {
      *slot = a + n + 1;
    } else if (slot && a[n] == '\0') {
      if (i + 1 >= argc) {
        cf_cli_error(CF_EXIT_USAGE, "%s needs a value", a);
        return -1;
      }
      *slot = argv[++i];
    } else {
      argv[out++] = argv[i];
    }
  }
  argv[out] = NULL;
  return out;
}

int main(int argc, char **argv) {
  struct cf_cli cli = {0};
  argc = take_global_opts(argc, argv, &cli);
  if (argc < 0) return CF_EXIT_USAGE;
  cf_cli_setup(&cli);

  if (argc < 2) {
    usage(stderr);
    return CF_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    usage(stdout);
    return CF_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("costflow 0.1.0\n");
    return CF_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].fn(argc - 1, argv + 1, &cli);
  cf_cli_error(CF_EXIT_USAGE, "'%s' is not a costflow command", argv[1]);
  usage(stderr);
  return CF_EXIT_USAGE;
}
