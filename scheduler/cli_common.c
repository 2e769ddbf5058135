/* What both executables (costflow and costflow-task) share: the error
 * line format and where the CLI settings come from (options, then the
 * environment, then defaults). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli.h"

void cf_cli_setup(struct cf_cli *cli) {
  static char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  cli->exe = exe;
  /* an option given on the command line wins, even empty: then the
   * default applies, as with an empty variable */
  if (!cli->home) cli->home = getenv("COSTFLOW_HOME");
  if (!cli->dags_dir) cli->dags_dir = getenv("COSTFLOW_DAGS");
  if (!cli->plugin_path) cli->plugin_path = getenv("COSTFLOW_PLUGIN_PATH");
  if (!cli->home || !*cli->home) cli->home = "./var";
  if (!cli->dags_dir || !*cli->dags_dir) cli->dags_dir = "./dags";
  if (cli->plugin_path && !*cli->plugin_path) cli->plugin_path = NULL;
}

int cf_cli_error(int code, const char *fmt, ...) {
  va_list ap;
  fputs("costflow: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return code;
}
