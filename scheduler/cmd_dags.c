/* `costflow dags`: validate DAG files, list and show DAGs, and print the
 * next fire instants of a schedule with the logical date of each run. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "cli.h"
#include "costflow/cron.h"
#include "costflow/dag.h"
#include "costflow/plugin_host.h"

static const char usage_text[] =
  "usage: costflow dags validate PATH...\n"
  "       costflow dags list [--json]\n"
  "       costflow dags show DAG [--json]\n"
  "       costflow dags next DAG [--count N] [--from INSTANT] [--json]\n"
  "\n"
  "  validate  check DAG files (or every *.yaml/*.yml in a folder); each\n"
  "            problem is printed as FILE:LINE:COL: error: MESSAGE\n"
  "  list      every DAG in the dags folder, with import errors\n"
  "  show      a DAG's tasks in topological order\n"
  "  next      the next fire instants (UTC) of a DAG's schedule and the\n"
  "            logical date of the run each one creates\n"
  "\n"
  "DAG is a dag id (looked up in the dags folder) or a path to a file.\n"
  "Exit status: 0 ok, 1 no schedule (next), 2 usage or invalid DAG.\n";

/* Plugin lookups for schema checks; a registry that cannot be built
 * leaves plugins unchecked rather than failing every file. */
struct loader {
  struct cf_plugin_registry *reg;
  struct cf_dag_load_opts opts;
};

static void loader_init(struct loader *ld, struct cf_cli *cli) {
  memset(ld, 0, sizeof *ld);
  if (cf_registry_new(cli->plugin_path, &ld->reg) < 0) {
    ld->reg = NULL;
    cf_cli_error(0, "warning: plugin registry unavailable; plugin names "
                 "and params are not checked");
  } else {
    ld->opts.lookup = cf_registry_lookup;
    ld->opts.lookup_data = ld->reg;
  }
}

static void loader_release(struct loader *ld) {
  if (ld->reg) cf_registry_free(ld->reg);
}

static int has_yaml_ext(const char *name) {
  size_t n = strlen(name);
  return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
         (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted malloc'd paths of the *.yaml / *.yml files in dir. */
static int list_dir(const char *dir, char ***out, size_t *n) {
  DIR *d = opendir(dir);
  char **v = NULL;
  size_t k = 0, alloc = 0;
  struct dirent *e;
  *out = NULL;
  *n = 0;
  if (!d) return -1;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !has_yaml_ext(e->d_name)) continue;
    if (k == alloc && cf_grow(&v, &alloc, k + 1, sizeof *v, 16) < 0) break;
    if (!(v[k] = cf_asprintf("%s/%s", dir, e->d_name))) break;
    k++;
  }
  closedir(d);
  if (k) qsort(v, k, sizeof *v, cmp_str);
  *out = v;
  *n = k;
  return 0;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) cf_free(v[i]);
  cf_free(v);
}

static int is_help(const char *a) {
  return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* ---- validate --------------------------------------------------------- */

static int validate_one(struct loader *ld, const char *path) {
  struct cf_diags dg = CF_DIAGS_INIT;
  struct cf_dag *dag = NULL;
  int r = cf_dag_load(path, &ld->opts, &dag, &dg);
  if (r < 0) {
    cf_diags_print(&dg, stderr);
  } else {
    printf("ok: %s (dag %s, %zu task%s)\n", path, dag->id, dag->ntasks,
           dag->ntasks == 1 ? "" : "s");
  }
  cf_dag_free(dag);
  cf_diags_release(&dg);
  return r < 0;
}

static int dags_validate(int argc, char **argv, struct cf_cli *cli) {
  static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    if (c == 'h') { fputs(usage_text, stdout); return CF_EXIT_OK; }
    fputs(usage_text, stderr);
    return CF_EXIT_USAGE;
  }
  if (optind >= argc)
    return cf_cli_error(CF_EXIT_USAGE, "dags validate: give one or more "
                        "DAG files or folders");
  struct loader ld;
  int bad = 0;
  loader_init(&ld, cli);
  for (int i = optind; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      char **files;
      size_t n;
      if (list_dir(argv[i], &files, &n) < 0) {
        fprintf(stderr, "%s:0:0: error: cannot open folder\n", argv[i]);
        bad++;
        continue;
      }
      if (!n) fprintf(stderr, "costflow: %s: no *.yaml or *.yml files\n",
                      argv[i]);
      for (size_t j = 0; j < n; j++) bad += validate_one(&ld, files[j]);
      free_list(files, n);
    } else {
      bad += validate_one(&ld, argv[i]);
    }
  }
  loader_release(&ld);
  return bad ? CF_EXIT_USAGE : CF_EXIT_OK;
}

/* ---- list ------------------------------------------------------------- */

static int dags_list(int argc, char **argv, struct cf_cli *cli) {
  static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c, json = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    if (c == 'j') json = 1;
    else if (c == 'h') { fputs(usage_text, stdout); return CF_EXIT_OK; }
    else { fputs(usage_text, stderr); return CF_EXIT_USAGE; }
  }
  if (optind < argc)
    return cf_cli_error(CF_EXIT_USAGE, "dags list takes no arguments");
  char **files;
  size_t n;
  if (list_dir(cli->dags_dir, &files, &n) < 0)
    return cf_cli_error(CF_EXIT_FAIL, "cannot open dags folder %s",
                        cli->dags_dir);
  struct loader ld;
  loader_init(&ld, cli);
  json_t *arr = json_array(), *errs = json_array(), *seen = json_object();
  if (!json)
    printf("%-32s %-16s %-16s %5s  %s\n", "DAG", "SCHEDULE", "TIMEZONE",
           "TASKS", "FILE");
  for (size_t i = 0; i < n; i++) {
    struct cf_diags dg = CF_DIAGS_INIT;
    struct cf_dag *d = NULL;
    if (cf_dag_load(files[i], &ld.opts, &d, &dg) == 0) {
      json_t *prev = json_object_get(seen, d->id);
      if (prev) {            /* the first file of an id wins, as resolve */
        cf_diags_add(&dg, files[i], 1, 1, "duplicate dag id '%s' (also in "
                     "%s)", d->id, json_string_value(prev));
      } else {
        json_object_set_new(seen, d->id, json_string(files[i]));
        if (json)
          json_array_append_new(arr, json_pack(
              "{s:s, s:s?, s:s, s:s, s:i, s:s, s:s?}", "id", d->id,
              "schedule", d->schedule, "timezone", d->timezone, "file",
              files[i], "tasks", (int)d->ntasks, "sha256", d->sha256,
              "description", d->description));
        else
          printf("%-32s %-16s %-16s %5zu  %s\n", d->id,
                 d->schedule ? d->schedule : "-", d->timezone, d->ntasks,
                 files[i]);
      }
    }
    if (dg.n) {
      cf_diags_print(&dg, stderr);
      for (size_t k = 0; k < dg.n; k++)
        json_array_append_new(errs, json_pack(
            "{s:s, s:i, s:i, s:s}", "file", dg.v[k].file, "line",
            dg.v[k].line, "col", dg.v[k].col, "message", dg.v[k].msg));
      if (!json)
        printf("%-32s %-16s %-16s %5s  %s\n", "(import error)", "-", "-",
               "-", files[i]);
    }
    cf_dag_free(d);
    cf_diags_release(&dg);
  }
  if (json) {
    json_t *doc = json_pack("{s:o, s:o}", "dags", arr, "import_errors", errs);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(doc);
  } else {
    json_decref(arr);
    json_decref(errs);
  }
  json_decref(seen);
  free_list(files, n);
  loader_release(&ld);
  return CF_EXIT_OK;
}

/* ---- show / next ------------------------------------------------------ */

/* Resolves and loads DAG; prints problems. Returns 0 or an exit code. */
static int load_named(struct cf_cli *cli, struct loader *ld,
                      const char *name, struct cf_dag **out) {
  char *path = NULL;
  struct cf_diags dg = CF_DIAGS_INIT;
  *out = NULL;
  if (cf_dag_resolve(cli->dags_dir, name, &path) < 0)
    return cf_cli_error(CF_EXIT_USAGE, "no DAG '%s' in %s", name,
                        cli->dags_dir);
  int r = cf_dag_load(path, &ld->opts, out, &dg);
  if (r < 0) cf_diags_print(&dg, stderr);
  cf_diags_release(&dg);
  cf_free(path);
  return r < 0 ? CF_EXIT_USAGE : 0;
}

static void fmt_ms(int64_t ms, char *out, size_t n) {
  if (ms == 0) snprintf(out, n, "-");
  else if (ms % 3600000 == 0) snprintf(out, n, "%lldh", (long long)(ms /
                                                                  3600000));
  else if (ms % 60000 == 0) snprintf(out, n, "%lldm", (long long)(ms / 60000));
  else if (ms % 1000 == 0) snprintf(out, n, "%llds", (long long)(ms / 1000));
  else snprintf(out, n, "%lldms", (long long)ms);
}

static json_t *task_json(const struct cf_dag *d, const struct cf_task *t) {
  json_t *deps = json_array();
  for (size_t j = 0; j < t->ndeps; j++)
    json_array_append_new(deps, json_string(t->deps[j]));
  json_t *down = json_array();
  for (size_t j = 0; j < t->ndown; j++)
    json_array_append_new(down, json_string(d->tasks[t->down_idx[j]].id));
  return json_pack("{s:s, s:s, s:o, s:o, s:s, s:i, s:I, s:s, s:I, s:I, "
                   "s:s?, s:O, s:i}", "id", t->id, "plugin", t->plugin,
                   "depends_on", deps, "downstream", down, "trigger_rule",
                   cf_trigger_rule_name(t->trigger_rule), "retries",
                   t->retries, "retry_delay_ms", (json_int_t)t->retry_delay_ms,
                   "retry_backoff", t->retry_exponential ? "exponential"
                                                         : "fixed",
                   "max_retry_delay_ms", (json_int_t)t->max_retry_delay_ms,
                   "timeout_ms", (json_int_t)t->timeout_ms, "pool", t->pool,
                   "params", t->params, "line", t->line);
}

static int dags_show(int argc, char **argv, struct cf_cli *cli) {
  static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c, json = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    if (c == 'j') json = 1;
    else if (c == 'h') { fputs(usage_text, stdout); return CF_EXIT_OK; }
    else { fputs(usage_text, stderr); return CF_EXIT_USAGE; }
  }
  if (optind != argc - 1)
    return cf_cli_error(CF_EXIT_USAGE, "dags show: give exactly one DAG");
  struct loader ld;
  struct cf_dag *d = NULL;
  loader_init(&ld, cli);
  int rc = load_named(cli, &ld, argv[optind], &d);
  if (rc) goto done;
  char sd[11] = "-", ed[11] = "-";
  if (d->has_start_date) cf_date_format(d->start_date, sd);
  if (d->has_end_date) cf_date_format(d->end_date, ed);
  if (json) {
    json_t *tasks = json_array();
    for (size_t i = 0; i < d->ntasks; i++)
      json_array_append_new(tasks, task_json(d, &d->tasks[d->topo[i]]));
    json_t *doc = json_pack(
        "{s:s, s:s?, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:b, s:i, s:s?, "
        "s:O, s:O?, s:O?, s:o}", "id", d->id, "description", d->description,
        "file", d->path, "sha256", d->sha256, "schedule", d->schedule,
        "timezone", d->timezone, "start_date",
        d->has_start_date ? sd : NULL, "end_date",
        d->has_end_date ? ed : NULL, "catchup", d->catchup,
        "max_active_runs", d->max_active_runs, "deadline", d->deadline,
        "params", d->params, "trigger", d->trigger, "pools", d->pools,
        "tasks", tasks);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(doc);
    goto done;
  }
  printf("dag:             %s\n", d->id);
  if (d->description) printf("description:     %s\n", d->description);
  printf("file:            %s\n", d->path);
  printf("schedule:        %s\n", d->schedule ? d->schedule
                                             : "(none: manual/sensor)");
  printf("timezone:        %s\n", d->timezone);
  printf("dates:           %s .. %s\n", sd, ed);
  printf("catchup:         %s\n", d->catchup ? "true" : "false");
  printf("max_active_runs: %d\n", d->max_active_runs);
  if (d->trigger) {
    char *t = json_dumps(d->trigger, JSON_COMPACT);
    printf("trigger:         %s\n", t ? t : "");
    free(t);
  }
  printf("\n%-24s %-20s %-12s %7s %7s  %s\n", "TASK", "PLUGIN",
         "TRIGGER_RULE", "RETRIES", "TIMEOUT", "DEPENDS_ON");
  for (size_t i = 0; i < d->ntasks; i++) {
    const struct cf_task *t = &d->tasks[d->topo[i]];
    char to[32];
    fmt_ms(t->timeout_ms, to, sizeof to);
    printf("%-24s %-20s %-12s %7d %7s  ", t->id, t->plugin,
           cf_trigger_rule_name(t->trigger_rule), t->retries, to);
    for (size_t j = 0; j < t->ndeps; j++)
      printf("%s%s", j ? ", " : "", t->deps[j]);
    printf("%s\n", t->ndeps ? "" : "-");
  }
done:
  cf_dag_free(d);
  loader_release(&ld);
  return rc;
}

static int dags_next(int argc, char **argv, struct cf_cli *cli) {
  static const struct option lo[] = {{"count", required_argument, NULL, 'n'},
                                     {"from", required_argument, NULL, 'f'},
                                     {"json", no_argument, NULL, 'j'},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c, json = 0;
  long count = 5;
  int64_t after = cf_now_ms() / 1000;
  char *end;
  optind = 0;
  while ((c = getopt_long(argc, argv, "hn:f:", lo, NULL)) != -1) {
    switch (c) {
    case 'n':
      count = strtol(optarg, &end, 10);
      if (*end || count < 1 || count > 10000)
        return cf_cli_error(CF_EXIT_USAGE, "--count must be 1..10000");
      break;
    case 'f':
      if (cf_parse_instant(optarg, &after) < 0)
        return cf_cli_error(CF_EXIT_USAGE, "--from: '%s' is not an instant "
                            "(YYYY-MM-DDTHH:MM[:SS]Z or YYYY-MM-DD)", optarg);
      break;
    case 'j': json = 1; break;
    case 'h': fputs(usage_text, stdout); return CF_EXIT_OK;
    default: fputs(usage_text, stderr); return CF_EXIT_USAGE;
    }
  }
  if (optind != argc - 1)
    return cf_cli_error(CF_EXIT_USAGE, "dags next: give exactly one DAG");
  struct loader ld;
  struct cf_dag *d = NULL;
  json_t *arr = NULL;
  loader_init(&ld, cli);
  int rc = load_named(cli, &ld, argv[optind], &d);
  if (rc) goto done;
  if (!d->cron) {
    rc = cf_cli_error(CF_EXIT_FAIL, "DAG '%s' has no schedule (manual or "
                      "sensor only)", d->id);
    goto done;
  }
  /* The first run's interval starts at the first fire on start_date. */
  if (d->has_start_date) {
    int64_t f0 = after;
    int64_t day = (int64_t)d->start_date * 86400;
    day -= cf_tz_offset_at(d->tz, day) + 3 * 3600;
    while (cf_cron_next(d->cron, d->tz, day, &f0) == 0 &&
           cf_tz_local_date(d->tz, f0) < d->start_date)
      day = f0;
    if (after < f0) after = f0;
  }
  arr = json_array();
  if (!json) printf("%-22s %s\n", "FIRES (UTC)", "LOGICAL_DATE");
  for (long i = 0; i < count; i++) {
    int64_t f, start;
    if (cf_cron_next(d->cron, d->tz, after, &f) < 0) break;
    after = f;
    /* The run created at f covers the interval that began at the fire
     * before it: that start's local date is the logical date. A fire on
     * that same date creates nothing (the day is not over: sub-daily). */
    if (cf_cron_prev(d->cron, d->tz, f, &start) < 0) start = f;
    cf_date ld_date = cf_tz_local_date(d->tz, start);
    if (start != f && cf_tz_local_date(d->tz, f) == ld_date) {
      i--;
      continue;
    }
    if (d->has_end_date && ld_date > d->end_date) break;
    char iso[32], ds[11];
    cf_format_iso_s(f, iso);
    cf_date_format(ld_date, ds);
    if (json)
      json_array_append_new(arr, json_pack("{s:s, s:s}", "fires_at", iso,
                                           "logical_date", ds));
    else
      printf("%-22s %s\n", iso, ds);
  }
  if (json) {
    json_t *doc = json_pack("{s:s, s:s, s:s, s:O}", "dag", d->id,
                            "schedule", d->schedule, "timezone", d->timezone,
                            "runs", arr);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(doc);
  }
done:
  json_decref(arr);
  cf_dag_free(d);
  loader_release(&ld);
  return rc;
}

int cmd_dags(int argc, char **argv, struct cf_cli *cli) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return CF_EXIT_USAGE;
  }
  const char *sub = argv[1];
  if (is_help(sub) || !strcmp(sub, "help")) {
    fputs(usage_text, stdout);
    return CF_EXIT_OK;
  }
  if (!strcmp(sub, "validate")) return dags_validate(argc - 1, argv + 1, cli);
  if (!strcmp(sub, "list")) return dags_list(argc - 1, argv + 1, cli);
  if (!strcmp(sub, "show")) return dags_show(argc - 1, argv + 1, cli);
  if (!strcmp(sub, "next")) return dags_next(argc - 1, argv + 1, cli);
  cf_cli_error(CF_EXIT_USAGE, "dags: unknown subcommand '%s'", sub);
  fputs(usage_text, stderr);
  return CF_EXIT_USAGE;
}
