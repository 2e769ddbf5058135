/* costflow-task: the executable the executor starts for each task
 * attempt, `costflow-task task-run --home H --attempt N ...`. It is
 * `costflow task-run` without the rest of the CLI: linked only against
 * libcostflow, it skips loading libcurl, GnuTLS and the web server's
 * libraries, which was most of a task's start-up cost (see
 * docs/performance.md). `costflow task-run` stays as the fallback. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

int main(int argc, char **argv) {
  static char exe[PATH_MAX];
  struct cf_cli cli = {0};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  cli.exe = exe;
  cli.plugin_path = getenv("COSTFLOW_PLUGIN_PATH");
  if (cli.plugin_path && !*cli.plugin_path) cli.plugin_path = NULL;
  /* The executor passes "task-run --home H": take --home, keep the rest. */
  int out = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--home") && i + 1 < argc) cli.home = argv[++i];
    else argv[out++] = argv[i];
  }
  argv[out] = NULL;
  if (!cli.home) cli.home = getenv("COSTFLOW_HOME");
  if (!cli.home || !*cli.home) cli.home = "./var";
  if (out < 2 || strcmp(argv[1], "task-run"))
    return cf_cli_error(CF_EXIT_USAGE,
                        "costflow-task runs one task attempt for the "
                        "scheduler: costflow-task task-run --attempt N");
  return cmd_task_run(out - 1, argv + 1, &cli);
}
