/* {{ name }} templates in task params: checked when a DAG loads, rendered
 * per run. Deliberately tiny: names only, no expressions or filters, and
 * an unknown name is an error (never silently an empty string). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/dag.h"

/* Calls on_name for each {{ name }} (trimmed) and copies literal text to
 * `out` (if not NULL). Returns 0 or CF_EINVALID with *errmsg. */
typedef int (*name_fn)(const char *name, size_t n, void *data,
                       struct cf_buf *out, char **errmsg);

static int walk(const char *text, name_fn fn, void *data, struct cf_buf *out,
                char **errmsg) {
  const char *p = text;
  for (;;) {
    const char *open = strstr(p, "{{");
    if (!open) {
      if (out && cf_buf_adds(out, p) < 0) goto nomem;
      return 0;
    }
    if (out && cf_buf_add(out, p, (size_t)(open - p)) < 0) goto nomem;
    const char *close = strstr(open + 2, "}}");
    if (!close) {
      *errmsg = cf_asprintf("unterminated '{{' at offset %zu (missing '}}')",
                            (size_t)(open - text));
      return CF_EINVALID;
    }
    const char *b = open + 2, *e = close;
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    if (b == e) {
      *errmsg = cf_asprintf("empty template name '{{}}' at offset %zu",
                            (size_t)(open - text));
      return CF_EINVALID;
    }
    int r = fn(b, (size_t)(e - b), data, out, errmsg);
    if (r < 0) return r;
    p = close + 2;
  }
nomem:
  *errmsg = cf_strdup("out of memory");
  return CF_EINVALID;
}

static int is_ident(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_') return 0;
  return 1;
}

static const char *const plain_names[] = {
  "ds", "ds_nodash", "yyyy", "mm", "dd", "prev_ds", "next_ds",
  "run_id", "dag", "task"
};

static int name_is(const char *s, size_t n, const char *want) {
  return strlen(want) == n && !memcmp(s, want, n);
}

static int unknown(const char *s, size_t n, char **errmsg) {
  *errmsg = cf_asprintf("unknown template name '%.*s' (known: ds, "
                        "ds_nodash, yyyy, mm, dd, prev_ds, next_ds, run_id, "
                        "dag, task, params.NAME, env.NAME)", (int)n, s);
  return CF_EINVALID;
}

static int check_name(const char *s, size_t n, void *data, struct cf_buf *out,
                      char **errmsg) {
  const json_t *params = data;
  for (size_t i = 0; i < sizeof plain_names / sizeof *plain_names; i++)
    if (name_is(s, n, plain_names[i])) return 0;
  if (n > 7 && !memcmp(s, "params.", 7)) {
    if (!is_ident(s + 7, n - 7)) return unknown(s, n, errmsg);
    if (params) {
      char key[256];
      if (n - 7 >= sizeof key || (snprintf(key, sizeof key, "%.*s",
                                           (int)(n - 7), s + 7),
                                  !json_object_get(params, key))) {
        *errmsg = cf_asprintf("template '{{ %.*s }}' names param '%.*s', "
                              "which the DAG's params do not define",
                              (int)n, s, (int)(n - 7), s + 7);
        return CF_EINVALID;
      }
    }
    return 0;
  }
  if (n > 4 && !memcmp(s, "env.", 4)) {
    if (!is_ident(s + 4, n - 4) || isdigit((unsigned char)s[4]))
      return unknown(s, n, errmsg);
    return 0;
  }
  return unknown(s, n, errmsg);
}

int cf_template_check(const char *text, const json_t *params, char **errmsg) {
  *errmsg = NULL;
  return walk(text, check_name, (void *)params, NULL, errmsg);
}

static int add_date(struct cf_buf *out, cf_date d, int nodash) {
  char s[11];
  cf_date_format(d, s);
  if (nodash) return cf_buf_addf(out, "%.4s%.2s%.2s", s, s + 5, s + 8);
  return cf_buf_adds(out, s);
}

static int render_name(const char *s, size_t n, void *data,
                       struct cf_buf *out, char **errmsg) {
  const struct cf_template_vars *v = data;
  int r = check_name(s, n, NULL, NULL, errmsg);
  if (r < 0) return r;
  int y, m, d;
  cf_date_to_ymd(v->ds, &y, &m, &d);
  if (name_is(s, n, "ds")) r = add_date(out, v->ds, 0);
  else if (name_is(s, n, "ds_nodash")) r = add_date(out, v->ds, 1);
  else if (name_is(s, n, "yyyy")) r = cf_buf_addf(out, "%04d", y);
  else if (name_is(s, n, "mm")) r = cf_buf_addf(out, "%02d", m);
  else if (name_is(s, n, "dd")) r = cf_buf_addf(out, "%02d", d);
  else if (name_is(s, n, "prev_ds")) r = add_date(out, v->prev_ds, 0);
  else if (name_is(s, n, "next_ds")) r = add_date(out, v->next_ds, 0);
  else if (name_is(s, n, "run_id") || name_is(s, n, "dag") ||
           name_is(s, n, "task")) {
    const char *val = name_is(s, n, "dag") ? v->dag
                      : name_is(s, n, "task") ? v->task : v->run_id;
    if (!val) {
      *errmsg = cf_asprintf("template '{{ %.*s }}' has no value here",
                            (int)n, s);
      return CF_EINVALID;
    }
    r = cf_buf_adds(out, val);
  } else if (!memcmp(s, "params.", 7)) {
    char key[256];
    json_t *p = NULL;
    if (n - 7 < sizeof key) {
      snprintf(key, sizeof key, "%.*s", (int)(n - 7), s + 7);
      p = v->params ? json_object_get(v->params, key) : NULL;
    }
    if (!p) {
      *errmsg = cf_asprintf("template '{{ %.*s }}': param '%.*s' is not "
                            "defined", (int)n, s, (int)(n - 7), s + 7);
      return CF_EINVALID;
    }
    if (json_is_string(p)) {
      r = cf_buf_add(out, json_string_value(p), json_string_length(p));
    } else {
      char *txt = json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY);
      if (!txt) goto nomem;
      r = cf_buf_adds(out, txt);
      free(txt);
    }
  } else {                                  /* env.NAME */
    char name[256];
    if (n - 4 >= sizeof name) return unknown(s, n, errmsg);
    snprintf(name, sizeof name, "%.*s", (int)(n - 4), s + 4);
    const char *val = getenv(name);
    if (!val) {
      *errmsg = cf_asprintf("template '{{ %.*s }}': environment variable "
                            "%s is not set", (int)n, s, name);
      return CF_EINVALID;
    }
    r = cf_buf_adds(out, val);
  }
  if (r < 0) goto nomem;
  return 0;
nomem:
  *errmsg = cf_strdup("out of memory");
  return CF_EINVALID;
}

int cf_template_render(const char *text, const struct cf_template_vars *v,
                       char **out, char **errmsg) {
  struct cf_buf b = CF_BUF_INIT(0);
  *errmsg = NULL;
  *out = NULL;
  int r = walk(text, render_name, (void *)v, &b, errmsg);
  if (r < 0) {
    cf_buf_release(&b);
    return r;
  }
  *out = cf_buf_detach(&b, NULL);
  if (!*out) {
    *errmsg = cf_strdup("out of memory");
    return CF_EINVALID;
  }
  return 0;
}

json_t *cf_template_render_json(const json_t *in,
                                const struct cf_template_vars *v,
                                char **errmsg) {
  *errmsg = NULL;
  if (json_is_string(in)) {
    char *s = NULL;
    if (cf_template_render(json_string_value(in), v, &s, errmsg) < 0)
      return NULL;
    json_t *r = json_string(s);
    cf_free(s);
    if (!r) *errmsg = cf_strdup("rendered text is not valid UTF-8");
    return r;
  }
  if (json_is_array(in)) {
    json_t *arr = json_array();
    size_t i;
    json_t *x;
    if (!arr) goto nomem;
    json_array_foreach(in, i, x) {
      json_t *y = cf_template_render_json(x, v, errmsg);
      if (!y || json_array_append_new(arr, y) < 0) {
        json_decref(arr);
        if (!*errmsg) goto nomem;
        return NULL;
      }
    }
    return arr;
  }
  if (json_is_object(in)) {
    json_t *obj = json_object();
    const char *k;
    json_t *x;
    if (!obj) goto nomem;
    json_object_foreach((json_t *)in, k, x) {
      json_t *y = cf_template_render_json(x, v, errmsg);
      if (!y || json_object_set_new(obj, k, y) < 0) {
        json_decref(obj);
        if (!*errmsg) goto nomem;
        return NULL;
      }
    }
    return obj;
  }
  return json_deep_copy(in);
nomem:
  *errmsg = cf_strdup("out of memory");
  return NULL;
}
