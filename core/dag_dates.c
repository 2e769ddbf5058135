/* Logical dates of a DAG's schedule (docs/dag-format.md "Logical dates").
 * A run's logical date is the local date, in the DAG's zone, of the start
 * of its schedule interval, i.e. of a fire instant; the run is created at
 * the next fire instant, when that interval ends. So the covered dates are
 * the local dates that hold a fire instant. */
#include "costflow/cron.h"
#include "costflow/dag.h"

/* A local day starts near d*86400 - offset; DST moves that by at most a
 * few hours, so searches start this far outside the guess. */
#define DAY_SLACK (3 * 3600)
#define MAX_STEPS 100000        /* bounds a minutely schedule's scan */

static int64_t day_start_guess(const struct cf_tz *tz, cf_date d) {
  int64_t t = (int64_t)d * 86400;
  return t - cf_tz_offset_at(tz, t);
}

/* First fire instant whose local date is >= d. */
static int fire_on_or_after(const struct cf_dag *dag, cf_date d,
                            int64_t *out) {
  int64_t after = day_start_guess(dag->tz, d) - DAY_SLACK - 1;
  for (int i = 0; i < MAX_STEPS; i++) {
    int r = cf_cron_next(dag->cron, dag->tz, after, out);
    if (r < 0) return r;
    if (cf_tz_local_date(dag->tz, *out) >= d) return 0;
    after = *out;
  }
  return CF_ENEVER;
}

static int scheduled(const struct cf_dag *dag) {
  return dag->cron && dag->tz;
}

int cf_dag_next_date(const struct cf_dag *dag, cf_date d, cf_date *out) {
  int64_t f;
  if (!scheduled(dag)) {
    *out = d + 1;
    return 0;
  }
  int r = fire_on_or_after(dag, d + 1, &f);
  if (r < 0) return r;
  *out = cf_tz_local_date(dag->tz, f);
  return 0;
}

int cf_dag_prev_date(const struct cf_dag *dag, cf_date d, cf_date *out) {
  if (!scheduled(dag)) {
    *out = d - 1;
    return 0;
  }
  int64_t before = day_start_guess(dag->tz, d) + DAY_SLACK + 1, p;
  for (int i = 0; i < MAX_STEPS; i++) {
    int r = cf_cron_prev(dag->cron, dag->tz, before, &p);
    if (r < 0) return r;
    cf_date ld = cf_tz_local_date(dag->tz, p);
    if (ld < d) {
      *out = ld;
      return 0;
    }
    before = p;
  }
  return CF_ENEVER;
}

int cf_dag_covers_date(const struct cf_dag *dag, cf_date d) {
  int64_t f;
  if (!scheduled(dag)) return 1;
  if (fire_on_or_after(dag, d, &f) < 0) return 0;
  return cf_tz_local_date(dag->tz, f) == d;
}
