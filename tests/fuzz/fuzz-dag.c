/* Fuzz target: the YAML DAG loader and validator (cf_dag_load), then the
 * logical-date helpers and template checks on what loads. The plugin
 * lookup returns static descriptors, like tests/unit/test-dag.c. */
#include "fuzz_util.h"
#include "costflow/common.h"
#include "costflow/cron.h"
#include "costflow/dag.h"
#include "costflow/plugin.h"

static const struct cf_param_spec shell_params[] = {
  {"command", CF_PARAM_STRING, 1, NULL, "shell command"},
  {"env", CF_PARAM_MAP, 0, NULL, "extra environment"},
  {"cwd", CF_PARAM_STRING, 0, NULL, "working directory"},
};
static const struct cf_param_spec sleep_params[] = {
  {"seconds", CF_PARAM_INT, 1, NULL, "how long"},
};
static const struct cf_param_spec typed_params[] = {
  {"flag", CF_PARAM_BOOL, 0, "false", NULL},
  {"wait", CF_PARAM_DURATION, 0, "30s", NULL},
  {"paths", CF_PARAM_LIST, 0, NULL, NULL},
  {"extra", CF_PARAM_JSON, 0, "{\"a\": 1}", NULL},
  {"count", CF_PARAM_INT, 0, "3", NULL},
};
static const struct cf_plugin shell = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "shell", "run a command", shell_params, 3, NULL};
static const struct cf_plugin sleepp = {CF_PLUGIN_ABI,
  sizeof(struct cf_plugin), "sleep", "sleep", sleep_params, 1, NULL};
static const struct cf_plugin noop = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "noop", "nothing", NULL, 0, NULL};
static const struct cf_plugin typed = {CF_PLUGIN_ABI, sizeof(struct cf_plugin),
  "typed", "typed params", typed_params, 5, NULL};

static const struct cf_plugin *lookup(void *data, const char *name,
                                      char **errmsg) {
  (void)data;
  if (!strcmp(name, "shell")) return &shell;
  if (!strcmp(name, "sleep")) return &sleepp;
  if (!strcmp(name, "noop")) return &noop;
  if (!strcmp(name, "typed")) return &typed;
  *errmsg = cf_asprintf("unknown plugin '%s'", name);
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_fd_mark();
  const char *path = fz_write("dag.yaml", data, size);
  struct cf_dag_load_opts opts = {0, lookup, NULL};
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
