/* Fuzz target: the YAML DAG loader and validator (cf_dag_load), then the
 * logical-date helpers and template checks on what loads. The plugin
 * lookup returns the fake descriptors of tests/unit/fake_plugins.h. */
#include "fuzz_util.h"
#include "costflow/common.h"
#include "costflow/cron.h"
#include "costflow/dag.h"
#include "costflow/plugin.h"

#include "../unit/fake_plugins.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_fd_mark();
  const char *path = fz_write("dag.yaml", data, size);
  struct cf_dag_load_opts opts = {0, fake_plugin_lookup, NULL};
  struct cf_diags dg = CF_DIAGS_INIT;
  struct cf_dag *dag = NULL;
  int r = cf_dag_load(path, &opts, &dag, &dg);
  /* the contract: a DAG and no errors, or no DAG and at least one */
  if (r == 0 && !dag) abort();
  if (r < 0 && (dag || dg.n == 0)) abort();
  for (size_t i = 0; i < dg.n; i++)
    if (!dg.v[i].msg) abort();
  cf_diags_release(&dg);
  if (!dag) {
    fz_fd_check();
    return 0;
  }
  if (dag->ntasks == 0 || !dag->topo) abort();
  /* dates around the start (or a fixed day): prev/next must be inverse
   * directions and never loop */
  cf_date d = dag->has_start_date ? dag->start_date : 20089; /* 2025-01-01 */
  for (int i = 0; i < 3; i++) {
    cf_date n = 0, p = 0;
    (void)cf_dag_covers_date(dag, d);
    if (cf_dag_next_date(dag, d, &n) < 0) break;
    if (n <= d) abort();
    if (cf_dag_prev_date(dag, n, &p) == 0 && p >= n) abort();
    d = n;
  }
  for (size_t i = 0; i < dag->ntasks; i++) {
    if (cf_dag_task_index(dag, dag->tasks[i].id) != (long)i) abort();
    char *err = NULL;
    struct cf_template_vars v = {dag->id, dag->tasks[i].id, "manual__x",
                                 d, d - 1, d + 1, dag->params};
    json_t *out = cf_template_render_json(dag->tasks[i].params, &v, &err);
    json_decref(out);
    cf_free(err);
  }
  cf_dag_free(dag);
  fz_fd_check();
  return 0;
}
