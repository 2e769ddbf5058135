/* Fuzz target: the {{ name }} templater (cf_template_check, render and
 * render_json). Property: what renders also passes the check (the
 * render path checks each name itself). */
#include "fuzz_util.h"
#include "costflow/common.h"
#include "costflow/dag.h"

static json_t *params;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  params = json_loads("{\"landing\": \"/data/in\", \"n\": 3, \"f\": 1.5, "
                      "\"b\": true, \"z\": null, \"obj\": {\"a\": [1, 2]}}",
                      0, NULL);
  if (!params) abort();
  setenv("CF_FUZZ_ENV", "env-value", 1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fz_cstr(data, size);
  char *err = NULL, *out = NULL;
  int checked = cf_template_check(text, params, &err);
  if (checked < 0 && !err) abort();
  cf_free(err);
  err = NULL;
  struct cf_template_vars v = {"dag_x", "task_y", "scheduled__2025-03-09",
                               20156, 20155, 20157, params};
  int r = cf_template_render(text, &v, &out, &err);
  if (r == 0) {
    if (!out || err) abort();
    char *e2 = NULL;
    if (cf_template_check(text, NULL, &e2) < 0) abort();
    cf_free(out);
  } else {
    if (!err) abort();
    cf_free(err);
  }
  err = NULL;
  json_t *in = json_pack("[s, {s: s, s: [s, i]}]", text, "k", text, "l",
                         text, 7);
  if (in) {
    json_t *o = cf_template_render_json(in, &v, &err);
    if (!o && !err) abort();
    json_decref(o);
    cf_free(err);
    json_decref(in);
  }
  free(text);
  return 0;
}
