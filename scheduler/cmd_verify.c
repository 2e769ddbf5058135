/* costflow verify DAG --date D: recomputes the silver and gold partitions
 * of that run's usage dates into a scratch home, by running the real stage
 * plugins (transform_to_cleaned, load_to_analytics) in this process with
 * a small host of its own, and compares checksums with the published
 * ones. Exit 0 all equal, 1 any difference, 2 bad usage / nothing to
 * verify. The published lake and warehouse are only read. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "costflow/common.h"
#include "costflow/dag.h"
#include "costflow/diag.h"
#include "costflow/plugin_host.h"
#include "host_params.h"

/* The context our host hands a plugin. */
struct cf_plugin_ctx {
  const char *dag_id, *task_id, *logical_date, *home, *dag_dir;
  char *scratch;
  json_t *params;             /* rendered params + our overrides */
  json_t *outputs;            /* what this verify's tasks set */
  sqlite3 *store;             /* published run's outputs (read-only) */
  const char *run_dag, *run_date;
  json_t *parts;              /* {key: {checksum, rows}} recorded */
  struct cf_keeper kept;      /* strings handed out, freed at the end */
  int verbose;
};

/* Params read exactly as the task-run host reads them. The plugin's
 * declared defaults are in c->params already: cf_dag_load fills in every
 * param the DAG does not set. */
static const char *h_param(struct cf_plugin_ctx *c, const char *name) {
  return cf_params_text(c->params, name, &c->kept);
}
static const char *h_param_json(struct cf_plugin_ctx *c, const char *name) {
  return cf_params_json(c->params, name, &c->kept);
}
static size_t h_param_count(struct cf_plugin_ctx *c, const char *name) {
  return cf_params_count(c->params, name);
}
static const char *h_param_item(struct cf_plugin_ctx *c, const char *name,
                                size_t i) {
  return cf_params_item(c->params, name, i, &c->kept);
}
static const char *h_param_key(struct cf_plugin_ctx *c, const char *name,
                               size_t i) {
  return cf_params_key(c->params, name, i);
}
static const char *h_dag_id(struct cf_plugin_ctx *c) { return c->dag_id; }
static const char *h_task_id(struct cf_plugin_ctx *c) { return c->task_id; }
static const char *h_run_id(struct cf_plugin_ctx *c) {
  (void)c;
  return "verify";
}
static const char *h_date(struct cf_plugin_ctx *c) { return c->logical_date; }
static int h_try(struct cf_plugin_ctx *c) {
  (void)c;
  return 1;
}
static const char *h_conf(struct cf_plugin_ctx *c, const char *k) {
  (void)c;
  (void)k;
  return NULL;
}
static const char *h_home(struct cf_plugin_ctx *c) { return c->home; }
static const char *h_dag_dir(struct cf_plugin_ctx *c) { return c->dag_dir; }
static const char *h_scratch(struct cf_plugin_ctx *c) {
  if (!c->scratch) {
    c->scratch = cf_asprintf("%s/tmp/%s", c->home, c->task_id);
    if (c->scratch) cf_mkdir_p(c->scratch, 0700);
  }
  return c->scratch;
}
static void h_log(struct cf_plugin_ctx *c, enum cf_log_level lv,
                  const char *fmt, ...) {
  va_list ap;
  if (lv < CF_LOG_WARN && !c->verbose) return;
  fprintf(stderr, "  [%s] ", c->task_id);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
static int h_output_set(struct cf_plugin_ctx *c, const char *k,
                        const char *v) {
  char *key = cf_asprintf("%s.%s", c->task_id, k);
  int r = key ? json_object_set_new(c->outputs, key, json_string(v)) : -1;
  cf_free(key);
  return r < 0 ? -ENOMEM : 0;
}
/* Our own tasks' outputs first, else what the published run recorded. */
static const char *h_output_get(struct cf_plugin_ctx *c, const char *task,
                                const char *k) {
  char *key = cf_asprintf("%s.%s", task, k);
  json_t *v = key ? json_object_get(c->outputs, key) : NULL;
  sqlite3_stmt *st = NULL;
  const char *out = NULL;
  cf_free(key);
  if (v) return json_string_value(v);
  if (c->store &&
      sqlite3_prepare_v2(c->store, "SELECT o.value FROM task_outputs o JOIN"
                         " runs r ON r.id=o.run_pk WHERE r.dag_id=?1 AND"
                         " r.logical_date=?2 AND o.task_id=?3 AND o.key=?4",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, c->run_dag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->run_date, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, task, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, k, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      out = cf_keep(&c->kept,
                    cf_strdup((const char *)sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  return out;
}
static int h_dq(struct cf_plugin_ctx *c, const char *r, const char *s,
                int64_t a, int64_t b, int p, const char *j) {
  (void)c; (void)r; (void)s; (void)a; (void)b; (void)p; (void)j;
  return 0;
}
static int64_t h_part(struct cf_plugin_ctx *c, const char *ds,
                      const char *key, int64_t rows, const char *sum,
                      const char *inputs) {
  (void)inputs;
  char *k = cf_asprintf("%s/%s", ds, key);
  int r = k ? json_object_set_new(c->parts, k, json_pack("{s:s,s:I}",
                                  "checksum", sum, "rows", (json_int_t)rows))
            : -1;
  cf_free(k);
  return r < 0 ? -ENOMEM : 1;
}
static int h_event(struct cf_plugin_ctx *c, const char *k, const char *d) {
  (void)c; (void)k; (void)d;
  return 0;
}

static void *h_alloc(size_t n) { return cf_malloc(n); }
static void *h_realloc(void *p, size_t n) { return cf_realloc(p, n); }
static void h_free(void *p) { cf_free(p); }

static const struct cf_host_api verify_api = {
  CF_PLUGIN_ABI, sizeof(struct cf_host_api), h_alloc, h_realloc, h_free,
  h_param, h_param_json, h_param_count, h_param_item, h_param_key,
  h_dag_id, h_task_id, h_run_id, h_date, h_try, h_conf, h_home, h_dag_dir,
  h_scratch, h_log, h_output_set, h_output_get, h_dq, h_part, h_event,
};

struct verify {
  struct cf_cli *cli;
  struct cf_dag *dag;
  struct cf_plugin_registry *reg;
  const char *date;
  char *scratch;              /* scratch COSTFLOW_HOME */
  sqlite3 *store, *wh;
  json_t *outputs, *parts;
  int diffs, verbose;
};

/* Runs the DAG's first task using `plugin` with its rendered params plus
 * `over` (stolen). Returns 1 ran ok, 0 not in DAG / not installed, -1. */
static int run_stage(struct verify *v, const char *plugin, json_t *over) {
  const struct cf_task *t = NULL;
  char *err = NULL;
  int ret = -1;
  for (size_t i = 0; i < v->dag->ntasks && !t; i++)
    if (!strcmp(v->dag->tasks[i].plugin, plugin)) t = &v->dag->tasks[i];
  const struct cf_plugin *p = t ? cf_registry_get(v->reg, plugin, &err)
                                : NULL;
  if (!p) {
    printf("%s: skipped (%s)\n", plugin,
           t ? "plugin not installed" : "not in this DAG");
    free(err);
    json_decref(over);
    return 0;
  }
  cf_date ds, prev, next;
  cf_date_parse(v->date, &ds);
  if (cf_dag_prev_date(v->dag, ds, &prev) < 0) prev = ds - 1;
  if (cf_dag_next_date(v->dag, ds, &next) < 0) next = ds + 1;
  struct cf_template_vars tv = {v->dag->id, t->id, "verify", ds, prev, next,
                                v->dag->params};
  json_t *params = cf_template_render_json(t->params, &tv, &err);
  if (!params) {
    cf_cli_error(0, "verify: %s params: %s", t->id, err ? err : "?");
    goto done;
  }
  json_object_update(params, over);
  struct cf_plugin_ctx c = {
      .dag_id = v->dag->id, .task_id = t->id,
      .logical_date = v->date, .home = v->scratch, .dag_dir = v->dag->dir,
      .params = params, .outputs = v->outputs, .store = v->store,
      .run_dag = v->dag->id, .run_date = v->date, .parts = v->parts,
      .verbose = v->verbose};
  int r = p->run(&c, &verify_api);
  if (r != CF_RESULT_OK)
    cf_cli_error(0, "verify: recomputing with %s failed (result %d)",
                 plugin, r);
  else
    ret = 1;
  cf_keeper_release(&c.kept);
  cf_free(c.scratch);
  json_decref(params);
done:
  json_decref(over);
  free(err);
  return ret;
}

static void report(struct verify *v, const char *what, const char *date,
                   const char *published, const char *recomputed) {
  int same = published && recomputed && !strcmp(published, recomputed);
  if (!same) v->diffs++;
  printf("%-7s usage_date=%s  %s", what, date, same ? "ok" : "DIFFERS");
  if (!same || v->verbose)
    printf("  published %.16s  recomputed %.16s",
           published ? published : "(none)",
           recomputed ? recomputed : "(none)");
  putchar('\n');
}

/* sha256 of SILVER_ROOT/usage_date=D/current/data.csv, or "" if absent. */
static void silver_sum(const char *home, const char *date, char hex[65]) {
  char *p = cf_asprintf("%s/lake/silver/cost/usage_date=%s/current/data.csv",
                        home, date);
  if (!p || cf_sha256_file(p, hex) < 0) hex[0] = '\0';
  cf_free(p);
}

/* The run's usage dates: `partitions` of the silver stage's task in the
 * store, else the warehouse's record of what that run loaded. */
static json_t *run_dates(struct verify *v) {
  sqlite3_stmt *st = NULL;
  json_t *dates = NULL;
  if (v->store &&
      sqlite3_prepare_v2(v->store, "SELECT o.value FROM task_outputs o JOIN"
                         " runs r ON r.id=o.run_pk JOIN task_instances t ON"
                         " t.run_pk=r.id AND t.task_id=o.task_id WHERE"
                         " r.dag_id=?1 AND r.logical_date=?2 AND"
                         " t.plugin='load_to_analytics' AND"
                         " o.key='partitions'", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, v->dag->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v->date, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      dates = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
  }
  sqlite3_finalize(st);
  if (json_is_array(dates)) return dates;
  json_decref(dates);
  dates = json_array();
  if (sqlite3_prepare_v2(v->wh, "SELECT usage_date FROM gold_loads WHERE"
                         " dag_id=?1 AND logical_date=?2 ORDER BY 1", -1,
                         &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, v->dag->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v->date, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
      json_array_append_new(dates, json_string(
          (const char *)sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  return dates;
}

static const char *gold_published(struct verify *v, const char *date,
                                  int silver) {
  static char out[2][65];
  sqlite3_stmt *st = NULL;
  out[silver][0] = '\0';
  if (sqlite3_prepare_v2(v->wh, silver ? "SELECT silver_checksum FROM"
                         " gold_partitions WHERE usage_date=?1" :
                         "SELECT checksum FROM gold_partitions WHERE"
                         " usage_date=?1", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, date, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      snprintf(out[silver], 65, "%s", sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return out[silver][0] ? out[silver] : NULL;
}

/* sha256 of the live warehouse rows of DATE, hashed exactly as
 * cfb_gold_checksum (plugins/lib/gold_checksum.c) does: a header line,
 * then the grain-ordered rows, tab-separated. A row edited in place after
 * publishing shows up here. */
#define DUMP_COLS "usage_date, provider, billing_account_id, " \
  "sub_account_id, service_name, service_category, region_id, currency, " \
  "billed_cost, effective_cost, list_cost, credit_cost, usage_quantity, " \
  "row_count"
static const char *gold_live(struct verify *v, const char *date) {
  static char hex[65];
  struct cf_buf b = CF_BUF_INIT(0);
  sqlite3_stmt *st = NULL;
  int ok = 0;
  if (sqlite3_prepare_v2(v->wh, "SELECT " DUMP_COLS " FROM fact_daily_cost"
                         " WHERE usage_date=?1 ORDER BY provider,"
                         " billing_account_id, sub_account_id, service_name,"
                         " service_category, region_id, currency", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, date, -1, SQLITE_STATIC);
    cf_buf_adds(&b, DUMP_COLS "\n");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); c++) {
        const char *x = (const char *)sqlite3_column_text(st, c);
        if (c) cf_buf_addch(&b, '\t');
        cf_buf_adds(&b, x ? x : "");
      }
      cf_buf_addch(&b, '\n');
    }
    ok = rc == SQLITE_DONE;
  }
  sqlite3_finalize(st);
  if (ok) cf_sha256_mem(b.buf, b.len, hex);
  cf_buf_release(&b);
  return ok ? hex : NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  remove(path);
  return 0;
}

static const char usage_text[] =
  "usage: costflow verify DAG --date YYYY-MM-DD [--keep] [--verbose]\n"
  "Recomputes the silver and gold partitions of the run's usage dates\n"
  "into a scratch home and compares checksums with the published ones.\n"
  "Exit 0 all equal, 1 any difference, 2 usage or nothing to verify.\n";

int cmd_verify(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"date", required_argument, NULL, 'd'}, {"keep", no_argument, NULL, 'k'},
    {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  struct verify v = {0};
  struct cf_diags dg = CF_DIAGS_INIT;
  struct cf_dag_load_opts lo = {0};
  char *path = NULL, *wpath = NULL, *spath = NULL, *tmp = NULL;
  int c, keep_scratch = 0, ret = CF_EXIT_USAGE;
  json_t *dates = NULL;
  cf_date d;

  optind = 1;
  while ((c = getopt_long(argc, argv, "d:kvh", opts, NULL)) != -1) {
    switch (c) {
    case 'd': v.date = optarg; break;
    case 'k': keep_scratch = 1; break;
    case 'v': v.verbose = 1; break;
    case 'h': fputs(usage_text, stdout); return CF_EXIT_OK;
    default: fputs(usage_text, stderr); return CF_EXIT_USAGE;
    }
  }
  if (optind + 1 != argc || !v.date || cf_date_parse(v.date, &d) < 0) {
    fputs(usage_text, stderr);
    return cf_cli_error(CF_EXIT_USAGE, "verify: need DAG and --date "
                        "YYYY-MM-DD");
  }
  v.cli = cli;
  wpath = cf_asprintf("%s/warehouse.db", cli->home);
  if (!wpath || access(wpath, F_OK) != 0) {
    cf_cli_error(CF_EXIT_USAGE, "verify: no gold warehouse at %s yet (run "
                 "the billing DAG first)", wpath ? wpath : "?");
    goto done;
  }
  if (cf_registry_new(cli->plugin_path, &v.reg) < 0 ||
      cf_dag_resolve(cli->dags_dir, argv[optind], &path) < 0) {
    cf_cli_error(CF_EXIT_USAGE, "verify: DAG '%s' not found", argv[optind]);
    goto done;
  }
  lo.lookup = cf_registry_lookup;
  lo.lookup_data = v.reg;
  if (cf_dag_load(path, &lo, &v.dag, &dg) < 0) {
    cf_diags_print(&dg, stderr);
    goto done;
  }
  if (sqlite3_open_v2(wpath, &v.wh, SQLITE_OPEN_READONLY, NULL)) {
    cf_cli_error(0, "verify: %s", sqlite3_errmsg(v.wh));
    goto done;
  }
  sqlite3_busy_timeout(v.wh, 10000);
  spath = cf_asprintf("%s/costflow.db", cli->home);
  if (spath && access(spath, R_OK) == 0 &&
      sqlite3_open_v2(spath, &v.store, SQLITE_OPEN_READONLY, NULL)) {
    sqlite3_close(v.store);
    v.store = NULL;
  }
  if (v.store) sqlite3_busy_timeout(v.store, 10000);
  dates = run_dates(&v);
  if (!json_array_size(dates)) {
    cf_cli_error(0, "verify: run %s %s published no gold partitions",
                 v.dag->id, v.date);
    goto done;
  }
  ret = CF_EXIT_FAIL;
  /* Scratch home next to the real one (same filesystem, same owner). */
  tmp = cf_asprintf("%s/tmp", cli->home);
  cf_mkdir_p(tmp, 0755);
  v.scratch = cf_asprintf("%s/verify-XXXXXX", tmp);
  if (!v.scratch || !mkdtemp(v.scratch)) {
    cf_cli_error(0, "verify: cannot create a scratch folder in %s", tmp);
    goto done;
  }
  char *abs_home = realpath(cli->home, NULL);
  if (!abs_home) {
    cf_cli_error(0, "verify: %s: %s", cli->home, strerror(errno));
    goto done;
  }
  char *lake = cf_asprintf("%s/lake", v.scratch);
  char *bronze_src = cf_asprintf("%s/lake/bronze", abs_home);
  char *bronze_dst = cf_asprintf("%s/lake/bronze", v.scratch);
  char *silver_pub = cf_asprintf("%s/lake/silver/cost", abs_home);
  char *wh_scratch = cf_asprintf("%s/warehouse.db", v.scratch);
  cf_mkdir_p(lake, 0755);
  if (symlink(bronze_src, bronze_dst) < 0) {}  /* no bronze: silver skips */
  v.outputs = json_object();
  v.parts = json_object();
  printf("verify %s %s: %zu usage date(s), scratch %s\n", v.dag->id, v.date,
         json_array_size(dates), v.scratch);

  /* silver: recompute from bronze into the scratch lake */
  struct cf_buf only = CF_BUF_INIT(0);
  size_t i;
  json_t *it;
  json_array_foreach(dates, i, it)
    cf_buf_addf(&only, "%s%s", i ? "," : "", json_string_value(it));
  int sr = run_stage(&v, "transform_to_cleaned",
                     json_pack("{s:s}", "dates", only.buf));
  cf_buf_release(&only);
  if (sr < 0) v.diffs++;
  json_array_foreach(dates, i, it) {
    char pub[65], rec[65];
    const char *ud = json_string_value(it);
    silver_sum(abs_home, ud, pub);
    if (sr > 0) {
      silver_sum(v.scratch, ud, rec);
      report(&v, "silver", ud, pub[0] ? pub : NULL, rec[0] ? rec : NULL);
    }
    /* gold must have been built from the silver that is live now */
    report(&v, "lineage", ud, gold_published(&v, ud, 1), pub[0] ? pub : NULL);
  }
  /* gold: recompute from the published silver into a scratch warehouse */
  int gr = run_stage(&v, "load_to_analytics",
                     json_pack("{s:O,s:s,s:s}", "dates", dates, "warehouse",
                               wh_scratch, "silver", silver_pub));
  if (gr <= 0) v.diffs++;
  json_array_foreach(dates, i, it) {
    const char *ud = json_string_value(it);
    char *k = cf_asprintf("gold.fact_daily_cost/usage_date=%s", ud);
    json_t *p = k ? json_object_get(v.parts, k) : NULL;
    const char *pub = gold_published(&v, ud, 0);
    report(&v, "gold", ud, pub,
           json_string_value(json_object_get(p, "checksum")));
    report(&v, "live", ud, pub, gold_live(&v, ud));
    cf_free(k);
  }
  printf("%s: %d difference(s)\n", v.diffs ? "FAILED" : "verified", v.diffs);
  ret = v.diffs ? CF_EXIT_FAIL : CF_EXIT_OK;
  if (!keep_scratch) nftw(v.scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(abs_home);
  cf_free(lake);
  cf_free(bronze_src);
  cf_free(bronze_dst);
  cf_free(silver_pub);
  cf_free(wh_scratch);
done:
  json_decref(dates);
  json_decref(v.outputs);
  json_decref(v.parts);
  sqlite3_close(v.store);
  sqlite3_close(v.wh);
  if (v.dag) cf_dag_free(v.dag);
  if (v.reg) cf_registry_free(v.reg);
  cf_diags_release(&dg);
  cf_free(v.scratch);
  cf_free(tmp);
  cf_free(spath);
  cf_free(wpath);
  free(path);
  return ret;
}
