/* {{ name }} templates: check, render, render_json. */
#include <stdlib.h>
#include "cf_test.h"
#include "costflow/dag.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_leak_check()
#else
#define LEAK_CHECK() ((void)0)
#endif

static struct cf_template_vars vars(json_t *params) {
  struct cf_template_vars v = {"billing", "extract", "scheduled__2025-03-09",
                               cf_date_from_ymd(2025, 3, 9),
                               cf_date_from_ymd(2025, 3, 8),
                               cf_date_from_ymd(2025, 3, 10), params};
  return v;
}

static char *render(const char *text, json_t *params, char **err) {
  struct cf_template_vars v = vars(params);
  char *out = NULL;
  *err = NULL;
  if (cf_template_render(text, &v, &out, err) < 0) {
    CF_ASSERT(out == NULL && *err);
    return NULL;
  }
  CF_ASSERT(*err == NULL);
  return out;
}

CF_TEST(render_dates_and_ids) {
  char *err, *s = render("{{ds}} {{ ds_nodash }} {{yyyy}}/{{ mm }}/{{  dd  }}"
                         " {{ prev_ds }} {{ next_ds }} {{ dag }}.{{ task }} "
                         "{{ run_id }}", NULL, &err);
  CF_ASSERT_STR("2025-03-09 20250309 2025/03/09 2025-03-08 2025-03-10 "
                "billing.extract scheduled__2025-03-09", s);
  cf_free(s);
  LEAK_CHECK();
}

CF_TEST(render_plain_text_untouched) {
  char *err, *s = render("no templates { here } {x}", NULL, &err);
  CF_ASSERT_STR("no templates { here } {x}", s);
  cf_free(s);
  s = render("", NULL, &err);
  CF_ASSERT_STR("", s);
  cf_free(s);
  LEAK_CHECK();
}

CF_TEST(render_params_scalars_as_text) {
  json_t *p = json_pack("{s:s, s:i, s:b, s:f, s:n, s:[i,i]}", "bucket", "b1",
                        "n", 42, "on", 1, "ratio", 0.5, "none", "list", 1, 2);
  char *err, *s = render("{{ params.bucket }}|{{ params.n }}|{{ params.on }}|"
                         "{{ params.ratio }}|{{ params.none }}|"
                         "{{ params.list }}", p, &err);
  CF_ASSERT_STR("b1|42|true|0.5|null|[1,2]", s);
  cf_free(s);
  s = render("{{ params.missing }}", p, &err);
  CF_ASSERT(!s);
  CF_ASSERT_STR("template '{{ params.missing }}': param 'missing' is not "
                "defined", err);
  cf_free(err);
  json_decref(p);
  LEAK_CHECK();
}

CF_TEST(render_env) {
  setenv("CF_TPL_TEST", "v1", 1);
  unsetenv("CF_TPL_MISSING");
  char *err, *s = render("x={{ env.CF_TPL_TEST }}", NULL, &err);
  CF_ASSERT_STR("x=v1", s);
  cf_free(s);
  s = render("{{ env.CF_TPL_MISSING }}", NULL, &err);
  CF_ASSERT(!s);
  CF_ASSERT_STR("template '{{ env.CF_TPL_MISSING }}': environment variable "
                "CF_TPL_MISSING is not set", err);
  cf_free(err);
  LEAK_CHECK();
}

CF_TEST(render_errors_never_empty) {
  char *err, *s = render("a {{ nope }} b", NULL, &err);
  CF_ASSERT(!s);
  CF_ASSERT_STR("unknown template name 'nope' (known: ds, ds_nodash, yyyy, "
                "mm, dd, prev_ds, next_ds, run_id, dag, task, params.NAME, "
                "env.NAME)", err);
  cf_free(err);
  s = render("abc {{ ds", NULL, &err);
  CF_ASSERT_STR("unterminated '{{' at offset 4 (missing '}}')", err);
  cf_free(err);
  s = render("{{ }}", NULL, &err);
  CF_ASSERT_STR("empty template name '{{}}' at offset 0", err);
  cf_free(err);
  s = render("{{ env.1X }}", NULL, &err);
  CF_ASSERT_CONTAINS(err, "unknown template name 'env.1X'");
  cf_free(err);
  struct cf_template_vars v = vars(NULL);
  v.run_id = NULL;
  CF_ASSERT_EQ(CF_EINVALID, cf_template_render("{{ run_id }}", &v, &s, &err));
  CF_ASSERT_STR("template '{{ run_id }}' has no value here", err);
  cf_free(err);
  LEAK_CHECK();
}

CF_TEST(check_names) {
  json_t *p = json_pack("{s:i}", "a", 1);
  char *err = NULL;
  CF_ASSERT_EQ(0, cf_template_check("{{ds}}{{ params.a }}{{ env.HOME }}", p,
                                    &err));
  CF_ASSERT(err == NULL);
  CF_ASSERT_EQ(0, cf_template_check("{{ params.zz }}", NULL, &err));
  CF_ASSERT_EQ(CF_EINVALID, cf_template_check("{{ params.zz }}", p, &err));
  CF_ASSERT_STR("template '{{ params.zz }}' names param 'zz', which the DAG's "
                "params do not define", err);
  cf_free(err);
  CF_ASSERT_EQ(CF_EINVALID, cf_template_check("{{ params. }}", p, &err));
  cf_free(err);
  CF_ASSERT_EQ(CF_EINVALID, cf_template_check("{{ ds | upper }}", p, &err));
  CF_ASSERT_CONTAINS(err, "unknown template name 'ds | upper'");
  cf_free(err);
  json_decref(p);
  LEAK_CHECK();
}

CF_TEST(render_json_recursive) {
  json_t *params = json_pack("{s:s}", "b", "bk");
  json_t *in = json_pack("{s:s, s:[s, i, b], s:{s:s}, s:n}", "cmd",
                         "run {{ ds }}", "list", "{{ params.b }}", 7, 1,
                         "map", "k", "{{ yyyy }}", "nil");
  struct cf_template_vars v = vars(params);
  char *err = NULL;
  json_t *out = cf_template_render_json(in, &v, &err);
  CF_ASSERT(out && !err);
  char *txt = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
  CF_ASSERT_STR("{\"cmd\":\"run 2025-03-09\",\"list\":[\"bk\",7,true],"
                "\"map\":{\"k\":\"2025\"},\"nil\":null}", txt);
  free(txt);
  json_decref(out);
  json_t *bad = json_pack("{s:[s]}", "x", "{{ nope }}");
  CF_ASSERT(cf_template_render_json(bad, &v, &err) == NULL);
  CF_ASSERT_CONTAINS(err, "unknown template name 'nope'");
  cf_free(err);
  json_decref(bad);
  json_decref(in);
  json_decref(params);
  LEAK_CHECK();
}

CF_TEST_MAIN()
