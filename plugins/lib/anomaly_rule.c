/* Exact anomaly decision: 128-bit sums, 256-bit squares, no double. */
#include <string.h>
#include "costflow/common.h"
#include "anomaly_rule.h"

typedef unsigned __int128 u128;
typedef __int128 s128;
typedef struct { u128 hi, lo; } u256;

static u256 mul128(u128 a, u128 b) {
  u128 a0 = (uint64_t)a, a1 = a >> 64, b0 = (uint64_t)b, b1 = b >> 64;
  u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
  u256 r;
  r.lo = (u128)(uint64_t)p00 | (mid << 64);
  r.hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
  return r;
}

static u256 add256(u256 a, u256 b) {
  u256 r;
  r.lo = a.lo + b.lo;
  r.hi = a.hi + b.hi + (r.lo < a.lo);
  return r;
}

static u256 sub256(u256 a, u256 b) {   /* requires a >= b */
  u256 r;
  r.lo = a.lo - b.lo;
  r.hi = a.hi - b.hi - (a.lo < b.lo);
  return r;
}

static int cmp256(u256 a, u256 b) {
  if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
  if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
  return 0;
}

static u256 mul256_small(u256 a, uint64_t k) {
  u256 lo = mul128(a.lo, k);
  lo.hi += a.hi * k;   /* no overflow: callers bound magnitudes */
  return lo;
}

static u128 uabs(s128 v) { return v < 0 ? -(u128)v : (u128)v; }

/* floor(sqrt(a)) for a < 2^256, bit by bit. */
static u128 isqrt256(u256 a) {
  u128 r = 0;
  for (int bit = 127; bit >= 0; bit--) {
    u128 t = r | ((u128)1 << bit);
    if (cmp256(mul128(t, t), a) <= 0) r = t;
  }
  return r;
}

int cfb_zombie_is(cf_dec cost, cf_dec usage) {
  return cf_dec_sign(cost) > 0 && cf_dec_sign(usage) == 0;
}

int cfb_anomaly_eval(cf_dec x, const cf_dec *window, size_t n,
                     struct cfb_anomaly_stat *out) {
  const u128 limit = (u128)1 << 100;
  s128 s = 0;
  u256 sq = {0, 0};
  memset(out, 0, sizeof *out);
  if (n == 0 || n > CFB_ANOMALY_MAXWINDOW) return CF_EINVALID;
  if (uabs(x.v) > limit) return CF_ETOOBIG;
  for (size_t i = 0; i < n; i++) {
    if (uabs(window[i].v) > limit) return CF_ETOOBIG;
    s += window[i].v;
    sq = add256(sq, mul128(uabs(window[i].v), uabs(window[i].v)));
  }
  s128 nn = (s128)n;
  s128 dev = nn * x.v - s;                 /* n (x - m) */
  /* n * sum(x_i^2) - S^2 = n^2 * variance >= 0 */
  u256 var_n2 = sub256(mul256_small(sq, n), mul128(uabs(s), uabs(s)));
  int above20 = 5 * nn * x.v > 6 * s;
  int above2sd = dev > 0 &&
      cmp256(mul128((u128)dev, (u128)dev), mul256_small(var_n2, 4)) > 0;
  out->fires = x.v > 0 && above20 && above2sd;

  /* Display values only below this line. */
  s128 half = nn / 2;
  out->mean.v = (s >= 0 ? s + half : s - half) / nn;
  out->stddev.v = (s128)(isqrt256(var_n2) / (u128)n);
  if (s > 0) {
    out->has_pct = 1;
    out->pct_above = (double)dev / (double)s * 100.0;
  }
  return 0;
}
