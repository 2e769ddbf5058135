/* `costflow runs DAG [--limit N] [--json]`: the runs of a DAG, newest
 * logical date first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "runner.h"

static const char usage[] = "usage: costflow runs DAG [--limit N] [--json]\n";

int cmd_runs(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"limit", required_argument, 0, 'l'}, {"json", no_argument, 0, 'j'},
    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int json = 0, limit = 0, c;
  while ((c = getopt_long(argc, argv, "l:jh", opts, NULL)) != -1) {
    if (c == 'l') limit = atoi(optarg);
    else if (c == 'j') json = 1;
    else if (c == 'h') { fputs(usage, stdout); return CF_EXIT_OK; }
    else { fputs(usage, stderr); return CF_EXIT_USAGE; }
  }
  if (optind != argc - 1) {
    fputs(usage, stderr);
    return CF_EXIT_USAGE;
  }
  char *id = cf_runner_dag_id(cli, argv[optind]);
  if (!id)
    return cf_cli_error(CF_EXIT_USAGE, "cannot read DAG %s", argv[optind]);
  struct cf_runner r;
  int code = cf_runner_open_store(&r, cli);
  struct cf_run_row *v = NULL;
  size_t n = 0;
  if (code) goto done;
  if (cf_store_run_list(r.st, id, limit, &v, &n) < 0) {
    code = cf_cli_error(CF_EXIT_FAIL, "store: %s", cf_store_errmsg(r.st));
    goto done;
  }
  json_t *arr = json ? json_array() : NULL;
  if (!json)
    printf("%-12s %-26s %-9s %-8s %-24s %-24s\n", "DATE", "RUN_ID", "KIND",
           "STATE", "START", "END");
  for (size_t i = 0; i < n; i++) {
    char ds[11], start[32], end[32];
    cf_date_format(v[i].logical_date, ds);
    cf_us_to_iso(v[i].start_us, start);
    cf_us_to_iso(v[i].end_us, end);
    if (json) {
      json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "dag_id",
                            v[i].dag_id, "logical_date", ds, "run_id",
                            v[i].run_id, "kind", v[i].kind, "state",
                            v[i].state, "conf", v[i].conf);
      json_object_set_new(o, "start", v[i].start_us ? json_string(start)
                                                    : json_null());
      json_object_set_new(o, "end", v[i].end_us ? json_string(end)
                                                : json_null());
      json_object_set_new(o, "conf", json_loads(v[i].conf, 0, NULL));
      json_array_append_new(arr, o);
    } else {
      printf("%-12s %-26s %-9s %-8s %-24s %-24s\n", ds, v[i].run_id,
             v[i].kind, v[i].state, start[0] ? start : "-",
             end[0] ? end : "-");
    }
  }
  if (json) {
    json_dumpf(arr, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(arr);
  }
done:
  cf_run_rows_free(v, n);
  cf_free(id);
  cf_runner_close(&r);
  return code;
}
