/* `costflow task-run --attempt N`: the child process of one task attempt.
 * Loads the attempt from the store, dlopens the plugin, runs it and writes
 * the result ("ok|fail|retry|skip\nmessage") to fd 3 for the parent. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "cli.h"
#include "costflow/plugin_host.h"
#include "host_api.h"
#include "proc_group.h"

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  remove(path);
  return 0;
}

/* Templated values of typed params are only known after rendering: check
 * them now, against the plugin's schema. Returns NULL or a message. */
static char *check_rendered(const struct cf_plugin *p, json_t *params) {
  for (size_t i = 0; i < p->nparams; i++) {
    const struct cf_param_spec *s = &p->params[i];
    json_t *v = json_object_get(params, s->name);
    if (!json_is_string(v)) continue;
    const char *t = json_string_value(v);
    char *end = NULL;
    int64_t ms;
    int ok = 1;
    if (s->type == CF_PARAM_INT) {
      strtoll(t, &end, 10);
      ok = *t && !*end;
    } else if (s->type == CF_PARAM_BOOL) {
      ok = !strcmp(t, "true") || !strcmp(t, "false");
    } else if (s->type == CF_PARAM_DURATION) {
      ok = cf_duration_parse(t, &ms) == 0;
    }
    if (!ok)
      return cf_asprintf("param '%s' must be %s %s, got '%s' after "
                         "rendering", s->name,
                         s->type == CF_PARAM_INT ? "an" : "a",
                         cf_param_type_name(s->type), t);
  }
  return NULL;
}

static void report(const char *result, const char *msg) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "%s\n%s\n", result, msg ? msg : "");
  if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
  if (write(3, buf, (size_t)n) < 0) {
    /* parent is gone; nothing else to tell */
  }
}

int cmd_task_run(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"attempt", required_argument, 0, 'a'},
    {"dag-dir", required_argument, 0, 'd'},
    {"parent", required_argument, 0, 'p'},
    {0, 0, 0, 0}};
  long long attempt = 0;
  long parent = 0;
  const char *dag_dir = ".";
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'a') attempt = atoll(optarg);
    else if (c == 'd') dag_dir = optarg;
    else if (c == 'p') parent = atol(optarg);
    else return CF_EXIT_USAGE;
  }
  if (attempt <= 0)
    return cf_cli_error(CF_EXIT_USAGE, "task-run: --attempt N is required");
  /* die with the scheduler: no orphan keeps writing after a kill -9 */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (parent && getppid() != (pid_t)parent) return CF_EXIT_FAIL;
  cf_proc_mark_group();          /* what the task starts can be found */
  setvbuf(stdout, NULL, _IOLBF, 0);

  struct cf_store *st = NULL;
  struct cf_plugin_registry *reg = NULL;
  struct cf_ti_row ti = {0};
  struct cf_run_row run = {0};
  struct cf_plugin_ctx ctx = {0};
  char *err = NULL, *log_path = NULL, *db = NULL;
  int64_t ti_pk = 0;
  int try_number = 0, result = CF_RESULT_FAIL;

  db = cf_asprintf("%s/costflow.db", cli->home);
  if (cf_store_open(db, &st, &err) < 0) goto fail;
  if (cf_store_attempt_ti(st, attempt, &ti_pk, &try_number, &log_path) < 0 ||
      cf_store_ti_get(st, ti_pk, &ti) < 0 ||
      cf_store_run_get_pk(st, ti.run_pk, &run) < 0) {
    err = cf_asprintf("attempt %lld not found in the store", attempt);
    goto fail;
  }
  if (cf_registry_new(cli->plugin_path, &reg) < 0) goto fail;
  const struct cf_plugin *p = cf_registry_get(reg, ti.plugin, &err);
  if (!p) goto fail;

  ctx.st = st;
  ctx.run_pk = run.id;
  ctx.attempt_pk = attempt;
  ctx.dag_id = run.dag_id;
  ctx.task_id = ti.task_id;
  ctx.run_id = run.run_id;
  ctx.home = cli->home;
  ctx.dag_dir = dag_dir;
  ctx.try_number = try_number;
  cf_date_format(run.logical_date, ctx.logical_date);
  ctx.params = ti.params ? json_loads(ti.params, 0, NULL) : json_object();
  ctx.conf = run.conf ? json_loads(run.conf, 0, NULL) : json_object();
  if (!ctx.params) ctx.params = json_object();
  if (!ctx.conf) ctx.conf = json_object();

  if ((err = check_rendered(p, ctx.params))) goto fail;
  fprintf(stderr, "costflow: %s.%s %s try %d: plugin %s\n", run.dag_id,
          ti.task_id, ctx.logical_date, try_number, p->name);
  fflush(stderr);
  result = p->run(&ctx, &cf_host_api_table);
  fflush(NULL);
  static const char *names[] = {"ok", "fail", "retry", "skip"};
  if (result < 0 || result > 3) {
    report("fail", "plugin returned an unknown result code");
  } else {
    report(names[result], result == CF_RESULT_OK ? "" : ctx.last_error);
  }
  if (result == CF_RESULT_OK && ctx.scratch)
    nftw(ctx.scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  goto done;

fail:
  fprintf(stderr, "costflow: task-run: %s\n",
          err ? err : "cannot prepare the attempt");
  report("fail", err ? err : "cannot prepare the attempt");
done:
  cf_plugin_ctx_release(&ctx);
  cf_free(err);
  cf_free(log_path);
  cf_free(db);
  cf_ti_row_release(&ti);
  cf_run_row_release(&run);
  cf_registry_free(reg);
  cf_store_close(st);
  return 0;
}
