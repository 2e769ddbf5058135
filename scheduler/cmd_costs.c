/* costflow costs: spend from the gold warehouse, one row per group, exact
 * decimal strings (summed here with cf_dec, never by SQL over floats). */
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "costflow/common.h"
#include "costflow/decimal.h"

#define NVALS 4   /* billed, effective, list, credit */

static const char usage_text[] =
  "usage: costflow costs [--from D1] [--to D2]\n"
  "                      [--by day,month,provider,account,service,region]\n"
  "                      [--csv|--json]\n"
  "Prints billed/effective/list/credit cost from the gold warehouse\n"
  "($COSTFLOW_HOME/warehouse.db), one row per group and currency, as\n"
  "exact decimals. Default --by provider. account is SubAccountId, or\n"
  "BillingAccountId when empty.\n";

static const struct { const char *name, *expr; } dims[] = {
  {"day", "usage_date"},
  {"month", "substr(usage_date,1,7)"},
  {"provider", "provider"},
  {"account", "CASE WHEN sub_account_id<>'' THEN sub_account_id ELSE "
              "billing_account_id END"},
  {"service", "service_name"},
  {"region", "region_id"},
};
#define NDIMS (sizeof dims / sizeof *dims)

struct acc {
  char *keys[NDIMS + 1];  /* group values, then currency */
  cf_dec v[NVALS];
  int64_t rows;
};

enum fmt { F_TABLE, F_CSV, F_JSON };

static void csv_field(const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, stdout);
    return;
  }
  putchar('"');
  for (; *s; s++) {
    if (*s == '"') putchar('"');
    putchar(*s);
  }
  putchar('"');
}

static void emit(const struct acc *a, const int *by, int nby, enum fmt f,
                 json_t *rows) {
  char num[NVALS][CF_DEC_MAXSTR];
  static const char *const vn[NVALS] = {"billed_cost", "effective_cost",
                                        "list_cost", "credit_cost"};
  for (int i = 0; i < NVALS; i++) cf_dec_format(a->v[i], num[i]);
  if (f == F_JSON) {
    json_t *o = json_object();
    for (int i = 0; i < nby; i++)
      json_object_set_new(o, dims[by[i]].name, json_string(a->keys[i]));
    json_object_set_new(o, "currency", json_string(a->keys[nby]));
    for (int i = 0; i < NVALS; i++)
      json_object_set_new(o, vn[i], json_string(num[i]));
    json_object_set_new(o, "rows", json_integer(a->rows));
    json_array_append_new(rows, o);
  } else if (f == F_CSV) {
    for (int i = 0; i <= nby; i++) {
      csv_field(a->keys[i]);
      putchar(',');
    }
    printf("%s,%s,%s,%s,%lld\n", num[0], num[1], num[2], num[3],
           (long long)a->rows);
  } else {
    for (int i = 0; i <= nby; i++) printf("%-24s ", a->keys[i]);
    printf("%28s %28s %22s %10lld\n", num[0], num[1], num[3],
           (long long)a->rows);
  }
}

static void header(const int *by, int nby, enum fmt f) {
  if (f == F_JSON) return;
  for (int i = 0; i < nby; i++)
    printf(f == F_CSV ? "%s," : "%-24s ", dims[by[i]].name);
  if (f == F_CSV)
    printf("currency,billed_cost,effective_cost,list_cost,credit_cost,"
           "rows\n");
  else
    printf("%-24s %28s %28s %22s %10s\n", "currency", "billed_cost",
           "effective_cost", "credit_cost", "rows");
}

static int parse_by(const char *s, int *by, int *nby) {
  char *copy = cf_strdup(s), *save = NULL;
  int ok = copy != NULL;
  *nby = 0;
  for (char *t = strtok_r(copy, ",", &save); ok && t;
       t = strtok_r(NULL, ",", &save)) {
    size_t d;
    for (d = 0; d < NDIMS && strcmp(t, dims[d].name); d++) {}
    for (int i = 0; i < *nby; i++) ok &= by[i] != (int)d;
    if (d == NDIMS || !ok) ok = 0;
    else by[(*nby)++] = (int)d;
  }
  cf_free(copy);
  return ok && *nby > 0;
}

static int same_keys(const struct acc *a, sqlite3_stmt *st, int n) {
  for (int i = 0; i < n; i++) {
    const char *v = (const char *)sqlite3_column_text(st, i);
    if (strcmp(a->keys[i], v ? v : "")) return 0;
  }
  return 1;
}

static void acc_release(struct acc *a, int n) {
  for (int i = 0; i < n; i++) {
    cf_free(a->keys[i]);
    a->keys[i] = NULL;
  }
}

int cmd_costs(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"from", required_argument, NULL, 'f'},
    {"to", required_argument, NULL, 't'},
    {"by", required_argument, NULL, 'b'}, {"csv", no_argument, NULL, 'c'},
    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *from = "0000-01-01", *to = "9999-12-31", *bys = "provider";
  enum fmt f = F_TABLE;
  int by[NDIMS], nby = 0, c, ret = CF_EXIT_FAIL, have = 0;
  cf_date d;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  struct cf_buf sql = CF_BUF_INIT(0);
  struct acc a = {0};
  json_t *rows = json_array(), *totals = json_object();
  cf_dec grand[NVALS];

  optind = 1;
  while ((c = getopt_long(argc, argv, "f:t:b:cjh", opts, NULL)) != -1) {
    switch (c) {
    case 'f': from = optarg; break;
    case 't': to = optarg; break;
    case 'b': bys = optarg; break;
    case 'c': f = F_CSV; break;
    case 'j': f = F_JSON; break;
    case 'h': fputs(usage_text, stdout); ret = CF_EXIT_OK; goto done;
    default: fputs(usage_text, stderr); ret = CF_EXIT_USAGE; goto done;
    }
  }
  if (optind < argc) {
    ret = cf_cli_error(CF_EXIT_USAGE, "costs: unexpected argument '%s'",
                       argv[optind]);
    goto done;
  }
  if ((strcmp(from, "0000-01-01") && cf_date_parse(from, &d) < 0) ||
      (strcmp(to, "9999-12-31") && cf_date_parse(to, &d) < 0)) {
    ret = cf_cli_error(CF_EXIT_USAGE, "costs: dates are YYYY-MM-DD");
    goto done;
  }
  if (!parse_by(bys, by, &nby)) {
    ret = cf_cli_error(CF_EXIT_USAGE, "costs: --by takes a comma list of "
                       "day, month, provider, account, service, region");
    goto done;
  }
  char *path = cf_asprintf("%s/warehouse.db", cli->home);
  if (!path || access(path, F_OK) != 0) {
    ret = cf_cli_error(CF_EXIT_USAGE, "costs: no gold warehouse at %s yet "
                       "(run the billing DAG first)", path ? path : "?");
    cf_free(path);
    goto done;
  }
  int orc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
  cf_free(path);
  if (orc) {
    ret = cf_cli_error(CF_EXIT_FAIL, "costs: %s", sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_busy_timeout(db, 10000);
  /* Sorted by the group, so equal groups are adjacent: fold in order. */
  cf_buf_adds(&sql, "SELECT ");
  for (int i = 0; i < nby; i++) cf_buf_addf(&sql, "%s, ", dims[by[i]].expr);
  cf_buf_adds(&sql, "currency, billed_cost, effective_cost, list_cost, "
              "credit_cost, row_count FROM fact_daily_cost WHERE usage_date "
              "BETWEEN ?1 AND ?2 ORDER BY ");
  for (int i = 0; i <= nby; i++) cf_buf_addf(&sql, "%d, ", i + 1);
  cf_buf_adds(&sql, "1");
  if (sqlite3_prepare_v2(db, sql.buf, -1, &st, NULL)) {
    ret = cf_cli_error(CF_EXIT_FAIL, "costs: %s", sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
  header(by, nby, f);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (have && !same_keys(&a, st, nby + 1)) {
      emit(&a, by, nby, f, rows);
      acc_release(&a, nby + 1);
      memset(&a, 0, sizeof a);
      have = 0;
    }
    if (!have) {
      for (int i = 0; i <= nby; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        a.keys[i] = cf_strdup(v ? v : "");
      }
      have = 1;
    }
    for (int i = 0; i < NVALS; i++) {
      const char *v = (const char *)sqlite3_column_text(st, nby + 1 + i);
      cf_dec x;
      if (!v || cf_dec_parse(v, strlen(v), &x) < 0) {
        ret = cf_cli_error(CF_EXIT_FAIL, "costs: bad decimal '%s' in "
                           "warehouse", v ? v : "NULL");
        goto done;
      }
      a.v[i] = cf_dec_add(a.v[i], x);
    }
    a.rows += sqlite3_column_int64(st, nby + 1 + NVALS);
    /* Per-currency totals for --json. */
    const char *cur = (const char *)sqlite3_column_text(st, nby);
    json_t *t = json_object_get(totals, cur ? cur : "");
    for (int i = 0; i < NVALS; i++) {
      const char *v = (const char *)sqlite3_column_text(st, nby + 1 + i);
      cf_dec x, prev = CF_DEC_ZERO;
      char num[CF_DEC_MAXSTR];
      cf_dec_parse(v, strlen(v), &x);
      if (t && json_array_get(t, i)) {
        const char *p = json_string_value(json_array_get(t, i));
        cf_dec_parse(p, strlen(p), &prev);
      }
      grand[i] = cf_dec_add(prev, x);
      cf_dec_format(grand[i], num);
      if (!t) {
        t = json_array();
        json_object_set_new(totals, cur ? cur : "", t);
      }
      if (json_array_size(t) > (size_t)i)
        json_array_set_new(t, i, json_string(num));
      else
        json_array_append_new(t, json_string(num));
    }
  }
  if (rc != SQLITE_DONE) {
    ret = cf_cli_error(CF_EXIT_FAIL, "costs: %s", sqlite3_errmsg(db));
    goto done;
  }
  if (have) emit(&a, by, nby, f, rows);
  if (f == F_JSON) {
    json_t *out = json_object(), *tot = json_object(), *byj = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(totals, k, v) {
      json_object_set_new(tot, k, json_pack("{s:O,s:O,s:O,s:O}",
                          "billed_cost", json_array_get(v, 0),
                          "effective_cost", json_array_get(v, 1),
                          "list_cost", json_array_get(v, 2),
                          "credit_cost", json_array_get(v, 3)));
    }
    for (int i = 0; i < nby; i++)
      json_array_append_new(byj, json_string(dims[by[i]].name));
    json_object_set_new(out, "from", strcmp(from, "0000-01-01")
                                         ? json_string(from) : json_null());
    json_object_set_new(out, "to", strcmp(to, "9999-12-31")
                                       ? json_string(to) : json_null());
    json_object_set_new(out, "by", byj);
    json_object_set_new(out, "rows", json_incref(rows));
    json_object_set_new(out, "totals", tot);
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    putchar('\n');
    json_decref(out);
  }
  ret = CF_EXIT_OK;
done:
  acc_release(&a, NDIMS + 1);
  json_decref(rows);
  json_decref(totals);
  cf_buf_release(&sql);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return ret;
}
