/* The function table a plugin receives (struct cf_host_api). Runs in the
 * task-run child; store writes are short transactions of their own. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "host_api.h"

static const char *h_param(struct cf_plugin_ctx *c, const char *name) {
  return cf_params_text(c->params, name, &c->kept);
}

static const char *h_param_json(struct cf_plugin_ctx *c, const char *name) {
  return cf_params_json(c->params, name, &c->kept);
}

static size_t h_param_count(struct cf_plugin_ctx *c, const char *name) {
  return cf_params_count(c->params, name);
}

static const char *h_param_item(struct cf_plugin_ctx *c, const char *name,
                                size_t i) {
  return cf_params_item(c->params, name, i, &c->kept);
}

static const char *h_param_key(struct cf_plugin_ctx *c, const char *name,
                               size_t i) {
  return cf_params_key(c->params, name, i);
}

static const char *h_dag_id(struct cf_plugin_ctx *c) { return c->dag_id; }
static const char *h_task_id(struct cf_plugin_ctx *c) { return c->task_id; }
static const char *h_run_id(struct cf_plugin_ctx *c) { return c->run_id; }
static const char *h_logical_date(struct cf_plugin_ctx *c) {
  return c->logical_date;
}
static int h_try_number(struct cf_plugin_ctx *c) { return c->try_number; }
static const char *h_home(struct cf_plugin_ctx *c) { return c->home; }
static const char *h_dag_dir(struct cf_plugin_ctx *c) { return c->dag_dir; }

static const char *h_conf(struct cf_plugin_ctx *c, const char *key) {
  return cf_params_text(c->conf, key, &c->kept);
}

static const char *h_scratch_dir(struct cf_plugin_ctx *c) {
  if (!c->scratch) {
    c->scratch = cf_asprintf("%s/scratch/%s/%s/%s/%d", c->home, c->dag_id,
                             c->logical_date, c->task_id, c->try_number);
    if (c->scratch && cf_mkdir_p(c->scratch, 0755) < 0) {
      cf_free(c->scratch);
      c->scratch = NULL;
    }
  }
  return c->scratch;
}

static void h_log(struct cf_plugin_ctx *c, enum cf_log_level level,
                  const char *fmt, ...) {
  static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  char ts[32], msg[4096];
  cf_format_iso_ms(cf_now_ms(), ts);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int lv = level >= CF_LOG_DEBUG && level <= CF_LOG_ERROR ? (int)level : 1;
  fprintf(stderr, "%s %s %s\n", ts, names[lv], msg);
  if (lv == CF_LOG_ERROR)
    snprintf(c->last_error, sizeof c->last_error, "%.511s", msg);
}

static int h_output_set(struct cf_plugin_ctx *c, const char *key,
                        const char *value) {
  if (!key || !value) return CF_EINVALID;
  if (strlen(value) > (1 << 20)) return CF_ETOOBIG;  /* outputs are small */
  return cf_store_output_set(c->st, c->run_pk, c->task_id, key, value);
}

static const char *h_output_get(struct cf_plugin_ctx *c, const char *task,
                                const char *key) {
  char *v = NULL;
  if (cf_store_output_get(c->st, c->run_pk, task, key, &v) < 0) return NULL;
  return cf_keep(&c->kept, v);
}

static int h_dq_record(struct cf_plugin_ctx *c, const char *rule,
                       const char *severity, int64_t checked, int64_t failed,
                       int passed, const char *samples) {
  return cf_store_dq_insert(c->st, c->attempt_pk, c->run_pk, c->task_id,
                            rule, severity, checked, failed, passed, samples);
}

static int64_t h_partition_record(struct cf_plugin_ctx *c, const char *ds,
                                  const char *key, int64_t rows,
                                  const char *checksum, const char *inputs) {
  int64_t v = 0;
  int r = cf_store_partition_record(c->st, ds, key, rows, checksum, inputs,
                                    c->run_pk, c->task_id, &v);
  return r < 0 ? r : v;
}

static int h_event(struct cf_plugin_ctx *c, const char *kind,
                   const char *detail) {
  return cf_store_event(c->st, c->dag_id, c->run_pk, c->task_id, kind,
                        detail);
}

const struct cf_host_api cf_host_api_table = {
  CF_PLUGIN_ABI, sizeof(struct cf_host_api),
  cf_malloc, cf_realloc, cf_free,
  h_param, h_param_json, h_param_count, h_param_item, h_param_key,
  h_dag_id, h_task_id, h_run_id, h_logical_date, h_try_number, h_conf,
  h_home, h_dag_dir, h_scratch_dir, h_log,
  h_output_set, h_output_get, h_dq_record, h_partition_record, h_event,
};

void cf_plugin_ctx_release(struct cf_plugin_ctx *c) {
  cf_keeper_release(&c->kept);
  cf_free(c->scratch);
  json_decref(c->params);
  json_decref(c->conf);
}
