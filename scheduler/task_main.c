/* costflow-task: the executable the executor starts for each task
 * attempt, `costflow-task task-run --home H --attempt N ...`. It is
 * `costflow task-run` without the rest of the CLI: linked only against
 * libcostflow, it skips loading libcurl, GnuTLS and the web server's
 * libraries, which was most of a task's start-up cost (see
 * docs/performance.md). `costflow task-run` stays as the fallback. */
#include <string.h>
#include "cli.h"

int main(int argc, char **argv) {
  struct cf_cli cli = {0};
  /* The executor passes "task-run --home H": take --home, keep the rest. */
  int out = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--home") && i + 1 < argc) cli.home = argv[++i];
    else argv[out++] = argv[i];
  }
  argv[out] = NULL;
  cf_cli_setup(&cli);
  if (out < 2 || strcmp(argv[1], "task-run"))
    return cf_cli_error(CF_EXIT_USAGE,
                        "costflow-task runs one task attempt for the "
                        "scheduler: costflow-task task-run --attempt N");
  return cmd_task_run(out - 1, argv + 1, &cli);
}
