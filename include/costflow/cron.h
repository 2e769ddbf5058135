/* Cron expressions (5-field Vixie/cronie dialect) evaluated in an IANA
 * time zone read from the system tzdata (TZif files), without touching
 * the process-wide TZ. Results are UTC instants (seconds since epoch).
 *
 * DST rule (cronie): a fixed-time job (minute and hour fields not starting
 * with '*') whose wall time falls in a spring-forward gap fires once at the
 * first real minute after the gap; in a fall-back repeat it fires only at
 * the first occurrence. A wildcard job follows the wall clock. */
#ifndef COSTFLOW_CRON_H
#define COSTFLOW_CRON_H

#include <stdint.h>
#include "costflow/common.h"

struct cf_tz;                     /* opaque, immutable once loaded */

/* Loads zone `name` ("UTC", "Europe/London", ...) from /usr/share/zoneinfo
 * (or $TZDIR). Rejects names with "..", absolute paths, and files that are
 * not TZif. Returns 0 and *out, or CF_ENOTFOUND / CF_EINVALID. */
int  cf_tz_load(const char *name, struct cf_tz **out);
void cf_tz_free(struct cf_tz *tz);
const char *cf_tz_name(const struct cf_tz *tz);
/* UTC offset in seconds in force at UTC instant t. */
int32_t cf_tz_offset_at(const struct cf_tz *tz, int64_t t);
/* Local wall-clock date (days since epoch) of UTC instant t. */
cf_date cf_tz_local_date(const struct cf_tz *tz, int64_t t);

struct cf_cron;                   /* opaque parsed expression */

/* Parses `expr` (5 fields or a macro). On error returns CF_EINVALID and,
 * if errmsg is not NULL, a malloc'd message naming the field and problem
 * (caller frees with cf_free). */
int  cf_cron_parse(const char *expr, struct cf_cron **out, char **errmsg);
void cf_cron_free(struct cf_cron *c);
/* 1 if minute and hour fields do not start with '*' (DST rule above). */
int  cf_cron_is_fixed_time(const struct cf_cron *c);

/* Next fire instant strictly after UTC instant `after`, evaluated in tz.
 * Returns 0 and *next, or CF_ENEVER if the expression can never fire
 * (e.g. "0 0 31 2 *"; searched up to 28 years ahead). */
int cf_cron_next(const struct cf_cron *c, const struct cf_tz *tz,
                 int64_t after, int64_t *next);
/* Last fire instant strictly before `before` (CF_ENEVER if none within
 * 28 years). */
int cf_cron_prev(const struct cf_cron *c, const struct cf_tz *tz,
                 int64_t before, int64_t *prev);
/* 1 if the expression never fires, without a time zone (used by the DAG
 * validator to reject "0 0 31 2 *"). */
int cf_cron_never_fires(const struct cf_cron *c);

/* Parses "YYYY-MM-DDTHH:MM[:SS]Z", "YYYY-MM-DDTHH:MM[:SS]+HH:MM" or
 * "YYYY-MM-DD" (midnight UTC) into UTC seconds. */
int cf_parse_instant(const char *s, int64_t *out);

#endif
