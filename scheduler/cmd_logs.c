/* `costflow logs DAG --date D --task T [--try N]`: print an attempt's log
 * (default: the latest try). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runner.h"

static const char usage[] =
    "usage: costflow logs DAG --date YYYY-MM-DD --task T [--try N]\n";

int cmd_logs(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"date", required_argument, 0, 'd'}, {"task", required_argument, 0, 't'},
    {"try", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};
  const char *date = NULL, *task = NULL;
  int tryno = 0, c;
  while ((c = getopt_long(argc, argv, "d:t:n:h", opts, NULL)) != -1) {
    if (c == 'd') date = optarg;
    else if (c == 't') task = optarg;
    else if (c == 'n') tryno = atoi(optarg);
    else if (c == 'h') { fputs(usage, stdout); return CF_EXIT_OK; }
    else { fputs(usage, stderr); return CF_EXIT_USAGE; }
  }
  cf_date d;
  if (optind != argc - 1 || !date || !task) {
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
  struct cf_ti_row *v = NULL;
  size_t n = 0;
  int code = cf_runner_open_store(&r, cli);
  if (code) goto done;
  if (cf_store_run_get(r.st, id, d, &run) < 0) {
    code = cf_cli_error(CF_EXIT_USAGE, "%s has no run for %s", id, date);
    goto done;
  }
  cf_store_ti_list(r.st, run.id, &v, &n);
  int latest = -1;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i].task_id, task)) latest = v[i].try_number;
  if (latest < 0) {
    code = cf_cli_error(CF_EXIT_USAGE, "run %s has no task '%s'", run.run_id,
                        task);
    goto done;
  }
  if (!tryno) tryno = latest;
  if (tryno < 1 || tryno > latest) {
    code = cf_cli_error(CF_EXIT_USAGE, "task %s has tries 1..%d", task,
                        latest);
    goto done;
  }
  char *path = cf_asprintf("%s/logs/%s/%s/%s/%d.log", cli->home, id, date,
                           task, tryno);
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) {
    code = cf_cli_error(CF_EXIT_FAIL, "no log at %s", path ? path : "?");
    cf_free(path);
    goto done;
  }
  char buf[65536];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, k, stdout);
  fclose(f);
  cf_free(path);
done:
  cf_ti_rows_free(v, n);
  cf_run_row_release(&run);
  cf_free(id);
  cf_runner_close(&r);
  return code;
}
