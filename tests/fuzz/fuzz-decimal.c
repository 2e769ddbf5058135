/* Fuzz target: exact decimal parsing and formatting. Properties:
 * parse(format(x)) == x, format is canonical (formatting again gives the
 * same text), fixed formatting never overflows its buffer, and the
 * rounding parser of the billing library agrees with the exact one when
 * the exact one succeeds. */
#include "fuzz_util.h"
#include "cfb.h"
#include "costflow/common.h"
#include "costflow/decimal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cf_dec d;
  char buf[CF_DEC_MAXSTR + 16], buf2[CF_DEC_MAXSTR + 16];
  int r = cf_dec_parse((const char *)data, size, &d);
  char *s = fz_cstr(data, size);
  cf_dec d2;
  int r2 = cfb_dec_parse_round(s, &d2);
  if (r == 0 && strlen(s) == size) {
    if (r2 != 0 || d2.v != d.v) abort();
  }
  free(s);
  if (r != 0) {
    /* still exercise the formatter on the raw bits */
    if (size >= sizeof d.v) memcpy(&d.v, data, sizeof d.v);
    else return 0;
    /* the domain is |v| <= INT128_MAX (decimal.c: negation stays safe);
     * INT128_MIN is no cf_dec any parse or sum of parses yields */
    if (d.v == -(__int128)(((unsigned __int128)1 << 127) - 1) - 1) return 0;
  }
  size_t n = cf_dec_format(d, buf);
  if (n == 0 || n >= CF_DEC_MAXSTR || buf[n] != '\0' || strlen(buf) != n)
    abort();
  cf_dec back;
  if (cf_dec_parse(buf, n, &back) != 0 || back.v != d.v) abort();
  if (cf_dec_format(back, buf2) != n || memcmp(buf, buf2, n)) abort();
  for (int places = 0; places <= CF_DEC_SCALE; places += 3) {
    size_t m = cf_dec_format_fixed(d, places, buf2);
    if (m >= CF_DEC_MAXSTR || buf2[m] != '\0') abort();
  }
  return 0;
}
