/* Costs from the gold warehouse ($COSTFLOW_HOME/warehouse.db, opened
 * read-only per request; tables in plugins/lib/gold_schema.c and
 * docs/warehouse.md). Money stays exact: amounts are decimal strings,
 * summed with cf_dec, never converted to double. A missing warehouse or
 * table answers 503 with what is missing. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "costflow/decimal.h"
#include "web-int.h"

#define MAX_RANGE_DAYS 731
#define MAX_ROWS 2000000

/* Opens the warehouse and checks `table` exists; responds 503 if not. */
static sqlite3 *wh_open(struct cf_web_req *r, const char *table) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  const char *path = r->web->warehouse;
  if (access(path, R_OK) != 0) {
    cf__respond_json(r, 503, json_pack("{s:s, s:s}", "error",
        "no gold warehouse yet: run the billing DAG (load_to_analytics) "
        "first", "warehouse", path));
    return NULL;
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    cf__respond_error(r, 503, "cannot open the warehouse: %s",
                      sqlite3_errmsg(db));
    sqlite3_close(db);
    return NULL;
  }
  /* short: the loop must not wait long on a writer */
  sqlite3_busy_timeout(db, 250);
  int found = 0;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type IN "
                         "('table','view') AND name=?1", -1, &s, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    found = sqlite3_step(s) == SQLITE_ROW;
  }
  sqlite3_finalize(s);
  if (!found) {
    cf__respond_json(r, 503, json_pack("{s:s, s:s, s:s}", "error",
        "the warehouse has no such table yet", "table", table,
        "warehouse", path));
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* from/to query params; default: the 30 days up to the latest data. */
static int get_range(struct cf_web_req *r, sqlite3 *db, const char *table,
                     char from[11], char to[11]) {
  char *f = cf__query_get(r, "from"), *t = cf__query_get(r, "to");
  cf_date df, dt;
  int rc = 0;
  if (t) {
    if (cf_date_parse(t, &dt) < 0) goto bad;
  } else {
    sqlite3_stmt *s = NULL;
    char *sql = cf_asprintf("SELECT max(usage_date) FROM %s", table);
    const unsigned char *m = NULL;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      m = sqlite3_column_text(s, 0);
    if (!m || cf_date_parse((const char *)m, &dt) < 0)
      dt = (cf_date)(cf_now_ms() / 86400000);
    sqlite3_finalize(s);
    cf_free(sql);
  }
  if (f) {
    if (cf_date_parse(f, &df) < 0) goto bad;
  } else {
    df = dt - 29;
  }
  if (dt < df || dt - df >= MAX_RANGE_DAYS) {
    cf__respond_error(r, 400, "'to' must be on or after 'from', at most %d "
                      "days later", MAX_RANGE_DAYS - 1);
    rc = -1;
    goto done;
  }
  cf_date_format(df, from);
  cf_date_format(dt, to);
  goto done;
bad:
  cf__respond_error(r, 400, "from/to must be YYYY-MM-DD");
  rc = -1;
done:
  cf_free(f);
  cf_free(t);
  return rc;
}

static json_t *dec_json(cf_dec d) {
  char buf[CF_DEC_MAXSTR];
  cf_dec_format(d, buf);
  return json_string(buf);
}

struct series {
  json_t *obj, *points;
  cf_dec total;
};

/* Totals are kept per currency: amounts in two currencies are never
 * added. by_cur maps currency -> decimal text. */
static void add_to_currency(json_t *by_cur, const char *cur, cf_dec v) {
  if (!cur) cur = "";
  const char *was = json_string_value(json_object_get(by_cur, cur));
  cf_dec sum = v;
  if (was) {
    cf_dec w;
    if (cf_dec_parse(was, strlen(was), &w) == 0) sum = cf_dec_add(w, v);
  }
  json_object_set_new(by_cur, cur, dec_json(sum));
}

/* The one total when every amount is in one currency ("0" with none);
 * null when there are several: see "totals". */
static json_t *one_total(const json_t *by_cur) {
  size_t n = json_object_size(by_cur);
  if (n == 0) return json_string("0");
  if (n > 1) return json_null();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)by_cur, k, v) return json_incref(v);
  return json_null();
}

static int cmp_series(const void *a, const void *b) {
  return -cf_dec_cmp(((const struct series *)a)->total,
                     ((const struct series *)b)->total);
}

/* Daily sums of fact_daily_cost grouped by provider (+ `col`) and
 * currency, as series sorted by total (largest first). */
static json_t *daily_series(struct cf_web_req *r, sqlite3 *db,
                            const char *col, const char *metric,
                            const char *from, const char *to,
                            const char *provider, long limit) {
  char *sql = cf_asprintf("SELECT provider, %s, currency, usage_date, %s "
      "FROM fact_daily_cost WHERE usage_date BETWEEN ?1 AND ?2 AND "
      "(?3 IS NULL OR provider=?3) ORDER BY 1, 2, 3, 4 LIMIT %d",
      col, metric, MAX_ROWS);
  sqlite3_stmt *s = NULL;
  struct series *sv = NULL;
  size_t ns = 0;
  json_t *out = NULL;
  char prev[3][256] = {"", "", ""}, pdate[16] = "";
  cf_dec day = CF_DEC_ZERO;
  int bad = 0;
  if (!sql || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    cf__respond_error(r, 500, "warehouse: %s", sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
  if (provider) sqlite3_bind_text(s, 3, provider, -1, SQLITE_STATIC);
  for (;;) {
    int rc = sqlite3_step(s);
    const char *k[3] = {"", "", ""}, *date = "";
    if (rc == SQLITE_ROW) {
      for (int i = 0; i < 3; i++) {
        const char *t = (const char *)sqlite3_column_text(s, i);
        k[i] = t ? t : "";
      }
      const char *d = (const char *)sqlite3_column_text(s, 3);
      date = d ? d : "";
    }
    int same_series = rc == SQLITE_ROW && ns &&
        !strncmp(k[0], prev[0], 255) && !strncmp(k[1], prev[1], 255) &&
        !strncmp(k[2], prev[2], 255);
    /* flush the day being summed when the day or the series changes */
    if (ns && pdate[0] && (!same_series || strcmp(date, pdate))) {
      json_array_append_new(sv[ns - 1].points, json_pack("{s:s, s:o}",
                            "date", pdate, "cost", dec_json(day)));
      sv[ns - 1].total = cf_dec_add(sv[ns - 1].total, day);
      day = CF_DEC_ZERO;
      pdate[0] = '\0';
    }
    if (rc != SQLITE_ROW) break;
    if (!same_series) {
      struct series *g = cf_realloc(sv, (ns + 1) * sizeof *sv);
      if (!g) break;
      sv = g;
      sv[ns].points = json_array();
      sv[ns].obj = json_pack("{s:s, s:s, s:s}", "provider", k[0], "key",
                             k[1], "currency", k[2]);
      sv[ns].total = CF_DEC_ZERO;
      ns++;
      for (int i = 0; i < 3; i++) snprintf(prev[i], 256, "%s", k[i]);
    }
    snprintf(pdate, sizeof pdate, "%s", date);
    const char *amt = (const char *)sqlite3_column_text(s, 4);
    cf_dec v;
    if (!amt || cf_dec_parse(amt, strlen(amt), &v) < 0) {
      bad++;
      continue;
    }
    day = cf_dec_add(day, v);
  }
  qsort(sv, ns, sizeof *sv, cmp_series);
  json_t *arr = json_array(), *grand = json_object(), *other = json_object();
  size_t nother = 0;
  for (size_t i = 0; i < ns; i++) {
    const char *cur = json_string_value(json_object_get(sv[i].obj,
                                                        "currency"));
    add_to_currency(grand, cur, sv[i].total);
    if ((long)i < limit) {
      json_object_set_new(sv[i].obj, "total", dec_json(sv[i].total));
      json_object_set_new(sv[i].obj, "points", sv[i].points);
      json_array_append_new(arr, sv[i].obj);
    } else {
      add_to_currency(other, cur, sv[i].total);
      nother++;
      json_decref(sv[i].obj);
      json_decref(sv[i].points);
    }
  }
  out = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:o, s:o, s:i}", "from",
                  from, "to", to, "series", arr, "total", one_total(grand),
                  "totals", grand, "other_series", (json_int_t)nother,
                  "other_total", one_total(other), "other_totals", other,
                  "unparsable_rows", bad);
done:
  sqlite3_finalize(s);
  cf_free(sv);
  cf_free(sql);
  return out;
}

static const char *by_column(const char *by) {
  if (!by || !strcmp(by, "provider")) return "''";
  if (!strcmp(by, "service")) return "service_name";
  if (!strcmp(by, "account")) return "sub_account_id";
  if (!strcmp(by, "billing_account")) return "billing_account_id";
  if (!strcmp(by, "region")) return "region_id";
  return NULL;
}

void cf__api_costs_daily(struct cf_web_req *r) {
  char from[11], to[11];
  char *by = cf__query_get(r, "by"), *metric = cf__query_get(r, "metric");
  char *provider = cf__query_get(r, "provider");
  sqlite3 *db = NULL;
  const char *col = by_column(by);
  const char *m = !metric || !strcmp(metric, "billed_cost") ? "billed_cost"
                  : !strcmp(metric, "effective_cost") ? "effective_cost"
                  : NULL;
  if (!col || !m) {
    cf__respond_error(r, 400, "by is provider, service, account, "
                      "billing_account or region; metric is billed_cost or "
                      "effective_cost");
    goto done;
  }
  if (!(db = wh_open(r, "fact_daily_cost"))) goto done;
  if (get_range(r, db, "fact_daily_cost", from, to) < 0) goto done;
  long limit;
  if (cf__query_long(r, "limit", 12, 1, 200, &limit) < 0) goto done;
  json_t *j = daily_series(r, db, col, m, from, to, provider, limit);
  if (!j) goto done;
  json_object_set_new(j, "by", json_string(by ? by : "provider"));
  json_object_set_new(j, "metric", json_string(m));
  cf__respond_json(r, 200, j);
done:
  sqlite3_close(db);
  cf_free(by);
  cf_free(metric);
  cf_free(provider);
}

void cf__api_costs_summary(struct cf_web_req *r) {
  char from[11], to[11];
  sqlite3 *db = wh_open(r, "fact_daily_cost");
  if (!db) return;
  if (get_range(r, db, "fact_daily_cost", from, to) < 0) goto done;
  json_t *j = daily_series(r, db, "''", "billed_cost", from, to, NULL, 50);
  if (!j) goto done;
  sqlite3_stmt *s = NULL;
  static const char *const counts[][2] = {
    {"anomalies", "SELECT count(*) FROM anomalies WHERE usage_date "
                  "BETWEEN ?1 AND ?2"},
    {"zombies", "SELECT count(*) FROM zombies WHERE usage_date BETWEEN ?1 "
                "AND ?2"},
  };
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_null();
    if (sqlite3_prepare_v2(db, counts[i][1], -1, &s, NULL) == SQLITE_OK) {
      sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
      if (sqlite3_step(s) == SQLITE_ROW)
        v = json_integer(sqlite3_column_int64(s, 0));
    }
    sqlite3_finalize(s);
    json_object_set_new(j, counts[i][0], v);
  }
  if (sqlite3_prepare_v2(db, "SELECT min(usage_date), max(usage_date) "
                         "FROM fact_daily_cost", -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    json_object_set_new(j, "first_date", cf__json_col_text(s, 0));
    json_object_set_new(j, "last_date", cf__json_col_text(s, 1));
  }
  sqlite3_finalize(s);
  cf__respond_json(r, 200, j);
done:
  sqlite3_close(db);
}

void cf__api_costs_top(struct cf_web_req *r) {
  sqlite3 *db = wh_open(r, "agg_top_services");
  sqlite3_stmt *s = NULL;
  char *month = cf__query_get(r, "month");
  if (!db) goto done;
  if (month && (strlen(month) != 7 || month[4] != '-')) {
    cf__respond_error(r, 400, "month must be YYYY-MM");
    goto done;
  }
  long limit;
  if (cf__query_long(r, "limit", 10, 1, 100, &limit) < 0) goto done;
  if (sqlite3_prepare_v2(db, "SELECT month, rank, provider, service_name, "
        "currency, billed_cost, effective_cost FROM agg_top_services WHERE "
        "month = coalesce(?1, (SELECT max(month) FROM agg_top_services)) "
        "ORDER BY rank, currency, provider, service_name LIMIT ?2", -1, &s,
        NULL) != SQLITE_OK) {
    cf__respond_error(r, 500, "warehouse: %s", sqlite3_errmsg(db));
    goto done;
  }
  if (month) sqlite3_bind_text(s, 1, month, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, limit);
  json_t *arr = json_array(), *m = json_null();
  while (sqlite3_step(s) == SQLITE_ROW) {
    if (json_is_null(m)) m = cf__json_col_text(s, 0);
    json_array_append_new(arr, json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}",
        "rank", sqlite3_column_int(s, 1), "provider",
        cf__json_col_text(s, 2), "service", cf__json_col_text(s, 3),
        "currency", cf__json_col_text(s, 4), "billed_cost",
        cf__json_col_text(s, 5), "effective_cost", cf__json_col_text(s, 6)));
  }
  cf__respond_json(r, 200, json_pack("{s:o, s:o}", "month", m, "services",
                                     arr));
done:
  sqlite3_finalize(s);
  sqlite3_close(db);
  cf_free(month);
}

/* anomalies and zombies: rows of a date range, newest first. */
static void list_rows(struct cf_web_req *r, const char *table,
                      const char *cols, const char *const *names,
                      int ncols) {
  char from[11], to[11];
  sqlite3_stmt *s = NULL;
  char *sql = NULL;
  sqlite3 *db = wh_open(r, table);
  if (!db || get_range(r, db, table, from, to) < 0) goto done;
  long limit;
  if (cf__query_long(r, "limit", 200, 1, 5000, &limit) < 0) goto done;
  sql = cf_asprintf("SELECT %s FROM %s WHERE usage_date BETWEEN ?1 AND ?2 "
                    "ORDER BY usage_date DESC, provider, account LIMIT ?3",
                    cols, table);
  if (!sql || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    cf__respond_error(r, 500, "warehouse: %s", sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, limit);
  json_t *arr = json_array();
  while (sqlite3_step(s) == SQLITE_ROW) {
    json_t *o = json_object();
    for (int i = 0; i < ncols; i++)
      json_object_set_new(o, names[i],
          sqlite3_column_type(s, i) == SQLITE_INTEGER
              ? json_integer(sqlite3_column_int64(s, i))
              : cf__json_col_text(s, i));
    json_array_append_new(arr, o);
  }
  cf__respond_json(r, 200, json_pack("{s:s, s:s, s:o}", "from", from, "to",
                                     to, table, arr));
done:
  sqlite3_finalize(s);
  sqlite3_close(db);
  cf_free(sql);
}

void cf__api_costs_anomalies(struct cf_web_req *r) {
  static const char *const names[] = {
    "usage_date", "provider", "account", "service", "currency", "cost",
    "trailing_avg", "trailing_stddev", "pct_above", "window_days",
    "provisional"};
  list_rows(r, "anomalies", "usage_date, provider, account, service, "
            "currency, cost, trailing_avg, trailing_stddev, pct_above, "
            "window_days, provisional", names, 11);
}

void cf__api_costs_zombies(struct cf_web_req *r) {
  static const char *const names[] = {
    "usage_date", "provider", "account", "resource_id", "service", "cost",
    "usage_quantity", "usage_rows"};
  list_rows(r, "zombies", "usage_date, provider, account, resource_id, "
            "service, cost, usage_quantity, usage_rows", names, 8);
}
