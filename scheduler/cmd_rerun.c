/* `costflow rerun DAG --date D [--task T [--downstream]] [--failed-only]
 * [--dry-run]`: clear tasks of an existing run and run them again in the
 * foreground. Tasks not selected (e.g. completed upstreams) are kept. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clear.h"
#include "runner.h"

static const char usage[] =
    "usage: costflow rerun DAG --date YYYY-MM-DD [--task T [--downstream]]"
    " [--failed-only] [--dry-run] [--json]\n"
    "         [--conf KEY=VALUE]...  (merged into the run's conf)\n";

int cmd_rerun(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"date", required_argument, 0, 'd'}, {"task", required_argument, 0, 't'},
    {"downstream", no_argument, 0, 'D'}, {"failed-only", no_argument, 0, 'f'},
    {"dry-run", no_argument, 0, 'n'}, {"json", no_argument, 0, 'j'},
    {"conf", required_argument, 0, 'c'},
    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *date = NULL, *task = NULL;
  json_t *conf = json_object();
  int downstream = 0, failed_only = 0, dry = 0, json = 0, c;
  while ((c = getopt_long(argc, argv, "d:t:Dfnjh", opts, NULL)) != -1) {
    switch (c) {
    case 'd': date = optarg; break;
    case 't': task = optarg; break;
    case 'D': downstream = 1; break;
    case 'f': failed_only = 1; break;
    case 'n': dry = 1; break;
    case 'j': json = 1; break;
    case 'c':
      if (cf_conf_add(conf, optarg) == 0) break;
      json_decref(conf);
      return cf_cli_error(CF_EXIT_USAGE, "--conf wants KEY=VALUE");
    case 'h': json_decref(conf); fputs(usage, stdout); return CF_EXIT_OK;
    default: json_decref(conf); fputs(usage, stderr); return CF_EXIT_USAGE;
    }
  }
  cf_date d;
  if (optind != argc - 1 || !date) {
    json_decref(conf);
    fputs(usage, stderr);
    return CF_EXIT_USAGE;
  }
  if (cf_date_parse(date, &d) < 0 || (downstream && !task)) {
    json_decref(conf);
    return cf_cli_error(CF_EXIT_USAGE, downstream && !task
                        ? "--downstream needs --task"
                        : "--date is not a valid YYYY-MM-DD date");
  }
  struct cf_runner r;
  int code = cf_runner_open(&r, cli, argv[optind]);
  if (!code) cf_conf_warn_unknown(r.dag, conf);
  unsigned char *sel = NULL;
  struct cf_run_row run = {0};
  int lock = -1;
  if (code) goto done;
  if (cf_store_run_get(r.st, r.dag->id, d, &run) < 0) {
    code = cf_cli_error(CF_EXIT_USAGE, "%s has no run for %s (use 'costflow "
                        "run' first)", r.dag->id, date);
    goto done;
  }
  sel = cf_calloc(r.dag->ntasks, 1);
  if (!sel) goto done;
  if (task) {
    long i = cf_dag_task_index(r.dag, task);
    if (i < 0) {
      code = cf_cli_error(CF_EXIT_USAGE, "%s has no task '%s'", r.dag->id,
                          task);
      goto done;
    }
    sel[i] = 1;
    if (downstream) cf_select_downstream(r.dag, (size_t)i, sel);
  } else {
    memset(sel, 1, r.dag->ntasks);
  }
  if (failed_only) {
    struct cf_ti_row *v = NULL;
    size_t n = 0;
    cf_store_ti_list(r.st, run.id, &v, &n);
    for (size_t i = 0; i < r.dag->ntasks; i++) {
      int bad = 0;
      for (size_t j = 0; j < n; j++)
        if (!strcmp(v[j].task_id, r.dag->tasks[i].id))
          bad = !strcmp(v[j].state, "failed") ||
                !strcmp(v[j].state, "upstream_failed");
      if (!bad) sel[i] = 0;
    }
    cf_ti_rows_free(v, n);
  }
  size_t count = 0;
  for (size_t k = 0; k < r.dag->ntasks; k++) {
    size_t i = r.dag->topo[k];
    if (!sel[i]) continue;
    count++;
    if (dry) printf("would clear %s\n", r.dag->tasks[i].id);
  }
  if (dry) {
    printf("%zu task(s) of %s would run again\n", count, run.run_id);
    code = CF_EXIT_OK;
    goto done;
  }
  if (count == 0) {
    fprintf(stderr, "costflow: nothing to rerun\n");
    code = strcmp(run.state, "failed") ? CF_EXIT_OK : CF_EXIT_FAIL;
    goto done;
  }
  lock = cf_runner_lock(&r, d);
  if (lock < 0) {
    code = cf_cli_error(CF_EXIT_FAIL, "the run of %s for %s is being driven "
                        "by another costflow process", r.dag->id, date);
    goto done;
  }
  if (json_object_size(conf)) {     /* --conf: merge into the run's conf */
    json_t *old = json_loads(run.conf ? run.conf : "{}", 0, NULL);
    if (!json_is_object(old)) {
      json_decref(old);
      old = json_object();
    }
    json_object_update(old, conf);
    char *merged = json_dumps(old, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(old);
    cf_store_run_set_conf(r.st, run.id, merged);
    free(merged);
  }
  if (cf_clear_tasks(r.st, r.dag, run.id, sel) < 0) {
    code = cf_cli_error(CF_EXIT_FAIL, "store: %s", cf_store_errmsg(r.st));
    goto done;
  }
  code = cf_runner_see_through(&r, &run, d, &lock,
                               cf_runner_daemon_running(cli), json);
done:
  json_decref(conf);
  if (lock >= 0) close(lock);
  cf_free(sel);
  cf_run_row_release(&run);
  cf_runner_close(&r);
  return code;
}
