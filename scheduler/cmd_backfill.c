/* `costflow backfill DAG --from D1 --to D2`: one run per logical date the
 * schedule covers in the range, at most --max-active at once (default: the
 * DAG's max_active_runs). Existing runs are skipped, resumed, or cleared
 * and re-run according to --reprocess. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clear.h"
#include "runner.h"

static const char usage[] =
    "usage: costflow backfill DAG --from YYYY-MM-DD --to YYYY-MM-DD\n"
    "         [--reprocess none|failed|all] [--max-active N] [--reverse]\n"
    "         [--dry-run] [--conf KEY=VALUE]...\n"
    "  --reprocess none (default): skip dates that already ran; failed:\n"
    "  run failed dates again; all: run every date again. Unfinished runs\n"
    "  are always resumed.\n";

int cmd_backfill(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"from", required_argument, 0, 'f'}, {"to", required_argument, 0, 't'},
    {"reprocess", required_argument, 0, 'r'},
    {"max-active", required_argument, 0, 'm'},
    {"reverse", no_argument, 0, 'R'}, {"dry-run", no_argument, 0, 'n'},
    {"conf", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};
  const char *from = NULL, *to = NULL, *reprocess = "none";
  int max_active = 0, reverse = 0, dry = 0, c;
  json_t *conf = json_object();
  while ((c = getopt_long(argc, argv, "f:t:r:m:Rnc:h", opts, NULL)) != -1) {
    switch (c) {
    case 'f': from = optarg; break;
    case 't': to = optarg; break;
    case 'r': reprocess = optarg; break;
    case 'm': max_active = atoi(optarg); break;
    case 'R': reverse = 1; break;
    case 'n': dry = 1; break;
    case 'c':
      if (cf_conf_add(conf, optarg) == 0) break;
      json_decref(conf);
      return cf_cli_error(CF_EXIT_USAGE, "--conf wants KEY=VALUE");
    case 'h': json_decref(conf); fputs(usage, stdout); return CF_EXIT_OK;
    default: json_decref(conf); fputs(usage, stderr); return CF_EXIT_USAGE;
    }
  }
  cf_date d1, d2;
  int bad = optind != argc - 1 || !from || !to;
  if (!bad && (cf_date_parse(from, &d1) < 0 || cf_date_parse(to, &d2) < 0)) {
    json_decref(conf);
    return cf_cli_error(CF_EXIT_USAGE, "--from/--to must be YYYY-MM-DD");
  }
  if (!bad && d2 < d1) {
    json_decref(conf);
    return cf_cli_error(CF_EXIT_USAGE, "--to is before --from");
  }
  if (strcmp(reprocess, "none") && strcmp(reprocess, "failed") &&
      strcmp(reprocess, "all")) {
    json_decref(conf);
    return cf_cli_error(CF_EXIT_USAGE, "--reprocess is none, failed or all");
  }
  if (bad || max_active < 0 || d2 - d1 > 36600) {
    json_decref(conf);
    fputs(usage, stderr);
    return CF_EXIT_USAGE;
  }
  struct cf_runner r;
  int code = cf_runner_open(&r, cli, argv[optind]);
  if (!code) cf_conf_warn_unknown(r.dag, conf);
  char *conf_s = json_dumps(conf, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(conf);
  size_t ndates = (size_t)(d2 - d1 + 1), nrun = 0;
  int64_t *pks = cf_calloc(ndates, sizeof *pks);
  int *locks = cf_malloc(ndates * sizeof *locks);
  cf_date *dates = cf_malloc(ndates * sizeof *dates);
  unsigned char *all = NULL;
  if (code || !pks || !locks || !dates) goto done;
  all = cf_malloc(r.dag->ntasks ? r.dag->ntasks : 1);
  if (!all) goto done;
  memset(all, 1, r.dag->ntasks);
  if (!max_active) max_active = r.dag->max_active_runs;
  int daemon = !dry && cf_runner_daemon_running(cli);
  if (!dry) printf("%-12s %-10s %s\n", "DATE", "WAS", "ACTION");
  else printf("%-12s %-10s %s\n", "DATE", "STATE", "PLAN");
  for (size_t k = 0; k < ndates; k++) {
    cf_date d = reverse ? d2 - (cf_date)k : d1 + (cf_date)k;
    if (!cf_dag_covers_date(r.dag, d)) continue;
    char ds[11];
    cf_date_format(d, ds);
    struct cf_run_row run = {0};
    int exists = cf_store_run_get(r.st, r.dag->id, d, &run) == 0;
    const char *was = exists ? run.state : "-";
    const char *action;
    int finished = exists && (!strcmp(was, "success") ||
                              !strcmp(was, "failed"));
    int clear = 0;
    if (!exists) action = "run";
    else if (!finished) action = "resume";
    else if (!strcmp(reprocess, "all") ||
             (!strcmp(reprocess, "failed") && !strcmp(was, "failed"))) {
      action = "rerun";
      clear = 1;
    } else action = "skip";
    printf("%-12s %-10s %s\n", ds, was, action);
    if (dry || !strcmp(action, "skip")) {
      cf_run_row_release(&run);
      continue;
    }
    /* with a scheduler running, only clearing needs the lock */
    int lock = daemon && !clear ? -1 : cf_runner_lock(&r, d);
    if (lock < 0 && (!daemon || clear)) {
      fprintf(stderr, "costflow: %s %s is being driven by another process; "
              "skipped\n", r.dag->id, ds);
      cf_run_row_release(&run);
      continue;
    }
    if (!exists) {
      int created = 0;
      if (cf_store_run_create(r.st, r.dag->id, d, "backfill", conf_s, &run,
                              &created) < 0) {
        if (lock >= 0) close(lock);
        code = cf_cli_error(CF_EXIT_FAIL, "store: %s",
                            cf_store_errmsg(r.st));
        goto done;
      }
    } else if (clear && cf_clear_tasks(r.st, r.dag, run.id, all) < 0) {
      if (lock >= 0) close(lock);
      cf_run_row_release(&run);
      continue;
    }
    locks[nrun] = lock;
    dates[nrun] = d;
    pks[nrun++] = run.id;
    cf_run_row_release(&run);
  }
  if (dry) {
    code = CF_EXIT_OK;
    goto done;
  }
  fflush(stdout);
  r.lock_fds = NULL;
  int handed = 0;
  if (nrun && daemon) {
    /* created/cleared; the scheduler drives them (at most the DAG's
     * max_active_runs at once) */
    for (size_t i = 0; i < nrun; i++)
      if (locks[i] >= 0) close(locks[i]);
    handed = cf_runner_handoff(&r) == 0;
    for (size_t i = 0; i < nrun; i++)
      locks[i] = handed ? -1 : cf_runner_lock(&r, dates[i]);
    if (handed) {
      fprintf(stderr, "costflow: the scheduler is driving %zu run(s); "
              "waiting for them to end\n", nrun);
      cf_runner_wait(&r, pks, nrun);
    }
  }
  if (nrun && !handed) cf_runner_drive(&r, pks, nrun, max_active);
  printf("backfill of %s: %d succeeded, %d failed, %d unfinished\n",
         r.dag->id, r.succeeded, r.failed, r.unfinished);
  code = r.failed || r.unfinished ? CF_EXIT_FAIL : CF_EXIT_OK;
  for (size_t i = 0; i < nrun; i++)
    if (locks[i] >= 0) close(locks[i]);
done:
  cf_free(dates);
  free(conf_s);
  cf_free(all);
  cf_free(pks);
  cf_free(locks);
  cf_runner_close(&r);
  return code;
}
