/* `costflow tasks DAG --date D [--json]`: the task instances of one run. */
#include <getopt.h>
#include <stdio.h>
#include "runner.h"

static const char usage[] =
    "usage: costflow tasks DAG --date YYYY-MM-DD [--json]\n";

int cmd_tasks(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"date", required_argument, 0, 'd'}, {"json", no_argument, 0, 'j'},
    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *date = NULL;
  int json = 0, c;
  while ((c = getopt_long(argc, argv, "d:jh", opts, NULL)) != -1) {
    if (c == 'd') date = optarg;
    else if (c == 'j') json = 1;
    else if (c == 'h') { fputs(usage, stdout); return CF_EXIT_OK; }
    else { fputs(usage, stderr); return CF_EXIT_USAGE; }
  }
  cf_date d;
  if (optind != argc - 1 || !date) {
    fputs(usage, stderr);
    return CF_EXIT_USAGE;
  }
  if (cf_date_parse(date, &d) < 0)
    return cf_cli_error(CF_EXIT_USAGE, "--date '%s' is not a valid date",
                        date);
  char *id = cf_runner_dag_id(cli, argv[optind]);
  if (!id)
    return cf_cli_error(CF_EXIT_USAGE, "cannot read DAG %s", argv[optind]);
  struct cf_runner r;
  struct cf_run_row run = {0};
  int code = cf_runner_open_store(&r, cli);
  if (code) goto done;
  if (cf_store_run_get(r.st, id, d, &run) < 0) {
    code = cf_cli_error(CF_EXIT_USAGE, "%s has no run for %s", id, date);
    goto done;
  }
  if (!json) printf("run %s: %s\n", run.run_id, run.state);
  cf_print_tasks(r.st, run.id, json);
done:
  cf_run_row_release(&run);
  cf_free(id);
  cf_runner_close(&r);
  return code;
}
