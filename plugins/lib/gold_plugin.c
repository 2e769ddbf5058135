/* Helpers shared by the gold-side stage plugins: paths and date lists. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "gold_plugin.h"

static int cmp_date(const void *a, const void *b) {
  return memcmp(a, b, 11);
}

int cfb_dates_add(struct cfb_dates *d, const char *date) {
  cf_date x;
  if (!date || strlen(date) != 10 || cf_date_parse(date, &x) < 0)
    return CF_EINVALID;
  for (size_t i = 0; i < d->n; i++)
    if (!strcmp(d->v[i], date)) return 0;
  void *nv = cf_realloc(d->v, (d->n + 1) * sizeof *d->v);
  if (!nv) return -ENOMEM;
  d->v = nv;
  memcpy(d->v[d->n++], date, 11);
  qsort(d->v, d->n, sizeof *d->v, cmp_date);
  return 0;
}

void cfb_dates_release(struct cfb_dates *d) {
  cf_free(d->v);
  d->v = NULL;
  d->n = 0;
}

int cfb_dates_from_json(const char *json, struct cfb_dates *out) {
  json_error_t jerr;
  json_t *a = json_loads(json, 0, &jerr);
  int ret = 0;
  size_t i;
  json_t *it;
  if (!a || !json_is_array(a)) {
    ret = CF_EINVALID;
    goto done;
  }
  json_array_foreach(a, i, it) {
    if ((ret = cfb_dates_add(out, json_string_value(it))) < 0) goto done;
  }
done:
  json_decref(a);
  return ret;
}

char *cfb_dates_to_json(const struct cfb_dates *d) {
  struct cf_buf b = CF_BUF_INIT(0);
  int bad = cf_buf_addch(&b, '[');
  for (size_t i = 0; i < d->n; i++)
    bad |= cf_buf_addf(&b, "%s\"%s\"", i ? "," : "", d->v[i]);
  bad |= cf_buf_addch(&b, ']');
  if (bad < 0) {
    cf_buf_release(&b);
    return NULL;
  }
  return cf_buf_detach(&b, NULL);
}

char *cfb_home_path(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                    const char *param, const char *deflt) {
  const char *v = param ? api->param(ctx, param) : NULL;
  const char *home = api->home(ctx);
  if (v && *v && v[0] == '/') return cf_strdup(v);
  return cf_asprintf("%s/%s", home ? home : ".", v && *v ? v : deflt);
}

int cfb_task_dates(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                   const char *deflt_task, const char *key,
                   struct cfb_dates *out) {
  size_t n = api->param_count(ctx, "dates");
  memset(out, 0, sizeof *out);
  if (n) {
    for (size_t i = 0; i < n; i++) {
      const char *d = api->param_item(ctx, "dates", i);
      if (cfb_dates_add(out, d) < 0) {
        api->log(ctx, CF_LOG_ERROR, "param dates: bad date '%s'",
                 d ? d : "");
        return CF_EINVALID;
      }
    }
    return 0;
  }
  const char *task = api->param(ctx, "from_task");
  if (!task || !*task) task = deflt_task;
  const char *json = api->output_get(ctx, task, key);
  if (!json) {
    api->log(ctx, CF_LOG_WARN, "task %s set no '%s' output: nothing to do",
             task, key);
    return 0;
  }
  if (cfb_dates_from_json(json, out) < 0) {
    api->log(ctx, CF_LOG_ERROR, "output %s.%s is not a JSON array of dates:"
             " %.200s", task, key, json);
    cfb_dates_release(out);
    return CF_EINVALID;
  }
  return 0;
}
