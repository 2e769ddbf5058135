/* Exact decimal money: parse plain/scientific text into an int128 count of
 * 10^-18 units, and format it back canonically or with fixed places. */
#include <stdint.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/decimal.h"

typedef unsigned __int128 u128;

/* Largest magnitude we accept: INT128_MAX (keeps negation safe). */
#define DEC_MAXMAG ((u128)(((u128)1 << 127) - 1))

static u128 pow10_u128(int n) {
  u128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

static const uint64_t pow10_u64[20] = {
  1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
  10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
  100000000000ULL, 1000000000000ULL, 10000000000000ULL,
  100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
  100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};

/* Multiplies *acc by 10 and adds d; 0, or -1 past DEC_MAXMAG. */
static int mul10_add(u128 *acc, unsigned d) {
  if (*acc > (DEC_MAXMAG - d) / 10) return -1;
  *acc = *acc * 10 + d;
  return 0;
}

int cf_dec_parse(const char *s, size_t n, cf_dec *out) {
  size_t i = 0;
  int neg = 0;
  if (!s || n == 0) return CF_EINVALID;
  if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
  /* Significand digits: [first, last) with '.' possibly inside. */
  size_t int_start = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  size_t int_len = i - int_start;
  size_t frac_start = i, frac_len = 0;
  if (i < n && s[i] == '.') {
    frac_start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    frac_len = i - frac_start;
  }
  if (int_len + frac_len == 0) return CF_EINVALID;
  long exp = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = 0;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    size_t es = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (exp < 100000) exp = exp * 10 + (s[i] - '0');
      i++;
    }
    if (i == es) return CF_EINVALID;
    if (eneg) exp = -exp;
  }
  if (i != n) return CF_EINVALID;

  /* Walk significand digits as one string, trimming zeros at both ends;
   * value = digits * 10^(exp - frac_len), scaled by 10^18. */
  size_t total = int_len + frac_len;
#define DIGIT(k) ((k) < int_len ? s[int_start + (k)] \
                                : s[frac_start + (k) - int_len])
  size_t lo = 0, hi = total;                 /* [lo, hi) */
  while (lo < hi && DIGIT(lo) == '0') lo++;
  if (lo == hi) { *out = CF_DEC_ZERO; return 0; }
  long shift = exp + CF_DEC_SCALE - (long)frac_len;
  while (DIGIT(hi - 1) == '0') { hi--; shift++; }
  /* A non-zero digit below 10^-18 cannot be represented exactly. */
  if (shift < 0) return CF_EINVALID;
  if ((long)(hi - lo) + shift > 39) return CF_EINVALID;
  if (hi - lo <= 19 && shift <= 19) {
    /* Common case in u64: 19 digits times 10^19 stays below 10^38, which
     * fits, so no per-digit overflow check (and no u128 division). */
    uint64_t small = 0;
    for (size_t k = lo; k < hi; k++)
      small = small * 10 + (uint64_t)(DIGIT(k) - '0');
    u128 v = (u128)small * pow10_u64[shift];
    out->v = neg ? -(__int128)v : (__int128)v;
    return 0;
  }
  u128 acc = 0;
  for (size_t k = lo; k < hi; k++)
    if (mul10_add(&acc, (unsigned)(DIGIT(k) - '0')) < 0) return CF_EINVALID;
#undef DIGIT
  for (long k = 0; k < shift; k++)
    if (mul10_add(&acc, 0) < 0) return CF_EINVALID;
  out->v = neg ? -(__int128)acc : (__int128)acc;
  return 0;
}

/* Writes the decimal digits of m (at least one) to out; returns length. */
static size_t u128_digits(u128 m, char *out) {
  char tmp[48];
  size_t n = 0;
  while (m > UINT64_MAX) {              /* u128 division only while needed */
    tmp[n++] = (char)('0' + (int)(m % 10));
    m /= 10;
  }
  uint64_t v = (uint64_t)m;
  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  for (size_t k = 0; k < n; k++) out[k] = tmp[n - 1 - k];
  return n;
}

static u128 magnitude(cf_dec d) {
  return d.v < 0 ? (u128)0 - (u128)d.v : (u128)d.v;
}

/* 10^CF_DEC_SCALE, the cf_dec unit. */
#define DEC_UNIT 1000000000000000000ULL
_Static_assert(CF_DEC_SCALE == 18, "DEC_UNIT is 10^CF_DEC_SCALE");

/* Writes '.' and the digits of the fraction fp (0 < fp < DEC_UNIT)
 * without its trailing zeros; returns the length. The zeros are dropped
 * four at a time, then one: only the digits that are kept are written. */
static size_t frac_digits(uint64_t fp, char *out) {
  int len = CF_DEC_SCALE;
  while (fp % 10000 == 0) {
    fp /= 10000;
    len -= 4;
  }
  while (fp % 10 == 0) {
    fp /= 10;
    len--;
  }
  out[0] = '.';
  for (int k = len; k > 0; k--) {
    out[k] = (char)('0' + (int)(fp % 10));
    fp /= 10;
  }
  return (size_t)len + 1;
}

size_t cf_dec_format(cf_dec d, char *out) {
  u128 m = magnitude(d), ip;
  uint64_t fp;
  if (m <= UINT64_MAX) {          /* below ~18.4 units: 64-bit division */
    ip = (uint64_t)m / DEC_UNIT;
    fp = (uint64_t)m % DEC_UNIT;
  } else {
    ip = m / DEC_UNIT;
    fp = (uint64_t)(m - ip * DEC_UNIT);
  }
  size_t n = 0;
  if (d.v < 0) out[n++] = '-';
  n += u128_digits(ip, out + n);
  if (fp) n += frac_digits(fp, out + n);
  out[n] = '\0';
  return n;
}

size_t cf_dec_format_fixed(cf_dec d, int places, char *out) {
  if (places < 0) places = 0;
  if (places > CF_DEC_SCALE) places = CF_DEC_SCALE;
  u128 m = magnitude(d);
  u128 div = pow10_u128(CF_DEC_SCALE - places);
  u128 q = m / div, r = m % div;
  if (div > 1 && r >= div - r) q++;           /* half away from zero */
  u128 unit = pow10_u128(places);
  u128 ip = q / unit, fp = q % unit;
  size_t n = 0;
  if (d.v < 0 && q != 0) out[n++] = '-';      /* never "-0.00" */
  n += u128_digits(ip, out + n);
  if (places > 0) {
    out[n++] = '.';
    for (int k = places - 1; k >= 0; k--) {
      out[n + (size_t)k] = (char)('0' + (int)(fp % 10));
      fp /= 10;
    }
    n += (size_t)places;
  }
  out[n] = '\0';
  return n;
}
