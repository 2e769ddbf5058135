/* The run summary text for notifications (see notify_message.h). */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>
#include "costflow/common.h"
#include "costflow/decimal.h"
#include "gold_warehouse.h"
#include "notify_message.h"

void cfb_summary_release(struct cfb_summary *s) {
  cf_free(s->subject);
  cf_free(s->text);
  memset(s, 0, sizeof *s);
}

static sqlite3 *open_ro(const char *path) {
  sqlite3 *db = NULL;
  if (!path || access(path, R_OK) != 0) return NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL)) {
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

/* Spend of `date` by provider and currency, exact. */
static void add_spend(struct cf_buf *b, sqlite3 *db, const char *date) {
  struct cfb_groups g;
  sqlite3_stmt *st = NULL;
  cfb_groups_init(&g, 2, 1);
  if (sqlite3_prepare_v2(db, "SELECT provider, currency, billed_cost FROM"
                         " fact_daily_cost WHERE usage_date=?1", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, date, -1, SQLITE_TRANSIENT);
    if (cfb_gold_sum_query(st, &g) == 0) {
      cf_dec total = CF_DEC_ZERO;
      cfb_groups_sort(&g);
      cf_buf_addf(b, "Spend on usage date %s (billed cost):\n", date);
      for (size_t i = 0; i < g.n; i++) {
        char s[CF_DEC_MAXSTR];
        cf_dec_format(g.v[i].sums[0], s);
        cf_buf_addf(b, "  %-6s %s %s\n", g.v[i].keys[0], g.v[i].keys[1], s);
        total = cf_dec_add(total, g.v[i].sums[0]);
      }
      if (!g.n) cf_buf_adds(b, "  (no rows)\n");
    } else {
      cf_buf_adds(b, "Spend: unknown (warehouse unreadable)\n");
    }
  }
  sqlite3_finalize(st);
  cfb_groups_release(&g);
}

static long long count_for(sqlite3 *db, const char *table,
                           const struct cfb_summary_in *in) {
  long long n = 0;
  char *sql = cf_asprintf("SELECT count(*) FROM %s WHERE usage_date=?1",
                          table);
  sqlite3_stmt *st = NULL;
  if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL)) n = -1;
  for (size_t i = 0; n >= 0 && i < in->ndates; i++) {
    sqlite3_bind_text(st, 1, in->dates[i], -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) n += sqlite3_column_int64(st, 0);
    else n = -1;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  cf_free(sql);
  return n;
}

/* Bytes of s to keep for at most max bytes without splitting a
 * character. */
static int utf8_cut(const char *s, int max) {
  int n = 0;
  while (s[n]) {
    int k = (int)cf_utf8_char_len(s + n);
    if (!k) k = 1;                 /* replaced by cf_utf8_scrub */
    if (n + k > max) break;
    n += k;
  }
  return n;
}

/* Failed task ids of this run from the store; -1 if it cannot tell. */
static int add_failed(struct cf_buf *b, const struct cfb_summary_in *in) {
  sqlite3 *db = open_ro(in->store);
  sqlite3_stmt *st = NULL;
  int n = -1;
  if (db && sqlite3_prepare_v2(db, "SELECT t.task_id, t.state,"
                               " coalesce(t.reason,'') FROM task_instances t"
                               " JOIN runs r ON r.id=t.run_pk WHERE"
                               " r.dag_id=?1 AND r.logical_date=?2 AND"
                               " t.state IN ('failed','upstream_failed',"
                               "'up_for_retry') ORDER BY t.task_id", -1, &st,
                               NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, in->dag_id ? in->dag_id : "", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, in->logical_date ? in->logical_date : "", -1,
                      SQLITE_TRANSIENT);
    n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *reason = (const char *)sqlite3_column_text(st, 2);
      if (!reason) reason = "";
      cf_buf_addf(b, "%s  %s: %s%s%.*s\n", n ? "" : "Failed tasks:\n",
                  sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
                  *reason ? " - " : "", utf8_cut(reason, 200), reason);
      if (!strcmp((const char *)sqlite3_column_text(st, 1), "failed")) n++;
    }
  }
  if (n < 0) cf_buf_adds(b, "Failed tasks: unknown (store not readable)\n");
  else if (n == 0 && !in->failure) cf_buf_adds(b, "Failed tasks: none\n");
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

int cfb_summary_build(const struct cfb_summary_in *in,
                      struct cfb_summary *out) {
  struct cf_buf b = CF_BUF_INIT(0);
  sqlite3 *wh = open_ro(in->warehouse);
  const char *status = in->failure ? "FAILED" : "success";
  memset(out, 0, sizeof *out);
  cf_buf_addf(&b, "costflow %s %s: %s\n", in->dag_id ? in->dag_id : "?",
              in->logical_date ? in->logical_date : "?", status);
  if (in->run_id) cf_buf_addf(&b, "Run: %s\n", in->run_id);
  if (in->ndates) {
    cf_buf_addf(&b, "Usage dates refreshed: %zu (%s .. %s)\n", in->ndates,
                in->dates[0], in->dates[in->ndates - 1]);
    if (wh) {
      add_spend(&b, wh, in->dates[in->ndates - 1]);
      long long a = count_for(wh, "anomalies", in);
      long long z = count_for(wh, "zombies", in);
      if (a >= 0 && z >= 0)
        cf_buf_addf(&b, "Anomalies: %lld, zombie resources: %lld\n", a, z);
    } else {
      cf_buf_adds(&b, "Spend: unknown (no warehouse)\n");
    }
  } else {
    cf_buf_adds(&b, "Usage dates refreshed: none\n");
  }
  out->nfailed = add_failed(&b, in);
  if (in->report) cf_buf_addf(&b, "Report: %s\n", in->report);
  out->subject = cf_asprintf("[costflow] %s %s: %s",
                             in->dag_id ? in->dag_id : "?",
                             in->logical_date ? in->logical_date : "?",
                             status);
  sqlite3_close(wh);
  if (!out->subject || b.len == 0) {
    cf_buf_release(&b);
    cfb_summary_release(out);
    return -ENOMEM;
  }
  out->text = cf_buf_detach(&b, NULL);
  cf_utf8_scrub(out->text);
  return 0;
}
