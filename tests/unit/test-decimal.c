/* Unit tests for the exact decimal type (core/decimal.c). */
#include <stdint.h>
#include <string.h>
#include "cf_test.h"
#include "costflow/common.h"
#include "costflow/decimal.h"

static const char *canon(const char *in) {
  static char out[CF_DEC_MAXSTR];
  cf_dec d;
  if (cf_dec_parse(in, strlen(in), &d) != 0) return "ERR";
  cf_dec_format(d, out);
  return out;
}

static const char *fixed(const char *in, int places) {
  static char out[CF_DEC_MAXSTR];
  cf_dec d;
  if (cf_dec_parse(in, strlen(in), &d) != 0) return "ERR";
  cf_dec_format_fixed(d, places, out);
  return out;
}

CF_TEST(parse_plain) {
  CF_ASSERT_STR(canon("0"), "0");
  CF_ASSERT_STR(canon("-12.3400"), "-12.34");
  CF_ASSERT_STR(canon("+7"), "7");
  CF_ASSERT_STR(canon("007.50"), "7.5");
  CF_ASSERT_STR(canon(".5"), "0.5");
  CF_ASSERT_STR(canon("5."), "5");
  CF_ASSERT_STR(canon("-0.000"), "0");
  CF_ASSERT_STR(canon("0.000000000000000001"), "0.000000000000000001");
  CF_ASSERT_STR(canon("0.0010684211984159026"), "ERR");   /* 19 places */
  CF_ASSERT_STR(canon("1.00000000000000000000000"), "1"); /* zeros ok */
}

CF_TEST(parse_scientific) {
  CF_ASSERT_STR(canon("1.5E-7"), "0.00000015");
  CF_ASSERT_STR(canon("5e-06"), "0.000005");
  CF_ASSERT_STR(canon("-5e-06"), "-0.000005");
  CF_ASSERT_STR(canon("35.2E-7"), "0.00000352");
  CF_ASSERT_STR(canon("1e3"), "1000");
  CF_ASSERT_STR(canon("1E+3"), "1000");
  CF_ASSERT_STR(canon("0e999999999"), "0");
  CF_ASSERT_STR(canon("2.3198314011096954e-05"), "ERR");
  CF_ASSERT_STR(canon("1e-18"), "0.000000000000000001");
  CF_ASSERT_STR(canon("1e-19"), "ERR");
  CF_ASSERT_STR(canon("1e21"), "ERR");                   /* overflow */
}

CF_TEST(parse_rejects_junk) {
  const char *bad[] = {"", "-", "+", ".", "e5", "1e", "1e+", "1,5", "1.2.3",
                       " 1", "1 ", "abc", "0x10", "1..2", "--1", "NaN",
                       "inf", "$5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    CF_ASSERT_STR(canon(bad[i]), "ERR");
  cf_dec d;
  CF_ASSERT_EQ(CF_EINVALID, cf_dec_parse(NULL, 0, &d));
  /* Length-bounded: only the first n bytes count. */
  CF_ASSERT_EQ(0, cf_dec_parse("12.5xyz", 4, &d));
  char out[CF_DEC_MAXSTR];
  cf_dec_format(d, out);
  CF_ASSERT_STR(out, "12.5");
}

CF_TEST(range_limits) {
  /* ~1.7e20 whole units fit; one more digit does not. */
  CF_ASSERT_STR(canon("170141183460469231731.687303715884105727"),
                "170141183460469231731.687303715884105727");
  CF_ASSERT_STR(canon("170141183460469231731.687303715884105728"), "ERR");
  CF_ASSERT_STR(canon("-170141183460469231731.687303715884105727"),
                "-170141183460469231731.687303715884105727");
  CF_ASSERT_STR(canon("999999999999999999999"), "ERR");
  CF_ASSERT_STR(canon("99999999999999999999"), "99999999999999999999");
}

CF_TEST(sums_are_exact) {
  /* 0.1 added ten million times is exactly 1000000 (double is not). */
  cf_dec a, s = CF_DEC_ZERO;
  CF_ASSERT_EQ(0, cf_dec_parse("0.1", 3, &a));
  for (int i = 0; i < 10000000; i++) s = cf_dec_add(s, a);
  char out[CF_DEC_MAXSTR];
  cf_dec_format(s, out);
  CF_ASSERT_STR(out, "1000000");
  cf_dec b;
  CF_ASSERT_EQ(0, cf_dec_parse("1000000", 7, &b));
  CF_ASSERT_EQ(0, cf_dec_cmp(s, b));
  CF_ASSERT_EQ(-1, cf_dec_sign(cf_dec_neg(b)));
  CF_ASSERT_EQ(0, cf_dec_sign(cf_dec_sub(s, b)));
  CF_ASSERT_EQ(1, cf_dec_cmp(b, cf_dec_neg(b)));
}

CF_TEST(format_fixed_rounding) {
  CF_ASSERT_STR(fixed("1.005", 2), "1.01");
  CF_ASSERT_STR(fixed("-1.005", 2), "-1.01");
  CF_ASSERT_STR(fixed("1.004999", 2), "1.00");
  CF_ASSERT_STR(fixed("-0.001", 2), "0.00");      /* no "-0.00" */
  CF_ASSERT_STR(fixed("12", 0), "12");
  CF_ASSERT_STR(fixed("12.5", 0), "13");
  CF_ASSERT_STR(fixed("0.5", 4), "0.5000");
  CF_ASSERT_STR(fixed("0.000000000000000001", 18), "0.000000000000000001");
  CF_ASSERT_STR(fixed("9.999", 2), "10.00");
}

/* cf_dec_format as first written (u128 division, one digit at a time):
 * the reference for the faster one. */
static void format_ref(cf_dec d, char *out) {
  typedef unsigned __int128 u128;
  u128 m = d.v < 0 ? (u128)0 - (u128)d.v : (u128)d.v, unit = 1;
  for (int k = 0; k < CF_DEC_SCALE; k++) unit *= 10;
  u128 ip = m / unit, fp = m % unit;
  char tmp[48];
  size_t n = 0, t = 0;
  if (d.v < 0) out[n++] = '-';
  do tmp[t++] = (char)('0' + (int)(ip % 10)); while ((ip /= 10) > 0);
  while (t) out[n++] = tmp[--t];
  if (fp) {
    char frac[CF_DEC_SCALE];
    for (int k = CF_DEC_SCALE - 1; k >= 0; k--, fp /= 10)
      frac[k] = (char)('0' + (int)(fp % 10));
    int len = CF_DEC_SCALE;
    while (frac[len - 1] == '0') len--;
    out[n++] = '.';
    memcpy(out + n, frac, (size_t)len);
    n += (size_t)len;
  }
  out[n] = '\0';
}

CF_TEST(format_matches_reference) {
  /* Random magnitudes of every size (both sides of 2^64 units, where the
   * 64-bit path ends), random zero runs, and the edges. */
  typedef unsigned __int128 u128;
  const __int128 max = (__int128)(((u128)1 << 127) - 1);
  const __int128 edges[] = {0, 1, -1, 10, 999999999, 1000000000,
                            1000000000000000000LL, (__int128)UINT64_MAX,
                            (__int128)UINT64_MAX + 1, -(__int128)UINT64_MAX,
                            max, -max};
  char got[CF_DEC_MAXSTR], want[CF_DEC_MAXSTR];
  for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
    cf_dec d = {edges[i]};
    cf_dec_format(d, got);
    format_ref(d, want);
    CF_ASSERT_STR(got, want);
  }
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 300000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    u128 v = ((u128)x << 64) | (x * 0x9E3779B97F4A7C15ULL);
    v >>= x % 127 + 1;                      /* any magnitude below 2^127 */
    if (x & 2) {                            /* zero runs: round to 10^k */
      u128 p = 1;
      for (unsigned k = (unsigned)(x >> 8) % 30; k; k--) p *= 10;
      v -= v % p;
    }
    cf_dec d = {(x & 1) ? -(__int128)v : (__int128)v};
    cf_dec_format(d, got);
    format_ref(d, want);
    CF_ASSERT_STR(got, want);
  }
}

CF_TEST(plain_shape_matches_general_parser) {
  /* "[+-]I.F" takes a one-pass path when it has at most 19 digits and at
   * most 18 after the point; "[+-]IFe-len(F)" is the same number through
   * the general parser (an exponent never takes the short path). Both
   * must agree, on acceptance and on value, on either side of the limits. */
  uint64_t x = 0x2545F4914F6CDD1DULL;
  for (int i = 0; i < 200000; i++) {
    char plain[64], sci[80];
    size_t p = 0, q = 0;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int sign = (int)(x % 3), il = (int)((x >> 8) % 22);
    int fl = (int)((x >> 16) % 22);
    int dot = (x >> 24) % 4 != 0;
    if (sign) plain[p++] = sci[q++] = sign == 1 ? '-' : '+';
    for (int k = 0; k < il; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      plain[p++] = sci[q++] = (char)('0' + (x % 4 ? x % 10 : 0));
    }
    if (dot) plain[p++] = '.';
    for (int k = 0; k < (dot ? fl : 0); k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      plain[p++] = sci[q++] = (char)('0' + (x % 4 ? x % 10 : 0));
    }
    q += (size_t)snprintf(sci + q, sizeof sci - q, "e-%d", dot ? fl : 0);
    cf_dec a = {7}, b = {7};
    int ra = cf_dec_parse(plain, p, &a), rb = cf_dec_parse(sci, q, &b);
    if (il + (dot ? fl : 0) == 0) rb = CF_EINVALID;   /* "e-0" alone */
    plain[p] = '\0';
    if (ra != rb || (ra == 0 && a.v != b.v))
      CF_FAIL_("%s: %d vs %s: %d", plain, ra, sci, rb);
  }
}

CF_TEST(roundtrip_canonical) {
  const char *v[] = {"0", "1", "-1", "0.5", "-12.34", "123456789.000000001",
                     "0.000000000000000001", "99999999999999999999.99"};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++)
    CF_ASSERT_STR(canon(v[i]), v[i]);
}

CF_TEST_MAIN()
