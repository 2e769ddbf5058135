/* costflow anomalies / zombies: list the findings of detect_anomalies
 * from the gold warehouse, with the numbers behind each. */
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "costflow/common.h"

struct finding_kind {
  const char *cmd, *sql, *help;
  const char *const *cols;    /* output names, same order as the SELECT */
  int ncols;
  const int *width;           /* column widths; negative = right aligned */
};

static const char *const an_cols[] = {"usage_date", "provider", "account",
  "service", "currency", "cost", "trailing_avg", "trailing_stddev",
  "pct_above", "window_days", "provisional"};
static const int an_w[] = {10, 12, 16, 28, 4, -16, -16, -16, -8, -3, -1};
static const char *const z_cols[] = {"usage_date", "provider", "account",
  "resource_id", "service", "cost", "usage_quantity", "usage_rows"};
static const int z_w[] = {10, 12, 16, 36, 24, -16, -8, -5};

static const struct finding_kind anomalies = {
  "anomalies",
  "SELECT usage_date, provider, account, service, currency, cost,"
  " trailing_avg, trailing_stddev, pct_above, window_days, provisional"
  " FROM anomalies WHERE usage_date BETWEEN ?1 AND ?2"
  " ORDER BY usage_date, provider, account, service",
  "Daily cost anomalies: cost > 1.2 x the trailing 7-day average and more\n"
  "than 2 standard deviations above it (provisional: fewer than 7 days of\n"
  "history).\n",
  an_cols, 11, an_w};

static const struct finding_kind zombies = {
  "zombies",
  "SELECT usage_date, provider, account, resource_id, service, cost,"
  " usage_quantity, usage_rows FROM zombies WHERE usage_date BETWEEN ?1"
  " AND ?2 ORDER BY usage_date, provider, account, resource_id",
  "Zombie resources: Usage rows of a resource with cost > 0 and zero\n"
  "usage over the whole day.\n",
  z_cols, 8, z_w};

static int list(int argc, char **argv, struct cf_cli *cli,
                const struct finding_kind *k) {
  static const struct option opts[] = {
    {"from", required_argument, NULL, 'f'},
    {"to", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *from = "0000-01-01", *to = "9999-12-31";
  int json = 0, c, ret = CF_EXIT_FAIL, rc;
  cf_date d;
  char *path = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  json_t *arr = json_array();

  optind = 1;
  while ((c = getopt_long(argc, argv, "f:t:jh", opts, NULL)) != -1) {
    switch (c) {
    case 'f': from = optarg; break;
    case 't': to = optarg; break;
    case 'j': json = 1; break;
    case 'h':
      printf("usage: costflow %s [--from D1] [--to D2] [--json]\n%s",
             k->cmd, k->help);
      ret = CF_EXIT_OK;
      goto done;
    default:
      fprintf(stderr, "usage: costflow %s [--from D1] [--to D2] [--json]\n",
              k->cmd);
      ret = CF_EXIT_USAGE;
      goto done;
    }
  }
  if (optind < argc) {
    ret = cf_cli_error(CF_EXIT_USAGE, "%s: unexpected argument '%s'",
                       k->cmd, argv[optind]);
    goto done;
  }
  if ((strcmp(from, "0000-01-01") && cf_date_parse(from, &d) < 0) ||
      (strcmp(to, "9999-12-31") && cf_date_parse(to, &d) < 0)) {
    ret = cf_cli_error(CF_EXIT_USAGE, "%s: dates are YYYY-MM-DD", k->cmd);
    goto done;
  }
  path = cf_asprintf("%s/warehouse.db", cli->home);
  if (!path || access(path, F_OK) != 0) {
    ret = cf_cli_error(CF_EXIT_USAGE, "%s: no gold warehouse at %s yet "
                       "(run the billing DAG first)", k->cmd,
                       path ? path : "?");
    goto done;
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ||
      (sqlite3_busy_timeout(db, 10000),
       sqlite3_prepare_v2(db, k->sql, -1, &st, NULL))) {
    ret = cf_cli_error(CF_EXIT_FAIL, "%s: %s", k->cmd, sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
  if (!json) {
    for (int i = 0; i < k->ncols; i++)
      printf("%*s%s", -k->width[i],
             k->cols[i], i + 1 < k->ncols ? " " : "\n");
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *o = json ? json_object() : NULL;
    for (int i = 0; i < k->ncols; i++) {
      const char *v = (const char *)sqlite3_column_text(st, i);
      if (o && sqlite3_column_type(st, i) == SQLITE_INTEGER)
        json_object_set_new(o, k->cols[i],
                            json_integer(sqlite3_column_int64(st, i)));
      else if (o)
        json_object_set_new(o, k->cols[i], v ? json_string(v) : json_null());
      else
        printf("%*s%s", -k->width[i],
               v ? v : "-", i + 1 < k->ncols ? " " : "\n");
    }
    if (o) json_array_append_new(arr, o);
  }
  if (rc != SQLITE_DONE) {
    ret = cf_cli_error(CF_EXIT_FAIL, "%s: %s", k->cmd, sqlite3_errmsg(db));
    goto done;
  }
  if (json) {
    json_t *out = json_pack("{s:O}", k->cmd, arr);
    json_dumpf(out, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(out);
  }
  ret = CF_EXIT_OK;
done:
  json_decref(arr);
  sqlite3_finalize(st);
  sqlite3_close(db);
  cf_free(path);
  return ret;
}

int cmd_anomalies(int argc, char **argv, struct cf_cli *cli) {
  return list(argc, argv, cli, &anomalies);
}

int cmd_zombies(int argc, char **argv, struct cf_cli *cli) {
  return list(argc, argv, cli, &zombies);
}
