/* Param accessors of the plugin host tables (host_params.h). */
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "host_params.h"

const char *cf_keep(struct cf_keeper *k, char *s) {
  if (!s) return NULL;
  if (k->n == k->alloc &&
      cf_grow(&k->v, &k->alloc, k->n + 1, sizeof *k->v, 16) < 0) {
    cf_free(s);
    return NULL;
  }
  return k->v[k->n++] = s;
}

void cf_keeper_release(struct cf_keeper *k) {
  for (size_t i = 0; i < k->n; i++) cf_free(k->v[i]);
  cf_free(k->v);
  memset(k, 0, sizeof *k);
}

/* A scalar as malloc'd text, or NULL. */
static char *scalar_text(const json_t *v) {
  if (json_is_string(v)) return cf_strdup(json_string_value(v));
  if (json_is_integer(v))
    return cf_asprintf("%lld", (long long)json_integer_value(v));
  if (json_is_true(v)) return cf_strdup("true");
  if (json_is_false(v)) return cf_strdup("false");
  if (json_is_real(v)) {
    char *s = json_dumps(v, JSON_ENCODE_ANY);      /* jansson's malloc */
    char *r = cf_strdup(s);
    free(s);
    return r;
  }
  return NULL;
}

const char *cf_params_text(json_t *params, const char *name,
                           struct cf_keeper *k) {
  return cf_keep(k, scalar_text(json_object_get(params, name)));
}

const char *cf_params_json(json_t *params, const char *name,
                           struct cf_keeper *k) {
  json_t *v = json_object_get(params, name);
  if (!v) return NULL;
  char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
  char *r = cf_strdup(s);
  free(s);
  return cf_keep(k, r);
}

size_t cf_params_count(json_t *params, const char *name) {
  json_t *v = json_object_get(params, name);
  if (json_is_array(v)) return json_array_size(v);
  if (json_is_object(v)) return json_object_size(v);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The i-th key of a map in sorted order. */
static const char *nth_key(json_t *obj, size_t i) {
  size_t n = json_object_size(obj), k = 0;
  if (i >= n) return NULL;
  const char **keys = cf_malloc(n * sizeof *keys);
  if (!keys) return NULL;
  const char *key;
  json_t *val;
  json_object_foreach(obj, key, val) keys[k++] = key;
  qsort(keys, n, sizeof *keys, cmp_str);
  const char *r = keys[i];
  cf_free(keys);
  return r;
}

const char *cf_params_item(json_t *params, const char *name, size_t i,
                           struct cf_keeper *k) {
  json_t *v = json_object_get(params, name);
  if (json_is_array(v)) return cf_keep(k, scalar_text(json_array_get(v, i)));
  if (json_is_object(v)) {
    const char *key = nth_key(v, i);
    return key ? cf_keep(k, scalar_text(json_object_get(v, key))) : NULL;
  }
  return NULL;
}

const char *cf_params_key(json_t *params, const char *name, size_t i) {
  json_t *v = json_object_get(params, name);
  return json_is_object(v) ? nth_key(v, i) : NULL;
}
