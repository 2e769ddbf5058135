/* Exact fixed-point decimal money: a signed 128-bit count of 10^-18 units.
 * Never double. Sums of billions of rows cannot overflow (|max| ~1.7e20
 * whole units); parsing rejects what cannot be represented exactly. */
#ifndef COSTFLOW_DECIMAL_H
#define COSTFLOW_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#define CF_DEC_SCALE 18                 /* fractional digits */
typedef struct { __int128 v; } cf_dec;  /* value = v / 10^18 */

#define CF_DEC_ZERO ((cf_dec){0})

/* Parses plain ("-12.3400"), signed, and scientific ("1.5E-7") notation of
 * `n` bytes. Returns 0, or CF_EINVALID for anything else (empty, junk,
 * more than 18 fractional digits after scaling, overflow). */
int cf_dec_parse(const char *s, size_t n, cf_dec *out);
/* Canonical text: no exponent, no trailing fractional zeros, no "-0",
 * at least one digit before the point ("0.5", "-12.34", "7").
 * Returns the length written; out must hold CF_DEC_MAXSTR bytes. */
#define CF_DEC_MAXSTR 64
size_t cf_dec_format(cf_dec d, char *out);
/* Like cf_dec_format but with exactly `places` fractional digits,
 * rounding half away from zero when places < 18 (for display only). */
size_t cf_dec_format_fixed(cf_dec d, int places, char *out);

static inline cf_dec cf_dec_add(cf_dec a, cf_dec b) {
  return (cf_dec){a.v + b.v};
}
static inline cf_dec cf_dec_sub(cf_dec a, cf_dec b) {
  return (cf_dec){a.v - b.v};
}
static inline cf_dec cf_dec_neg(cf_dec a) { return (cf_dec){-a.v}; }
static inline int cf_dec_cmp(cf_dec a, cf_dec b) {
  return a.v < b.v ? -1 : a.v > b.v;
}
static inline int cf_dec_sign(cf_dec a) { return a.v < 0 ? -1 : a.v > 0; }

#endif
