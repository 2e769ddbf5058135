/* Fuzz target: the cron parser, then next/prev in UTC and two DST zones.
 * Properties: next(t) > t, prev(t) < t, prev(next(t)) >= ... the fire
 * before next(t) is not after t; parse errors come with a message. */
#include "fuzz_util.h"
#include "costflow/common.h"
#include "costflow/cron.h"

static struct cf_tz *zones[3];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *names[3] = {"UTC", "America/New_York", "Europe/London"};
  for (int i = 0; i < 3; i++)
    if (cf_tz_load(names[i], &zones[i]) < 0) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* optional first line "ISO-instant": the start; the rest is the expr */
  char *s = fz_cstr(data, size);
  char *expr = s;
  int64_t from = 1735689600;                       /* 2025-01-01T00:00Z */
  char *nl = strchr(s, '\n');
  if (nl) {
    *nl = '\0';
    int64_t t;
    if (cf_parse_instant(s, &t) == 0) from = t;
    expr = nl + 1;
  }
  struct cf_cron *c = NULL;
  char *err = NULL;
  int r = cf_cron_parse(expr, &c, &err);
  if (r < 0) {
    if (c || !err) abort();
    cf_free(err);
    free(s);
    return 0;
  }
  if (!c || err) abort();
  (void)cf_cron_is_fixed_time(c);
  int never = cf_cron_never_fires(c);
  for (int z = 0; z < 3; z++) {
    int64_t t = from, n = 0, p = 0;
    for (int i = 0; i < 3; i++) {
      if (cf_cron_next(c, zones[z], t, &n) < 0) break;
      if (never || n <= t) abort();
      if (cf_cron_prev(c, zones[z], n, &p) == 0 && p >= n) abort();
      t = n;
    }
    if (cf_cron_prev(c, zones[z], from, &p) == 0 && p >= from) abort();
    (void)cf_tz_offset_at(zones[z], from);
    (void)cf_tz_local_date(zones[z], from);
  }
  cf_cron_free(c);
  free(s);
  return 0;
}
