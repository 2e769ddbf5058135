/* Fuzz target: the provider row readers of the billing library
 * (cfb_aws_read, cfb_gcp_read for CSV and JSON lines) on a temp file, and
 * the text helpers they lean on (cfb_time_parse, cfb_json_quote_numbers).
 * The first input byte picks the reader; the rest is the file. */
#include "fuzz_util.h"
#include <jansson.h>
#include "cfb.h"
#include "costflow/common.h"

static int emit(void *ud, const struct cfb_cost *row) {
  (void)ud;
  for (int i = 0; i < CFB_NCOLS; i++)
    if (!row->col[i]) abort();
  char buf[CF_DEC_MAXSTR];
  cf_dec_format(row->billed, buf);
  /* the silver CSV writer gives what cfb_csv_field gives field by field */
  struct cf_buf b = CF_BUF_INIT(0), ref = CF_BUF_INIT(0);
  if (cfb_row_csv_len(&b, row->col, row->len) < 0) abort();
  for (int i = 0; i < CFB_NCOLS; i++)
    if ((i && cf_buf_addch(&ref, ',') < 0) ||
        cfb_csv_field(&ref, row->col[i]) < 0)
      abort();
  if (cf_buf_addch(&ref, '\n') < 0 || ref.len != b.len ||
      memcmp(ref.buf, b.buf, b.len))
    abort();
  cf_buf_release(&b);
  cf_buf_release(&ref);
  return 0;
}

static int reject(void *ud, const char *path, int64_t line,
                  const char *reason) {
  (void)ud;
  if (!path || !reason || line < 0) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_fd_mark();
  if (size < 1) return 0;
  unsigned mode = data[0] % 4;
  data++;
  size--;
  if (mode == 3) {                     /* text helpers on a C string */
    char *s = fz_cstr(data, size);
    int64_t t;
    (void)cfb_time_parse(s, &t);
    char *q = cfb_json_quote_numbers(s);
    if (q) {
      json_t *j = json_loads(q, JSON_DECODE_ANY, NULL);
      json_decref(j);
    }
    cf_free(q);
    struct cf_buf b = CF_BUF_INIT(0);
    if (cfb_json_str(&b, s) < 0 || cfb_csv_field(&b, s) < 0) abort();
    cf_buf_release(&b);
    free(s);
    fz_fd_check();
  return 0;
  }
  static const char *const names[3] = {"cur.csv", "gcp.csv", "gcp.jsonl"};
  const char *path = fz_write(names[mode], data, size);
  struct cfb_src src = {path, "0000000000000000000000000000000000000000"
                        "000000000000000000000000", "2025-01-01T00:00:00Z",
                        NULL};
  int r = mode == 0 ? cfb_aws_read(&src, emit, reject, NULL)
                    : cfb_gcp_read(&src, emit, reject, NULL);
  if (r != 0) abort();               /* the callbacks never stop it */
  fz_fd_check();
  return 0;
}
