/* The run report: charts of spend over time, the run's spend, anomalies,
 * zombies and data-quality tables, as HTML and as Markdown. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "costflow/common.h"
#include "costflow/decimal.h"
#include "gold_warehouse.h"
#include "report_build.h"
#include "report_svg.h"

#define TOP_SERVICES 6
#define TOP_BARS 10

struct rep {
  const struct cfb_report_in *in;
  struct cf_buf h, m;        /* html, markdown */
  char from[11], to[11];     /* chart window */
  char **xl;                 /* x labels, nx dates */
  size_t nx;
  cf_date first;
  int err;
};

static int md_esc(struct cf_buf *b, const char *s) {
  int r = 0;
  for (; s && *s && r == 0; s++) {
    if (*s == '|' || *s == '\\' || *s == '*' || *s == '_' || *s == '`')
      r = cf_buf_addch(b, '\\');
    if (r == 0) r = cf_buf_addch(b, *s == '\n' ? ' ' : *s);
  }
  return r;
}

/* Keeps the first failed write: a report missing a piece it could not
 * hold is an error, never returned as built. */
static void rep_ok(struct rep *r, int ret) {
  if (ret < 0 && !r->err) r->err = ret;
}

/* Daily series per key over the window: rows (key, usage_date, cost). */
static int series(struct rep *r, const char *sql, struct cfb_groups *g) {
  sqlite3_stmt *st = NULL;
  int rc;
  cfb_groups_init(g, 1, 0);
  if (sqlite3_prepare_v2(r->in->warehouse, sql, -1, &st, NULL)) {
    sqlite3_finalize(st);
    return CF_ESTORE;
  }
  sqlite3_bind_text(st, 1, r->from, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, r->to, -1, SQLITE_TRANSIENT);
  g->nvals = r->nx + 1;        /* per day, then the window total */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *k = (const char *)sqlite3_column_text(st, 0);
    const char *ds = (const char *)sqlite3_column_text(st, 1);
    const char *cs = (const char *)sqlite3_column_text(st, 2);
    cf_date d;
    cf_dec v;
    if (!ds || !cs || cf_date_parse(ds, &d) < 0 ||
        cf_dec_parse(cs, strlen(cs), &v) < 0)
      continue;
    const char *keys[1] = {k ? k : ""};
    struct cfb_group *gr = cfb_groups_get(g, keys, NULL);
    if (!gr) {
      rc = -ENOMEM;
      break;
    }
    gr->sums[d - r->first] = cf_dec_add(gr->sums[d - r->first], v);
    gr->sums[r->nx] = cf_dec_add(gr->sums[r->nx], v);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : rc == -ENOMEM ? rc : CF_ESTORE;
}

static int cmp_total(const void *a, const void *b, void *nx) {
  const struct cfb_group *x = a, *y = b;
  size_t n = *(size_t *)nx;
  int c = cf_dec_cmp(y->sums[n], x->sums[n]);
  return c ? c : strcmp(x->keys[0], y->keys[0]);
}

static void charts(struct rep *r) {
  struct cfb_groups prov, svc;
  struct cfb_series s[TOP_SERVICES];
  const char *labels[TOP_BARS];
  cf_dec vals[TOP_BARS];
  int rp = series(r, "SELECT provider||' '||currency, usage_date,"
                  " billed_cost FROM agg_daily_provider WHERE usage_date"
                  " BETWEEN ?1 AND ?2", &prov);
  /* a service billed in two currencies is two series: amounts in
   * different currencies are never added */
  int rs = series(r, "SELECT provider||' / '||service_name||' '||currency,"
                  " usage_date, billed_cost FROM fact_daily_cost WHERE"
                  " usage_date BETWEEN ?1 AND ?2", &svc);
  int ok = rp == 0 && rs == 0;
  if (rp == -ENOMEM || rs == -ENOMEM)   /* not an unreadable warehouse */
    rep_ok(r, -ENOMEM);
  rep_ok(r, cf_buf_addf(&r->h, "<h2>Spend over time (%s to %s)</h2>\n",
                        r->from, r->to));
  if (!ok) {
    rep_ok(r, cf_buf_adds(&r->h, "<p>Charts unavailable (warehouse "
                          "unreadable).</p>"));
    goto done;
  }
  qsort_r(prov.v, prov.n, sizeof *prov.v, cmp_total, &r->nx);
  qsort_r(svc.v, svc.n, sizeof *svc.v, cmp_total, &r->nx);
  size_t np = prov.n < TOP_SERVICES ? prov.n : TOP_SERVICES;
  for (size_t i = 0; i < np; i++)
    s[i] = (struct cfb_series){prov.v[i].keys[0], prov.v[i].sums};
  rep_ok(r, cfb_svg_lines(&r->h, "Daily billed cost by provider",
                          (const char *const *)r->xl, r->nx, s, np));
  size_t ns = svc.n < TOP_SERVICES ? svc.n : TOP_SERVICES;
  for (size_t i = 0; i < ns; i++)
    s[i] = (struct cfb_series){svc.v[i].keys[0], svc.v[i].sums};
  rep_ok(r, cfb_svg_lines(&r->h, "Daily billed cost, top services",
                          (const char *const *)r->xl, r->nx, s, ns));
  size_t nb = svc.n < TOP_BARS ? svc.n : TOP_BARS;
  for (size_t i = 0; i < nb; i++) {
    labels[i] = svc.v[i].keys[0];
    vals[i] = svc.v[i].sums[r->nx];
  }
  rep_ok(r, cfb_svg_bars(&r->h, "Billed cost by service over the window",
                         labels, vals, nb));
done:
  cfb_groups_release(&prov);
  cfb_groups_release(&svc);
}

/* The cells of the current row of st, then the row's end, in both
 * formats (the HTML <tr> is the caller's). */
static void row_cells(struct rep *r, sqlite3_stmt *st,
                      const char *const *cols, int ncols) {
  rep_ok(r, cf_buf_adds(&r->m, "|"));
  for (int c = 0; c < ncols; c++) {
    const char *v = (const char *)sqlite3_column_text(st, c);
    rep_ok(r, cf_buf_addf(&r->h, "<td%s>",
                          cols[c][0] == '$' ? " class=\"n\"" : ""));
    rep_ok(r, cfb_html_esc(&r->h, v ? v : ""));
    rep_ok(r, cf_buf_adds(&r->h, "</td>"));
    rep_ok(r, cf_buf_adds(&r->m, " "));
    rep_ok(r, md_esc(&r->m, v ? v : ""));
    rep_ok(r, cf_buf_adds(&r->m, " |"));
  }
  rep_ok(r, cf_buf_adds(&r->h, "</tr>\n"));
  rep_ok(r, cf_buf_adds(&r->m, "\n"));
}

/* Runs sql (?1 = date) for each run date and prints rows as one table in
 * both formats. Columns whose header starts with '$' are right-aligned. */
static void table(struct rep *r, const char *title, const char *sql,
                  const char *const *cols, int ncols, const char *empty) {
  sqlite3_stmt *st = NULL;
  size_t rows = 0;
  rep_ok(r, cf_buf_addf(&r->h, "<h2>%s</h2>\n", title));
  rep_ok(r, cf_buf_addf(&r->m, "\n## %s\n\n", title));
  if (sqlite3_prepare_v2(r->in->warehouse, sql, -1, &st, NULL)) {
    rep_ok(r, cf_buf_adds(&r->h, "<p>Not available.</p>\n"));
    rep_ok(r, cf_buf_adds(&r->m, "Not available.\n"));
    return;
  }
  for (size_t d = 0; d < r->in->ndates; d++) {
    sqlite3_bind_text(st, 1, r->in->dates[d], -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (!rows++) {
        rep_ok(r, cf_buf_adds(&r->h, "<table><tr>"));
        rep_ok(r, cf_buf_adds(&r->m, "|"));
        for (int c = 0; c < ncols; c++) {
          const char *n = cols[c] + (cols[c][0] == '$');
          rep_ok(r, cf_buf_addf(&r->h, "<th>%s</th>", n));
          rep_ok(r, cf_buf_addf(&r->m, " %s |", n));
        }
        rep_ok(r, cf_buf_adds(&r->h, "</tr>\n"));
        rep_ok(r, cf_buf_adds(&r->m, "\n|"));
        for (int c = 0; c < ncols; c++)
          rep_ok(r, cf_buf_adds(&r->m, cols[c][0] == '$' ? " ---: |"
                                                         : " --- |"));
        rep_ok(r, cf_buf_adds(&r->m, "\n"));
      }
      rep_ok(r, cf_buf_adds(&r->h, "<tr>"));
      row_cells(r, st, cols, ncols);
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rows) {
    rep_ok(r, cf_buf_adds(&r->h, "</table>\n"));
  } else {
    rep_ok(r, cf_buf_addf(&r->h, "<p>%s</p>\n", empty));
    rep_ok(r, cf_buf_addf(&r->m, "%s\n", empty));
  }
}

/* Has the store's dq_results the columns we read? (schema is the
 * lead's: check, degrade when it differs or is absent) */
static int dq_usable(sqlite3 *db) {
  static const char *const need[] = {"dag_id", "logical_date", "task_id",
    "rule", "severity", "rows_checked", "rows_failed", "passed"};
  sqlite3_stmt *st = NULL;
  int have = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA table_info(dq_results)", -1, &st,
                         NULL) == SQLITE_OK)
    while (sqlite3_step(st) == SQLITE_ROW)
      for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (!strcmp((const char *)sqlite3_column_text(st, 1), need[i]))
          have++;
  sqlite3_finalize(st);
  return have == (int)(sizeof need / sizeof *need);
}

static void dq_table(struct rep *r) {
  static const char *const cols[] = {"task", "rule", "severity",
    "$rows checked", "$rows failed", "result"};
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  size_t rows = 0;
  rep_ok(r, cf_buf_adds(&r->h, "<h2>Data quality</h2>\n"));
  rep_ok(r, cf_buf_adds(&r->m, "\n## Data quality\n\n"));
  if (!r->in->store || access(r->in->store, R_OK) ||
      sqlite3_open_v2(r->in->store, &db, SQLITE_OPEN_READONLY, NULL) ||
      !dq_usable(db) ||
      sqlite3_prepare_v2(db, "SELECT task_id, rule, severity, rows_checked,"
                         " rows_failed, CASE WHEN passed THEN 'pass' ELSE"
                         " 'FAIL' END FROM dq_results WHERE dag_id=?1 AND"
                         " logical_date=?2 ORDER BY id", -1, &st, NULL)) {
    rep_ok(r, cf_buf_adds(&r->h,
                          "<p>No data-quality results available.</p>\n"));
    rep_ok(r, cf_buf_adds(&r->m, "No data-quality results available.\n"));
    goto done;
  }
  sqlite3_bind_text(st, 1, r->in->dag_id ? r->in->dag_id : "", -1,
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, r->in->logical_date ? r->in->logical_date : "",
                    -1, SQLITE_TRANSIENT);
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!rows++) {
      rep_ok(r, cf_buf_adds(&r->h, "<table><tr>"));
      for (int c = 0; c < 6; c++)
        rep_ok(r, cf_buf_addf(&r->h, "<th>%s</th>",
                              cols[c] + (cols[c][0] == '$')));
      rep_ok(r, cf_buf_adds(&r->h, "</tr>\n"));
      rep_ok(r, cf_buf_adds(&r->m, "| task | rule | severity | rows checked"
                            " | rows failed | result |\n| --- | --- | --- |"
                            " ---: | ---: | --- |\n"));
    }
    const char *res = (const char *)sqlite3_column_text(st, 5);
    rep_ok(r, cf_buf_addf(&r->h, "<tr class=\"%s\">",
                          strcmp(res, "pass") ? "bad" : "ok"));
    row_cells(r, st, cols, 6);
  }
  rep_ok(r, cf_buf_adds(&r->h, rows ? "</table>\n" : "<p>No rules ran.</p>\n"));
  if (!rows) rep_ok(r, cf_buf_adds(&r->m, "No rules ran.\n"));
done:
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static const char css[] =
  "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
  "table{border-collapse:collapse;margin:.5em 0}"
  "td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px}"
  "th{background:#f4f4f4}td.n{text-align:right;font-family:monospace}"
  "tr.bad td{background:#fde8e8}.chart{display:block;margin:1em 0}"
  ".ct{font-size:14px;font-weight:bold}.ax{font-size:11px;fill:#555}"
  ".lg{font-size:12px}";

int cfb_report_build(const struct cfb_report_in *in, char **html,
                     char **md) {
  struct rep r;
  int ret = 0, days = in->history_days > 0 ? in->history_days : 30;
  cf_date last;
  memset(&r, 0, sizeof r);
  r.in = in;
  cf_buf_init(&r.h, 0);
  cf_buf_init(&r.m, 0);
  const char *lasts = in->ndates ? in->dates[in->ndates - 1]
                                 : in->logical_date;
  if (!lasts || cf_date_parse(lasts, &last) < 0) return CF_EINVALID;
  r.first = last - days + 1;
  /* Charts start at the first loaded day, not at empty history. */
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(in->warehouse, "SELECT min(usage_date) FROM"
                         " gold_partitions", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    cf_date f;
    if (cf_date_parse((const char *)sqlite3_column_text(st, 0), &f) == 0 &&
        f > r.first && f <= last)
      r.first = f;
  }
  sqlite3_finalize(st);
  r.nx = (size_t)(last - r.first + 1);
  cf_date_format(r.first, r.from);
  cf_date_format(last, r.to);
  if (!(r.xl = cf_calloc(r.nx, sizeof *r.xl))) return -ENOMEM;
  for (size_t i = 0; i < r.nx; i++) {
    if (!(r.xl[i] = cf_malloc(11))) {
      ret = -ENOMEM;
      goto done;
    }
    cf_date_format(r.first + (cf_date)i, r.xl[i]);
  }

  rep_ok(&r, cf_buf_adds(&r.h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                         "charset=\"utf-8\"><title>"));
  rep_ok(&r, cf_buf_addf(&r.h, "costflow report "));
  rep_ok(&r, cfb_html_esc(&r.h, in->dag_id));
  rep_ok(&r, cf_buf_addf(&r.h, " %s</title><style>%s</style></head><body>"
                         "\n<h1>", in->logical_date, css));
  rep_ok(&r, cfb_html_esc(&r.h, in->dag_id));
  rep_ok(&r, cf_buf_addf(&r.h, " &mdash; %s</h1>\n<p>Run ", in->logical_date));
  rep_ok(&r, cfb_html_esc(&r.h, in->run_id ? in->run_id : "-"));
  rep_ok(&r, cf_buf_addf(&r.h, ". Usage dates refreshed: %zu", in->ndates));
  if (in->ndates)
    rep_ok(&r, cf_buf_addf(&r.h, " (%s .. %s)", in->dates[0],
                           in->dates[in->ndates - 1]));
  rep_ok(&r, cf_buf_adds(&r.h, ". Costs are exact billed cost in the billing "
                         "currency.</p>\n"));
  rep_ok(&r, cf_buf_addf(&r.m, "# costflow %s %s\n\nRun `%s`. Usage dates "
                         "refreshed: %zu.\n", in->dag_id, in->logical_date,
                         in->run_id ? in->run_id : "-", in->ndates));

  charts(&r);
  static const char *const spend_cols[] = {"usage date", "provider",
    "currency", "$billed cost", "$effective cost", "$credits", "$rows"};
  table(&r, "Spend by provider", "SELECT usage_date, provider, currency,"
        " billed_cost, effective_cost, credit_cost, row_count FROM"
        " agg_daily_provider WHERE usage_date=?1 ORDER BY provider, currency",
        spend_cols, 7, "No spend for these dates.");
  static const char *const an_cols[] = {"usage date", "provider", "account",
    "service", "$cost", "$trailing avg", "$stddev", "$% above", "window",
    "provisional"};
  table(&r, "Anomalies", "SELECT usage_date, provider, account, service,"
        " cost, trailing_avg, trailing_stddev, coalesce(pct_above,'n/a'),"
        " window_days||' days', CASE WHEN provisional THEN 'yes' ELSE 'no'"
        " END FROM anomalies WHERE usage_date=?1 ORDER BY provider, account,"
        " service", an_cols, 10, "No anomalies.");
  static const char *const z_cols[] = {"usage date", "provider", "account",
    "resource", "service", "$cost", "$usage"};
  table(&r, "Zombie resources (cost with zero usage)", "SELECT usage_date,"
        " provider, account, resource_id, service, cost, usage_quantity FROM"
        " zombies WHERE usage_date=?1 ORDER BY provider, account,"
        " resource_id", z_cols, 7, "No zombie resources.");
  dq_table(&r);
  rep_ok(&r, cf_buf_adds(&r.h, "<p><small>Generated by costflow "
                         "publish_report.</small></p>\n</body></html>\n"));
  if (r.err < 0 || r.h.len == 0 || r.m.len == 0) {
    ret = r.err < 0 ? r.err : -ENOMEM;
    goto done;
  }
  *html = cf_buf_detach(&r.h, NULL);
  *md = cf_buf_detach(&r.m, NULL);
done:
  for (size_t i = 0; r.xl && i < r.nx; i++) cf_free(r.xl[i]);
  cf_free(r.xl);
  cf_buf_release(&r.h);
  cf_buf_release(&r.m);
  return ret;
}
