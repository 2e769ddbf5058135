/* DAG loader, validator and logical dates: exact messages and positions. */
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include "cf_test.h"
#include "costflow/cron.h"
#include "costflow/dag.h"
#include "costflow/plugin.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_leak_check()
#else
#define LEAK_CHECK() ((void)0)
#endif

/* ---- fixtures: static plugin descriptors and a lookup ------------------ */

#include "fake_plugins.h"

static char tmpdir[64];

static const char *tmp_path(const char *name) {
  static char path[256];
  if (!tmpdir[0]) {
    strcpy(tmpdir, "/tmp/cf-test-dag-XXXXXX");
    if (!mkdtemp(tmpdir)) CF_FAIL_("mkdtemp: %s", strerror(errno));
  }
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  return path;
}

static const char *write_file(const char *name, const void *data,
                              size_t len) {
  const char *p = tmp_path(name);
  FILE *f = fopen(p, "wb");
  CF_ASSERT(f);
  CF_ASSERT_EQ(len, fwrite(data, 1, len, f));
  fclose(f);
  return p;
}

static struct cf_dag_load_opts opts = {0, fake_plugin_lookup, NULL};
static struct cf_diags dg = CF_DIAGS_INIT;
static char all[16384];          /* every diag as "L:C: msg\n" */

static int load_opts(const char *text, const struct cf_dag_load_opts *o,
                     struct cf_dag **dag) {
  const char *p = write_file("t.yaml", text, strlen(text));
  cf_diags_release(&dg);
  int r = cf_dag_load(p, o, dag, &dg);
  all[0] = '\0';
  for (size_t i = 0; i < dg.n; i++) {
    size_t n = strlen(all);
    snprintf(all + n, sizeof all - n, "%d:%d: %s\n", dg.v[i].line,
             dg.v[i].col, dg.v[i].msg);
  }
  if (r == 0) CF_ASSERT(dag && *dag);
  else CF_ASSERT(*dag == NULL && dg.n > 0);
  return r;
}

static int load(const char *text, struct cf_dag **dag) {
  return load_opts(text, &opts, dag);
}

/* Loads text that must fail with `want` ("L:C: msg") among the diags. */
static void expect_err(const char *text, const char *want) {
  struct cf_dag *dag = NULL;
  int r = load(text, &dag);
  if (r == 0) CF_FAIL_("loaded, expected \"%s\"", want);
  char line[1100];
  snprintf(line, sizeof line, "%s\n", want);
  if (!strstr(all, line)) CF_FAIL_("want \"%s\" in:\n%s", want, all);
}

#define HEAD "dag: d\n"

/* ---- valid files ------------------------------------------------------- */

CF_TEST(load_full_dag) {
  const char *text =
    "dag: cloud_billing_daily\n"
    "description: Daily billing\n"
    "schedule: \"30 6 * * *\"\n"
    "timezone: Europe/London\n"
    "start_date: 2025-01-01\n"
    "end_date: 2025-12-31\n"
    "catchup: true\n"
    "max_active_runs: 2\n"
    "params: {bucket: b1, n: 3}\n"
    "pools: {db: 2}\n"
    "deadline: \"09:15\"\n"
    "tags: [billing, daily]\n"
    "default_args: {retries: 2, retry_delay: 30s, "
    "retry_backoff: exponential, timeout: 15m}\n"
    "trigger:\n"
    "  file: {path: \"landing/*.csv\", settle: 2s, marker: _SUCCESS}\n"
    "tasks:\n"
    "  extract:\n"
    "    plugin: shell\n"
    "    params: {command: \"echo {{ ds }} {{ params.bucket }}\"}\n"
    "  load:\n"
    "    plugin: sleep\n"
    "    depends_on: [extract]\n"
    "    retries: 0\n"
    "    pool: db\n"
    "    params: {seconds: 1}\n"
    "  check:\n"
    "    plugin: typed\n"
    "    depends_on: [extract]\n"
    "  notify:\n"
    "    plugin: noop\n"
    "    depends_on: [load, check]\n"
    "    trigger_rule: one_failed\n";
  struct cf_dag *d = NULL;
  CF_ASSERT_EQ(0, load(text, &d));
  CF_ASSERT_STR("cloud_billing_daily", d->id);
  CF_ASSERT_STR("Daily billing", d->description);
  CF_ASSERT_STR("30 6 * * *", d->schedule);
  CF_ASSERT(d->cron && d->tz);
  CF_ASSERT_STR("Europe/London", d->timezone);
  CF_ASSERT_EQ(cf_date_from_ymd(2025, 1, 1), d->start_date);
  CF_ASSERT(d->has_start_date && d->has_end_date && d->catchup);
  CF_ASSERT_EQ(2, d->max_active_runs);
  CF_ASSERT_STR("09:15", d->deadline);
  CF_ASSERT_EQ(64, strlen(d->sha256));
  CF_ASSERT_EQ(3, json_integer_value(json_object_get(d->params, "n")));
  CF_ASSERT_EQ(2, json_integer_value(json_object_get(d->pools, "db")));
  json_t *f = json_object_get(d->trigger, "file");
  CF_ASSERT_STR("landing/*.csv", json_string_value(json_object_get(f,
                                                                   "path")));
  CF_ASSERT_EQ(2000, json_integer_value(json_object_get(f, "settle_ms")));
  CF_ASSERT_STR("_SUCCESS", json_string_value(json_object_get(f, "marker")));
  CF_ASSERT_EQ(4, d->ntasks);
  struct cf_task *t = &d->tasks[0];
  CF_ASSERT_STR("extract", t->id);
  CF_ASSERT_EQ(17, t->line);
  CF_ASSERT_EQ(3, t->col);
  CF_ASSERT_EQ(2, t->retries);
  CF_ASSERT_EQ(30000, t->retry_delay_ms);
  CF_ASSERT_EQ(1, t->retry_exponential);
  CF_ASSERT_EQ(3600000, t->max_retry_delay_ms);
  CF_ASSERT_EQ(900000, t->timeout_ms);
  CF_ASSERT_EQ(2, t->ndown);
  CF_ASSERT_STR("echo {{ ds }} {{ params.bucket }}",
                json_string_value(json_object_get(t->params, "command")));
  t = &d->tasks[1];
  CF_ASSERT_EQ(0, t->retries);
  CF_ASSERT_STR("db", t->pool);
  CF_ASSERT_EQ(1, t->ndeps);
  CF_ASSERT_EQ(0, t->dep_idx[0]);
  t = &d->tasks[2];                      /* plugin defaults filled in */
  CF_ASSERT(json_is_false(json_object_get(t->params, "flag")));
  CF_ASSERT_STR("30s", json_string_value(json_object_get(t->params, "wait")));
  CF_ASSERT_EQ(3, json_integer_value(json_object_get(t->params, "count")));
  CF_ASSERT_EQ(1, json_integer_value(json_object_get(
                      json_object_get(t->params, "extra"), "a")));
  CF_ASSERT(!json_object_get(t->params, "paths"));
  t = &d->tasks[3];
  CF_ASSERT_EQ(CF_TRIGGER_ONE_FAILED, t->trigger_rule);
  CF_ASSERT_STR("one_failed", cf_trigger_rule_name(t->trigger_rule));
  CF_ASSERT_EQ(2, t->ndeps);
  CF_ASSERT_EQ(0, d->topo[0]);
  CF_ASSERT_EQ(1, d->topo[1]);
  CF_ASSERT_EQ(2, d->topo[2]);
  CF_ASSERT_EQ(3, d->topo[3]);
  CF_ASSERT_EQ(2, cf_dag_task_index(d, "check"));
  CF_ASSERT_EQ(-1, cf_dag_task_index(d, "nope"));
  cf_dag_free(d);
  cf_diags_release(&dg);
  LEAK_CHECK();
}

CF_TEST(defaults_minimal) {
  struct cf_dag *d = NULL;
  CF_ASSERT_EQ(0, load("dag: m\ntasks:\n  a: {plugin: noop}\n", &d));
  CF_ASSERT(!d->schedule && !d->cron);
  CF_ASSERT_STR("UTC", d->timezone);
  CF_ASSERT_EQ(16, d->max_active_runs);
  CF_ASSERT_EQ(0, d->catchup);
  CF_ASSERT(!d->has_start_date && !d->trigger && !d->pools && !d->deadline);
  struct cf_task *t = &d->tasks[0];
  CF_ASSERT_EQ(0, t->retries);
  CF_ASSERT_EQ(300000, t->retry_delay_ms);
  CF_ASSERT_EQ(0, t->retry_exponential);
  CF_ASSERT_EQ(3600000, t->max_retry_delay_ms);
  CF_ASSERT_EQ(0, t->timeout_ms);
  CF_ASSERT_EQ(CF_TRIGGER_ALL_SUCCESS, t->trigger_rule);
  CF_ASSERT(t->pool == NULL && json_is_object(t->params));
  cf_dag_free(d);
  LEAK_CHECK();
}

CF_TEST(topo_order_stable_by_file_order) {
  struct cf_dag *d = NULL;
  CF_ASSERT_EQ(0, load("dag: t\ntasks:\n"
                       "  z: {plugin: noop, depends_on: [b]}\n"
                       "  c: {plugin: noop}\n"
                       "  b: {plugin: noop}\n"
                       "  a: {plugin: noop, depends_on: [c, b]}\n", &d));
  /* ready first: c (1), b (2); then z (0) before a (3) */
  CF_ASSERT_EQ(1, d->topo[0]);
  CF_ASSERT_EQ(2, d->topo[1]);
  CF_ASSERT_EQ(0, d->topo[2]);
  CF_ASSERT_EQ(3, d->topo[3]);
  /* kept with the DAG for the executor: the inverse and the edge count */
  CF_ASSERT_EQ(2, d->topo_pos[0]);
  CF_ASSERT_EQ(0, d->topo_pos[1]);
  CF_ASSERT_EQ(1, d->topo_pos[2]);
  CF_ASSERT_EQ(3, d->topo_pos[3]);
  CF_ASSERT_EQ(3, d->nedges);
  cf_dag_free(d);
  LEAK_CHECK();
}

CF_TEST(no_lookup_skips_plugin_checks) {
  struct cf_dag_load_opts o = {0, NULL, NULL};
  struct cf_dag *d = NULL;
  CF_ASSERT_EQ(0, load_opts("dag: x\ntasks:\n  a:\n    plugin: whatever\n"
                            "    params: {n: 1, b: true, s: hi, l: [1, x]}\n",
                            &o, &d));
  json_t *p = d->tasks[0].params;
  CF_ASSERT_EQ(1, json_integer_value(json_object_get(p, "n")));
  CF_ASSERT(json_is_true(json_object_get(p, "b")));
  CF_ASSERT_EQ(2, json_array_size(json_object_get(p, "l")));
  cf_dag_free(d);
  LEAK_CHECK();
}

CF_TEST(template_in_int_param_accepted) {
  struct cf_dag *d = NULL;
  CF_ASSERT_EQ(0, load("dag: x\nparams: {n: 5}\ntasks:\n  a:\n"
                       "    plugin: sleep\n"
                       "    params: {seconds: \"{{ params.n }}\"}\n", &d));
  cf_dag_free(d);
  LEAK_CHECK();
}

/* ---- YAML-level errors -------------------------------------------------- */

CF_TEST(syntax_error_position) {
  expect_err("dag: x\ntasks:\n  a: {plugin: noop\n",
             "4:1: YAML syntax error: did not find expected ',' or '}' "
             "(while parsing a flow mapping)");
  LEAK_CHECK();
}

CF_TEST(empty_file) {
  expect_err("", "1:1: empty file: expected a mapping with 'dag' and "
             "'tasks'");
  expect_err("# only a comment\n\n", "1:1: empty file: expected a mapping "
             "with 'dag' and 'tasks'");
  LEAK_CHECK();
}

CF_TEST(several_documents) {
  expect_err("dag: a\ntasks: {a: {plugin: noop}}\n---\ndag: b\n",
             "3:1: several YAML documents in one file (a DAG file holds "
             "exactly one)");
  LEAK_CHECK();
}

CF_TEST(root_not_mapping) {
  expect_err("- a\n- b\n", "1:1: the file must be a mapping with 'dag' and "
             "'tasks' at the top level, got a list");
  expect_err("---\n", "1:1: the file must be a mapping with 'dag' and "
             "'tasks' at the top level, got null");
  LEAK_CHECK();
}

CF_TEST(duplicate_keys_any_level) {
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n    params:\n"
             "      command: a\n      command: b\n",
             "7:7: duplicate key 'command' (first defined at line 6)");
  expect_err("dag: x\ndag: y\ntasks: {a: {plugin: noop}}\n",
             "2:1: duplicate key 'dag' (first defined at line 1)");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop}\n  a: {plugin: noop}\n",
             "4:3: duplicate key 'a' (first defined at line 3)");
  LEAK_CHECK();
}

CF_TEST(aliases_refused) {
  expect_err("dag: x\nbase: &b {retries: 1}\ntasks: {a: {plugin: noop}}\n",
             "2:7: aliases/anchors are not allowed in DAG files");
  expect_err("a: &a [*a]\n",
             "1:4: aliases/anchors are not allowed in DAG files");
  LEAK_CHECK();
}

CF_TEST(billion_laughs_fast) {
  struct cf_buf b = CF_BUF_INIT(0);
  cf_buf_adds(&b, "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
  for (int i = 1; i < 10; i++)
    cf_buf_addf(&b, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n",
                'a' + i, 'a' + i, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1,
                'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1,
                'a' + i - 1, 'a' + i - 1);
  int64_t t0 = cf_mono_ms();
  expect_err(b.buf, "1:4: aliases/anchors are not allowed in DAG files");
  CF_ASSERT(cf_mono_ms() - t0 < 1000);
  cf_buf_release(&b);
  LEAK_CHECK();
}

CF_TEST(deep_nesting_refused) {
  struct cf_buf b = CF_BUF_INIT(0);
  cf_buf_adds(&b, "dag: x\nparams: {p: ");
  for (int i = 0; i < 5000; i++) cf_buf_addch(&b, '[');
  for (int i = 0; i < 5000; i++) cf_buf_addch(&b, ']');
  cf_buf_adds(&b, "}\n");
  /* root map = level 1, params map = 2, so the 63rd '[' is level 65 */
  expect_err(b.buf, "2:75: nesting deeper than 64 levels");
  cf_buf_release(&b);
  LEAK_CHECK();
}

CF_TEST(node_count_cap) {
  struct cf_buf b = CF_BUF_INIT(0);
  cf_buf_adds(&b, "dag: x\nparams: {p: [");
  for (int i = 0; i < 100001; i++) cf_buf_adds(&b, "1,");
  cf_buf_adds(&b, "]}\n");
  struct cf_dag *d = NULL;
  CF_ASSERT(load(b.buf, &d) < 0);
  CF_ASSERT_CONTAINS(all, "too many YAML nodes (limit 100000)");
  cf_buf_release(&b);
  LEAK_CHECK();
}

CF_TEST(file_size_cap) {
  size_t n = (1u << 20) + 1;
  char *big = cf_malloc(n);
  memset(big, '#', n);
  const char *p = write_file("big.yaml", big, n);
  cf_free(big);
  struct cf_dag *d = NULL;
  struct cf_diags g = CF_DIAGS_INIT;
  CF_ASSERT_EQ(CF_ETOOBIG, cf_dag_load(p, &opts, &d, &g));
  CF_ASSERT_EQ(1, g.n);
  CF_ASSERT_STR("file is 1048577 bytes, over the 1048576-byte limit for "
                "DAG files", g.v[0].msg);
  cf_diags_release(&g);
  struct cf_dag_load_opts small = {100, fake_plugin_lookup, NULL};
  CF_ASSERT(load_opts("dag: x\ntasks: {a: {plugin: noop}}\n# padding "
                      "padding padding padding padding padding padding "
                      "padding padding padding\n",
                      &small, &d) < 0);
  CF_ASSERT_CONTAINS(all, "over the 100-byte limit");
  LEAK_CHECK();
}

CF_TEST(invalid_utf8) {
  expect_err("dag: x\ndescription: caf\xff\ntasks: {a: {plugin: noop}}\n",
             "2:17: file is not valid UTF-8 (byte 0xff); DAG files must "
             "be UTF-8");
  expect_err("dag: x\n\n  # caf\xc3\xa9 \xe9t\xc3\n",
             "3:10: file is not valid UTF-8 (byte 0xe9); DAG files must "
             "be UTF-8");
  expect_err("dag: \xed\xa0\x80\n", "1:6: file is not valid UTF-8 (byte "
             "0xed); DAG files must be UTF-8");
  expect_err("dag: \xc0\xaf\n", "1:6: file is not valid UTF-8 (byte "
             "0xc0); DAG files must be UTF-8");
  expect_err("\xff\xfe" "d\n", "1:1: file is not valid UTF-8 (byte "
             "0xff); DAG files must be UTF-8");
  LEAK_CHECK();
}

CF_TEST(missing_file) {
  struct cf_dag *d = NULL;
  struct cf_diags g = CF_DIAGS_INIT;
  CF_ASSERT(cf_dag_load("/nonexistent/x.yaml", &opts, &d, &g) < 0);
  CF_ASSERT_EQ(1, g.n);
  CF_ASSERT_CONTAINS(g.v[0].msg, "cannot read");
  cf_diags_release(&g);
  LEAK_CHECK();
}

/* ---- structure errors ---------------------------------------------------- */

CF_TEST(unknown_keys_with_hints) {
  expect_err("dag: x\nschedul: \"@daily\"\ntasks: {a: {plugin: noop}}\n",
             "2:1: unknown key 'schedul' (did you mean 'schedule'?)");
  expect_err("dag: x\nschedule_interval: \"@daily\"\n"
             "tasks: {a: {plugin: noop}}\n",
             "2:1: unknown key 'schedule_interval' (did you mean "
             "'schedule'?)");
  expect_err("dag: x\ntasks:\n  b: {plugin: noop}\n  a:\n    plugin: noop\n"
             "    depend_on: [b]\n",
             "6:5: unknown key 'depend_on' in task 'a' (did you mean "
             "'depends_on'?)");
  expect_err("dag: x\nfoo: 1\ntasks: {a: {plugin: noop}}\n",
             "2:1: unknown key 'foo'");
  expect_err("dag: x\ndefault_args: {retrys: 1}\ntasks: {a: {plugin: noop}}\n",
             "2:16: unknown key 'retrys' in 'default_args' (did you mean "
             "'retries'?)");
  LEAK_CHECK();
}

CF_TEST(missing_required) {
  expect_err("tasks: {a: {plugin: noop}}\n",
             "1:1: missing required key 'dag' (the DAG's id)");
  expect_err("dag: x\n", "1:1: missing required key 'tasks'");
  expect_err("dag: x\ntasks: {}\n",
             "2:8: 'tasks' is empty: a DAG needs at least one task");
  expect_err("dag: x\ntasks:\n  a: {retries: 1}\n",
             "3:3: task 'a' has no 'plugin'");
  expect_err("dag: x\ntasks:\n  a:\n",
             "3:5: task 'a' must be a mapping with at least 'plugin', got "
             "null");
  LEAK_CHECK();
}

CF_TEST(bools_are_yaml12) {
  expect_err("dag: x\ncatchup: yes\ntasks: {a: {plugin: noop}}\n",
             "2:10: 'catchup' must be true or false, got 'yes' (YAML 1.2: "
             "yes/no/on/off are strings; write true or false)");
  expect_err("dag: x\ncatchup: \"true\"\ntasks: {a: {plugin: noop}}\n",
             "2:10: 'catchup' must be true or false, got a string");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: typed\n    params: {flag: "
             "off}\n",
             "5:20: task 'a': param 'flag' must be true or false, got 'off' "
             "(YAML 1.2: yes/no/on/off are strings; write true or false)");
  LEAK_CHECK();
}

CF_TEST(ints_and_ranges) {
  expect_err("dag: x\nmax_active_runs: 0\ntasks: {a: {plugin: noop}}\n",
             "2:18: 'max_active_runs' must be between 1 and 1000, got 0");
  expect_err("dag: x\nmax_active_runs: 2.5\ntasks: {a: {plugin: noop}}\n",
             "2:18: 'max_active_runs' must be an integer, got a number "
             "'2.5'");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, retries: 101}\n",
             "3:30: 'retries' must be between 0 and 100, got 101");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, retries: \"3\"}\n",
             "3:30: 'retries' must be an integer, got a string '3'");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, retries: "
             "99999999999999999999999}\n",
             "3:30: 'retries' must be between 0 and 100, got "
             "99999999999999999999999");
  LEAK_CHECK();
}

CF_TEST(ids) {
  expect_err("dag: \"bad id\"\ntasks: {a: {plugin: noop}}\n",
             "1:6: invalid dag id 'bad id': use letters, digits, '_', '.' "
             "and '-', starting with a letter, digit or '_'");
  expect_err("dag: x\ntasks:\n  ../etc: {plugin: noop}\n",
             "3:3: invalid task id '../etc': use letters, digits, '_', '.' "
             "and '-', starting with a letter, digit or '_'");
  char text[512];
  char id[140];
  memset(id, 'a', 129);
  id[129] = '\0';
  snprintf(text, sizeof text, "dag: x\ntasks:\n  %s: {plugin: noop}\n", id);
  expect_err(text, "3:3: invalid task id "
             "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': longer than "
             "128 characters");
  expect_err("dag: x\ntasks:\n  a: {plugin: ../../tmp/evil}\n",
             "3:15: invalid plugin name '../../tmp/evil': use letters, "
             "digits, '_', '.' and '-', starting with a letter, digit or "
             "'_'");
  LEAK_CHECK();
}

CF_TEST(dependencies) {
  expect_err("dag: x\ntasks:\n  extract: {plugin: noop}\n"
             "  load: {plugin: noop, depends_on: [extrat]}\n",
             "4:37: task 'load' depends on unknown task 'extrat' (did you "
             "mean 'extract'?)");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, depends_on: [a]}\n",
             "3:34: task 'a' depends on itself");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop}\n"
             "  b: {plugin: noop, depends_on: [a, a]}\n",
             "4:37: task 'b' lists 'a' twice in depends_on");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop}\n"
             "  b: {plugin: noop, depends_on: a}\n",
             "4:33: 'depends_on' must be a list of task ids, got a string "
             "(write [a])");
  LEAK_CHECK();
}

CF_TEST(cycle_path) {
  expect_err("dag: x\ntasks:\n"
             "  a: {plugin: noop, depends_on: [c]}\n"
             "  b: {plugin: noop, depends_on: [a]}\n"
             "  c: {plugin: noop, depends_on: [b]}\n"
             "  d: {plugin: noop, depends_on: [c]}\n",
             "3:34: cycle: a -> b -> c -> a");
  struct cf_dag *d = NULL;
  CF_ASSERT(load("dag: x\ntasks:\n"
                 "  a: {plugin: noop, depends_on: [b]}\n"
                 "  b: {plugin: noop, depends_on: [a]}\n"
                 "  c: {plugin: noop, depends_on: [d]}\n"
                 "  d: {plugin: noop, depends_on: [c]}\n", &d) < 0);
  CF_ASSERT_STR("3:34: cycle: a -> b -> a\n5:34: cycle: c -> d -> c\n", all);
  LEAK_CHECK();
}

/* ---- plugins and params ------------------------------------------------ */

CF_TEST(plugin_errors) {
  expect_err("dag: x\ntasks:\n  a: {plugin: nope}\n",
             "3:15: unknown plugin 'nope'");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: oldabi\n",
             "4:13: plugin 'oldabi' was built for ABI 2, this costflow has "
             "ABI 1");
  LEAK_CHECK();
}

CF_TEST(param_errors) {
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n"
             "    params: {comand: ls}\n",
             "5:14: task 'a': unknown param 'comand' for plugin 'shell' (did "
             "you mean 'command'?)");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n"
             "    params: {comand: ls}\n",
             "5:13: task 'a': missing required param 'command' for plugin "
             "'shell'");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n",
             "3:3: task 'a': missing required param 'command' for plugin "
             "'shell'");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: sleep\n"
             "    params: {seconds: soon}\n",
             "5:23: task 'a': param 'seconds' must be an integer, got a "
             "string 'soon'");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n"
             "    params: {command: [ls]}\n",
             "5:23: task 'a': param 'command' must be a string, got a list");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n"
             "    params: {command: ls, env: {A: [1]}}\n",
             "5:36: task 'a': param 'env' must map keys to scalars, 'A' is "
             "a list");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: typed\n"
             "    params: {wait: forever}\n",
             "5:20: task 'a': param 'wait' must be a duration like 30s, 5m "
             "or 1h, got a string 'forever'");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: noop\n    params: {x: 1}\n",
             "5:14: task 'a': unknown param 'x' for plugin 'noop' (it takes "
             "no params)");
  LEAK_CHECK();
}

CF_TEST(template_errors) {
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n"
             "    params: {command: \"echo {{ dss }}\"}\n",
             "5:23: task 'a': param 'command': unknown template name 'dss' "
             "(known: ds, ds_nodash, yyyy, mm, dd, prev_ds, next_ds, "
             "run_id, dag, task, params.NAME, env.NAME)");
  expect_err("dag: x\ntasks:\n  a:\n    plugin: shell\n"
             "    params: {command: \"echo {{ ds\"}\n",
             "5:23: task 'a': param 'command': unterminated '{{' at offset "
             "5 (missing '}}')");
  expect_err("dag: x\nparams: {a: 1}\ntasks:\n  a:\n    plugin: shell\n"
             "    params: {command: \"{{params.b}}\"}\n",
             "6:23: task 'a': param 'command': template '{{ params.b }}' "
             "names param 'b', which the DAG's params do not define");
  LEAK_CHECK();
}

/* ---- schedule, zone, dates, policy ------------------------------------- */

CF_TEST(schedule_errors) {
  struct cf_dag *d = NULL;
  CF_ASSERT(load("dag: x\nschedule: \"61 * * * *\"\n"
                 "tasks: {a: {plugin: noop}}\n", &d) < 0);
  CF_ASSERT_CONTAINS(all, "2:11: invalid schedule '61 * * * *': ");
  CF_ASSERT(load("dag: x\nschedule: \"0 30 6 * * *\"\n"
                 "tasks: {a: {plugin: noop}}\n", &d) < 0);
  CF_ASSERT_CONTAINS(all, "2:11: invalid schedule '0 30 6 * * *': ");
  expect_err("dag: x\nschedule: \"0 0 31 2 *\"\ntasks: {a: {plugin: noop}}\n",
             "2:11: schedule '0 0 31 2 *' never fires");
  expect_err("dag: x\ntimezone: Mars/Olympus\ntasks: {a: {plugin: noop}}\n",
             "2:11: unknown time zone 'Mars/Olympus' (use an IANA name such "
             "as UTC or Europe/London)");
  LEAK_CHECK();
}

CF_TEST(date_errors) {
  expect_err("dag: x\nstart_date: 2025-02-30\ntasks: {a: {plugin: noop}}\n",
             "2:13: impossible date '2025-02-30' for 'start_date': 2025-02 "
             "has 28 days");
  expect_err("dag: x\nstart_date: 2025-13-01\ntasks: {a: {plugin: noop}}\n",
             "2:13: impossible date '2025-13-01' for 'start_date': month 13");
  expect_err("dag: x\nstart_date: 2025-1-1\ntasks: {a: {plugin: noop}}\n",
             "2:13: 'start_date' must be a date YYYY-MM-DD, got '2025-1-1'");
  expect_err("dag: x\nstart_date: 2025-02-01\nend_date: 2025-01-01\n"
             "tasks: {a: {plugin: noop}}\n",
             "3:11: end_date 2025-01-01 is before start_date 2025-02-01");
  expect_err("dag: x\ndeadline: \"24:00\"\ntasks: {a: {plugin: noop}}\n",
             "2:11: 'deadline' must be a time HH:MM (00:00 to 23:59), got "
             "'24:00'");
  LEAK_CHECK();
}

CF_TEST(policy_errors) {
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, timeout: 5 minutes}\n",
             "3:30: 'timeout' must be a duration like 30s, 5m, 1h or 1h30m, "
             "got '5 minutes'");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, trigger_rule: all_sucess}\n",
             "3:35: unknown trigger_rule 'all_sucess' (did you mean "
             "'all_success'?)");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, trigger_rule: first}\n",
             "3:35: unknown trigger_rule 'first' (one of all_success, "
             "all_done, all_failed, one_success, one_failed, none_failed, "
             "always)");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, pool: db}\n",
             "3:27: pool 'db' is not declared in 'pools'");
  expect_err("dag: x\npools: {db: 0}\ntasks:\n  a: {plugin: noop}\n",
             "2:13: 'pool size' must be between 1 and 1000000, got 0");
  expect_err("dag: x\ntasks:\n  a: {plugin: noop, retry_backoff: linear}\n",
             "3:36: 'retry_backoff' must be 'fixed' or 'exponential', got "
             "'linear'");
  LEAK_CHECK();
}

CF_TEST(trigger_errors) {
  expect_err("dag: x\ntrigger: {file: {settle: 2s}}\n"
             "tasks: {a: {plugin: noop}}\n",
             "2:11: 'trigger.file' needs a 'path' (a glob of files to "
             "watch)");
  expect_err("dag: x\ntrigger: {file: {path: x, setle: 2s}}\n"
             "tasks: {a: {plugin: noop}}\n",
             "2:27: unknown key 'setle' in 'trigger.file' (did you mean "
             "'settle'?)");
  expect_err("dag: x\ntrigger: {file: {path: x, marker: a/b}}\n"
             "tasks: {a: {plugin: noop}}\n",
             "2:35: 'trigger.file.marker' must be a file name (no '/'), got "
             "'a/b'");
  LEAK_CHECK();
}

CF_TEST(collects_every_problem) {
  struct cf_dag *d = NULL;
  CF_ASSERT(load("dag: x\ncatchup: no\nmax_active_runs: 0\n"
                 "tasks:\n  a: {plugin: nope, depends_on: [zz]}\n"
                 "  b: {plugin: shell, retries: -1}\n", &d) < 0);
  CF_ASSERT_EQ(6, dg.n);
  LEAK_CHECK();
}

CF_TEST(oom_never_crashes_or_leaks) {
  const char *text =
    "dag: x\nschedule: \"@daily\"\nparams: {p: 1}\npools: {db: 1}\n"
    "default_args: {retries: 1, pool: db}\n"
    "trigger: {file: {path: \"*.csv\", settle: 1s}}\n"
    "tasks:\n  a: {plugin: shell, params: {command: \"{{ ds }}\"}}\n"
    "  b: {plugin: typed, depends_on: [a]}\n"
    "  c: {plugin: sleep, depends_on: [a, b], params: {seconds: 1}}\n";
  const char *p = write_file("oom.yaml", text, strlen(text));
  int ok = 0;
  for (long n = 0; n < 400; n++) {
    struct cf_dag *d = NULL;
    struct cf_diags g = CF_DIAGS_INIT;
    cf_alloc_fail_after(n);
    int r = cf_dag_load(p, &opts, &d, &g);
    cf_alloc_fail_after(-1);
    if (r == 0) {
      CF_ASSERT_EQ(3, d->ntasks);
      ok++;
    }
    cf_dag_free(d);
    cf_diags_release(&g);
  }
  CF_ASSERT(ok > 0);
  LEAK_CHECK();
}

CF_TEST(resolve) {
  const char *a = write_file("one.yaml", "dag: first\ntasks: {a: {plugin: "
                             "noop}}\n", 37);
  write_file("two.yml", "dag: second\ntasks: {}\n", 22);
  write_file("bad.yaml", "dag: [\n", 7);
  char *p = NULL;
  CF_ASSERT_EQ(0, cf_dag_resolve(tmpdir, "second", &p));
  CF_ASSERT_CONTAINS(p, "/two.yml");
  cf_free(p);
  CF_ASSERT_EQ(0, cf_dag_resolve("/nonexistent", a, &p));
  CF_ASSERT_STR(a, p);
  cf_free(p);
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_dag_resolve(tmpdir, "third", &p));
  CF_ASSERT_EQ(CF_ENOTFOUND, cf_dag_resolve(tmpdir, "/no/such.yaml", &p));
  CF_ASSERT(p == NULL);
  LEAK_CHECK();
}

/* ---- logical dates ------------------------------------------------------ */

static cf_date D(int y, int m, int d) { return cf_date_from_ymd(y, m, d); }

CF_TEST(dates_daily_and_unscheduled) {
  struct cf_dag *d = NULL;
  cf_date out;
  CF_ASSERT_EQ(0, load("dag: x\nschedule: \"30 6 * * *\"\n"
                       "timezone: America/New_York\n"
                       "tasks: {a: {plugin: noop}}\n", &d));
  CF_ASSERT_EQ(0, cf_dag_prev_date(d, D(2025, 3, 9), &out));
  CF_ASSERT_EQ(D(2025, 3, 8), out);
  CF_ASSERT_EQ(0, cf_dag_next_date(d, D(2025, 3, 9), &out));
  CF_ASSERT_EQ(D(2025, 3, 10), out);
  CF_ASSERT(cf_dag_covers_date(d, D(2025, 11, 2)));
  cf_dag_free(d);
  CF_ASSERT_EQ(0, load("dag: x\ntasks: {a: {plugin: noop}}\n", &d));
  CF_ASSERT_EQ(0, cf_dag_prev_date(d, D(2025, 1, 1), &out));
  CF_ASSERT_EQ(D(2024, 12, 31), out);
  CF_ASSERT_EQ(0, cf_dag_next_date(d, D(2024, 12, 31), &out));
  CF_ASSERT_EQ(D(2025, 1, 1), out);
  CF_ASSERT(cf_dag_covers_date(d, D(2025, 7, 4)));
  cf_dag_free(d);
  LEAK_CHECK();
}

CF_TEST(dates_weekly_and_zone) {
  struct cf_dag *d = NULL;
  cf_date out;
  /* Mondays 00:30 in Tokyo: 2025-01-06 is a Monday. */
  CF_ASSERT_EQ(0, load("dag: x\nschedule: \"30 0 * * 1\"\n"
                       "timezone: Asia/Tokyo\n"
                       "tasks: {a: {plugin: noop}}\n", &d));
  CF_ASSERT(cf_dag_covers_date(d, D(2025, 1, 6)));
  CF_ASSERT(!cf_dag_covers_date(d, D(2025, 1, 5)));
  CF_ASSERT(!cf_dag_covers_date(d, D(2025, 1, 7)));
  CF_ASSERT_EQ(0, cf_dag_next_date(d, D(2025, 1, 6), &out));
  CF_ASSERT_EQ(D(2025, 1, 13), out);
  CF_ASSERT_EQ(0, cf_dag_prev_date(d, D(2025, 1, 6), &out));
  CF_ASSERT_EQ(D(2024, 12, 30), out);
  CF_ASSERT_EQ(0, cf_dag_prev_date(d, D(2025, 1, 8), &out));
  CF_ASSERT_EQ(D(2025, 1, 6), out);
  cf_dag_free(d);
  /* Monthly on the 31st skips short months. */
  CF_ASSERT_EQ(0, load("dag: x\nschedule: \"0 12 31 * *\"\n"
                       "tasks: {a: {plugin: noop}}\n", &d));
  CF_ASSERT_EQ(0, cf_dag_next_date(d, D(2025, 1, 31), &out));
  CF_ASSERT_EQ(D(2025, 3, 31), out);
  CF_ASSERT_EQ(0, cf_dag_prev_date(d, D(2025, 3, 31), &out));
  CF_ASSERT_EQ(D(2025, 1, 31), out);
  cf_dag_free(d);
  LEAK_CHECK();
}

CF_TEST_MAIN()
