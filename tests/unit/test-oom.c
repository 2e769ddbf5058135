/* Out-of-memory injection: fail the Nth allocation of the DAG loader, the
 * cron parser and the templater for every N until they succeed. Each must
 * return an error (never crash) and leak nothing (checked under ASan). */
#include <stdlib.h>
#include "cf_test.h"
#include "costflow/cron.h"
#include "costflow/dag.h"

static const char *good_dag(void) {
  static char path[4096];
  const char *src = getenv("CF_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/tests/dags/good/oom.yaml",
           src ? src : "..");
  return path;
}

CF_TEST(dag_loader_survives_every_failed_allocation) {
  int succeeded = 0;
  for (long n = 0; n < 20000 && !succeeded; n++) {
    struct cf_dag *dag = NULL;
    struct cf_diags d = CF_DIAGS_INIT;
    cf_alloc_fail_after(n);
    int rc = cf_dag_load(good_dag(), NULL, &dag, &d);
    cf_alloc_fail_after(-1);
    if (rc == 0) {
      CF_ASSERT(dag != NULL);
      CF_ASSERT_EQ(3, dag->ntasks);
      succeeded = 1;
    } else {
      CF_ASSERT(rc < 0);
      CF_ASSERT(dag == NULL);
    }
    cf_dag_free(dag);
    cf_diags_release(&d);
  }
  CF_ASSERT(succeeded);
}

CF_TEST(cron_parser_survives_every_failed_allocation) {
  int succeeded = 0;
  for (long n = 0; n < 1000 && !succeeded; n++) {
    struct cf_cron *c = NULL;
    char *err = NULL;
    cf_alloc_fail_after(n);
    int rc = cf_cron_parse("*/15 6-18 1,15 jan-jun mon-fri", &c, &err);
    cf_alloc_fail_after(-1);
    if (rc == 0) succeeded = 1;
    cf_cron_free(c);
    cf_free(err);
  }
  CF_ASSERT(succeeded);
}

CF_TEST(templater_survives_every_failed_allocation) {
  json_t *params = json_pack("{s:s}", "landing", "/data/landing");
  struct cf_template_vars v = {"dag", "task", "manual__2025-01-01",
                               cf_date_from_ymd(2025, 1, 1),
                               cf_date_from_ymd(2024, 12, 31),
                               cf_date_from_ymd(2025, 1, 2), params};
  int succeeded = 0;
  for (long n = 0; n < 1000 && !succeeded; n++) {
    char *out = NULL, *err = NULL;
    cf_alloc_fail_after(n);
    int rc = cf_template_render(
        "{{ params.landing }}/year={{ yyyy }}/month={{ mm }}/{{ ds }}", &v,
        &out, &err);
    cf_alloc_fail_after(-1);
    if (rc == 0) {
      CF_ASSERT_STR(out, "/data/landing/year=2025/month=01/2025-01-01");
      succeeded = 1;
    }
    cf_free(out);
    cf_free(err);
  }
  json_decref(params);
  CF_ASSERT(succeeded);
}

CF_TEST_MAIN()
