/* The cost anomaly and zombie rules, in exact integer arithmetic.
 *
 * Anomaly: a day's cost x against the trailing window x_1..x_n (n >= 1
 * loaded days; a loaded day without cost counts as 0), with mean
 * m = S/n and population standard deviation s, fires iff
 *   x > 0,  x > 1.2 m  and  x - m > 2 s.
 * Both tests are decided without rounding: 5nx > 6S and
 * (nx - S)^2 > 4(n*sum(x_i^2) - S^2) with 256-bit products. Exactly 20%
 * above, or exactly 2 standard deviations, does not fire.
 * Zombie: a resource whose Usage rows cost > 0 with usage = 0. */
#ifndef CFB_ANOMALY_RULE_H
#define CFB_ANOMALY_RULE_H

#include <stddef.h>
#include "costflow/decimal.h"

#define CFB_ANOMALY_MAXWINDOW 64

struct cfb_anomaly_stat {
  int fires;            /* 1 if the rule fires */
  cf_dec mean;          /* S/n, rounded half away from zero (display) */
  cf_dec stddev;        /* population stddev, truncated (display) */
  double pct_above;     /* 100 (x - m) / m for display; 0 when m <= 0 */
  int has_pct;          /* 0 when m <= 0 (no ratio to show) */
};

/* Evaluates x against window[0..n). Returns 0, CF_EINVALID for n == 0 or
 * n > CFB_ANOMALY_MAXWINDOW, CF_ETOOBIG for a magnitude over 2^100
 * units of 10^-18 (about 1.2e12 per day: outside any real bill). */
int cfb_anomaly_eval(cf_dec x, const cf_dec *window, size_t n,
                     struct cfb_anomaly_stat *out);

/* 1 if cost > 0 and usage == 0. */
int cfb_zombie_is(cf_dec cost, cf_dec usage);

#endif
