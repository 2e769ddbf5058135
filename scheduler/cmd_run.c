/* `costflow run DAG --date D [--conf K=V]...`: run one logical date in the
 * foreground. Exit 0 if the run succeeded, 1 if it failed. An existing run
 * of that date is resumed, never duplicated; a finished one is reported
 * (use `rerun` to run it again). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "runner.h"

static const char usage[] =
    "usage: costflow run DAG --date YYYY-MM-DD [--conf KEY=VALUE]... "
    "[--json]\n"
    "  DAG is a dag id from the DAGs folder (--dags, $COSTFLOW_DAGS) or a\n"
    "  path to a YAML file. --conf overrides DAG params for this run.\n";

int cmd_run(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"date", required_argument, 0, 'd'}, {"conf", required_argument, 0, 'c'},
    {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};
  const char *date = NULL;
  int json = 0, c, code = CF_EXIT_FAIL;
  json_t *conf = json_object();
  while ((c = getopt_long(argc, argv, "d:c:jh", opts, NULL)) != -1) {
    switch (c) {
    case 'd': date = optarg; break;
    case 'c':
      if (cf_conf_add(conf, optarg) < 0) {
        json_decref(conf);
        return cf_cli_error(CF_EXIT_USAGE, "--conf wants KEY=VALUE, got '%s'",
                            optarg);
      }
      break;
    case 'j': json = 1; break;
    case 'h': fputs(usage, stdout); json_decref(conf); return CF_EXIT_OK;
    default: fputs(usage, stderr); json_decref(conf); return CF_EXIT_USAGE;
    }
  }
  cf_date d;
  if (optind != argc - 1 || !date) {
    fputs(usage, stderr);
    json_decref(conf);
    return CF_EXIT_USAGE;
  }
  if (cf_date_parse(date, &d) < 0) {
    json_decref(conf);
    return cf_cli_error(CF_EXIT_USAGE, "--date '%s' is not a valid "
                        "YYYY-MM-DD date", date);
  }
  struct cf_runner r;
  code = cf_runner_open(&r, cli, argv[optind]);
  if (code) goto done;
  cf_conf_warn_unknown(r.dag, conf);
  /* with a scheduler running, the run is only created here (idempotent)
   * and handed over: whoever drives it holds the lock */
  int daemon = cf_runner_daemon_running(cli);
  int lock = daemon ? -1 : cf_runner_lock(&r, d);
  if (!daemon && lock < 0) {
    code = cf_cli_error(CF_EXIT_FAIL, "the run of %s for %s is being driven "
                        "by another costflow process", r.dag->id, date);
    goto done;
  }
  char *conf_s = json_dumps(conf, JSON_COMPACT | JSON_SORT_KEYS);
  struct cf_run_row run = {0};
  int created = 0;
  int rc = cf_store_run_create(r.st, r.dag->id, d, "manual", conf_s, &run,
                               &created);
  if (rc == 0 && !created && json_object_size(conf) &&
      !strcmp(run.state, "queued"))
    cf_store_run_set_conf(r.st, run.id, conf_s);
  free(conf_s);
  if (rc < 0) {
    if (lock >= 0) close(lock);
    code = cf_cli_error(CF_EXIT_FAIL, "store: %s", cf_store_errmsg(r.st));
    goto done;
  }
  if (!created && (!strcmp(run.state, "success") ||
                   !strcmp(run.state, "failed"))) {
    fprintf(stderr, "costflow: %s for %s already ran (%s); use 'costflow "
            "rerun' to run it again\n", r.dag->id, date, run.state);
    code = strcmp(run.state, "success") ? CF_EXIT_FAIL : CF_EXIT_OK;
    cf_print_tasks(r.st, run.id, json);
  } else {
    if (!created)
      fprintf(stderr, "costflow: resuming %s (%s)\n", run.run_id, run.state);
    r.lock_fds = NULL;
    code = cf_runner_see_through(&r, &run, d, &lock, daemon, json);
  }
  cf_run_row_release(&run);
  if (lock >= 0) close(lock);
done:
  json_decref(conf);
  cf_runner_close(&r);
  return code;
}
