/* Canonical dump and sha256 of one gold partition (fact_daily_cost rows
 * of a usage date): the identity `verify` and the store compare. */
#include <sqlite3.h>
#include <string.h>
#include "costflow/common.h"
#include "gold_warehouse.h"

#define DUMP_COLS "usage_date, provider, billing_account_id, " \
  "sub_account_id, service_name, service_category, region_id, currency, " \
  "billed_cost, effective_cost, list_cost, credit_cost, usage_quantity, " \
  "row_count"

int cfb_gold_checksum(sqlite3 *db, const char *date, char hex[65],
                      int64_t *rows) {
  struct cf_buf b = CF_BUF_INIT(0);
  sqlite3_stmt *st = NULL;
  int ret = CF_ESTORE, rc, ncol;
  int64_t n = 0;
  if (sqlite3_prepare_v2(db, "SELECT " DUMP_COLS " FROM fact_daily_cost"
                         " WHERE usage_date=?1 ORDER BY provider,"
                         " billing_account_id, sub_account_id, service_name,"
                         " service_category, region_id, currency", -1, &st,
                         NULL))
    goto done;
  sqlite3_bind_text(st, 1, date, -1, SQLITE_TRANSIENT);
  ncol = sqlite3_column_count(st);
  if (cf_buf_adds(&b, DUMP_COLS "\n") < 0) goto done;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int c = 0; c < ncol; c++) {
      const char *v = (const char *)sqlite3_column_text(st, c);
      if ((c && cf_buf_addch(&b, '\t') < 0) ||
          cf_buf_adds(&b, v ? v : "") < 0)
        goto done;
    }
    if (cf_buf_addch(&b, '\n') < 0) goto done;
    n++;
  }
  if (rc != SQLITE_DONE) goto done;
  cf_sha256_mem(b.buf, b.len, hex);
  if (rows) *rows = n;
  ret = 0;
done:
  sqlite3_finalize(st);
  cf_buf_release(&b);
  return ret;
}
