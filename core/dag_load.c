/* DAG file loader: YAML tree -> validated struct cf_dag. Every problem is
 * collected into diags (FILE:LINE:COL of the offending node) so a user
 * fixes a file in one pass; a DAG with any problem is freed whole. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "costflow/cron.h"
#include "costflow/dag.h"
#include "costflow/plugin.h"
#include "yaml_tree.h"

#define DAG_MAX_FILE (1u << 20)
#define DAG_MAX_TASKS 10000
#define DAG_MAX_ID 128
#define DAG_MAX_CYCLES 10
#define DAG_HINT_BUDGET 2000000   /* caps "did you mean" work on a hostile
                                     file with thousands of bad deps */

/* Loader state; `tm` keeps per-task nodes for positions in later passes. */
struct tmeta {
  struct cf_ynode *key, *val, *plugin, *params, *deps;
  int skip;                     /* duplicate id: already reported */
};

struct ld {
  const char *file;
  struct cf_diags *diags;
  const struct cf_dag_load_opts *opts;
  struct cf_dag *dag;
  struct tmeta *tm;
  struct cf_ynode *pools_node;
  size_t *sorted;               /* task indexes sorted by id */
  size_t hint_work;             /* edit distances computed for dep hints */
  int oom;
};

static void err(struct ld *l, const struct cf_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(struct ld *l, const struct cf_ynode *n, const char *fmt, ...) {
  struct cf_buf b = CF_BUF_INIT(0);
  va_list ap;
  va_start(ap, fmt);
  cf_buf_vaddf(&b, fmt, ap);
  va_end(ap);
  size_t before = l->diags->n;
  cf_diags_add(l->diags, l->file, n ? n->line : 0, n ? n->col : 0, "%s",
               b.buf);
  /* A message lost to out-of-memory must still fail the load. */
  if (l->diags->n == before || !b.len) l->oom = 1;
  cf_buf_release(&b);
}

/* ---- small helpers ---------------------------------------------------- */

/* Optimal string alignment distance (Levenshtein plus transpositions). */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return (size_t)-1;
  size_t d[65][65];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      size_t v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[la][lb];
}

/* The closest candidate to `word`, or NULL if none is close enough. A
 * candidate that is a prefix of the word also counts (schedule_interval
 * -> schedule). */
static const char *suggest(const char *word, const char *const *cands,
                           size_t n) {
  const char *best = NULL;
  size_t bestd = (size_t)-1, wl = strlen(word);
  size_t limit = wl < 6 ? 1 : wl < 12 ? 2 : 3;
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(word, cands[i]);
    if (d <= limit && d < bestd) {
      best = cands[i];
      bestd = d;
    }
  }
  if (best) return best;
  for (size_t i = 0; i < n; i++) {
    size_t cl = strlen(cands[i]);
    if (cl >= 4 && cl < wl && !strncmp(word, cands[i], cl)) return cands[i];
  }
  return NULL;
}

static void err_unknown_key(struct ld *l, const struct cf_ynode *k,
                            const char *where, const char *const *known,
                            size_t n) {
  const char *hint = suggest(k->str, known, n);
  if (hint)
    err(l, k, "unknown key '%s'%s (did you mean '%s'?)", k->str, where, hint);
  else
    err(l, k, "unknown key '%s'%s", k->str, where);
}

static int in_list(const char *s, const char *const *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(s, v[i])) return 1;
  return 0;
}

static int valid_id(const char *s, size_t len) {
  if (len == 0 || len > DAG_MAX_ID || strlen(s) != len) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '_' ||
             (i > 0 && (c == '.' || c == '-'));
    if (!ok) return 0;
  }
  return 1;
}

static void err_bad_id(struct ld *l, const struct cf_ynode *n,
                       const char *what) {
  if (n->len > DAG_MAX_ID)
    err(l, n, "invalid %s '%.40s...': longer than %d characters", what,
        n->str, DAG_MAX_ID);
  else
    err(l, n, "invalid %s '%s': use letters, digits, '_', '.' and '-', "
        "starting with a letter, digit or '_'", what, n->str);
}

/* Scalar text for a string-valued key; reports and returns NULL if the
 * node is not a usable string. */
static const char *want_str(struct ld *l, const struct cf_ynode *n,
                            const char *key) {
  if (n->type != CF_YSCALAR || cf__ynode_is_null(n)) {
    err(l, n, "'%s' must be a string, got %s", key, cf__ynode_kind(n));
    return NULL;
  }
  if (strlen(n->str) != n->len) {
    err(l, n, "'%s' must not contain NUL characters", key);
    return NULL;
  }
  return n->str;
}

static int is_yaml11_bool(const struct cf_ynode *n) {
  static const char *const words[] = {
    "yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES",
    "NO", "ON", "OFF", "Y", "N", "True", "False", "TRUE", "FALSE"
  };
  return n->type == CF_YSCALAR && n->plain &&
         in_list(n->str, words, sizeof words / sizeof *words);
}

static void err_bool(struct ld *l, const struct cf_ynode *n,
                     const char *what) {
  if (is_yaml11_bool(n))
    err(l, n, "%s must be true or false, got '%s' (YAML 1.2: yes/no/on/off "
        "are strings; write true or false)", what, n->str);
  else
    err(l, n, "%s must be true or false, got %s", what, cf__ynode_kind(n));
}

static int want_bool(struct ld *l, const struct cf_ynode *n, const char *key,
                     int *out) {
  if (cf__ynode_is_bool(n, out)) return 0;
  char what[80];
  snprintf(what, sizeof what, "'%s'", key);
  err_bool(l, n, what);
  return -1;
}

static int want_int(struct ld *l, const struct cf_ynode *n, const char *key,
                    long long lo, long long hi, int *out) {
  long long v;
  if (!cf__ynode_is_int(n, &v)) {
    err(l, n, "'%s' must be an integer, got %s%s%s%s", key,
        cf__ynode_kind(n), n->type == CF_YSCALAR ? " '" : "",
        n->type == CF_YSCALAR ? n->str : "",
        n->type == CF_YSCALAR ? "'" : "");
    return -1;
  }
  if (v < lo || v > hi) {
    err(l, n, "'%s' must be between %lld and %lld, got %s", key, lo, hi,
        n->str);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static int want_duration(struct ld *l, const struct cf_ynode *n,
                         const char *key, int64_t *ms) {
  if (n->type == CF_YSCALAR && !cf__ynode_is_null(n) &&
      cf_duration_parse(n->str, ms) == 0)
    return 0;
  if (n->type == CF_YSCALAR)
    err(l, n, "'%s' must be a duration like 30s, 5m, 1h or 1h30m, got "
        "'%s'", key, n->str);
  else
    err(l, n, "'%s' must be a duration like 30s, 5m or 1h, got %s", key,
        cf__ynode_kind(n));
  return -1;
}

static int want_map(struct ld *l, const struct cf_ynode *n, const char *key) {
  if (n->type == CF_YMAP) return 0;
  err(l, n, "'%s' must be a mapping, got %s", key, cf__ynode_kind(n));
  return -1;
}

/* Generic YAML -> JSON: plain scalars become null/bool/int/real, the rest
 * strings. Depth is bounded by the tree's depth limit. */
static json_t *to_json(struct ld *l, const struct cf_ynode *n) {
  json_t *j = NULL;
  if (n->type == CF_YSCALAR) {
    long long iv;
    int bv;
    if (cf__ynode_is_null(n)) j = json_null();
    else if (cf__ynode_is_bool(n, &bv)) j = json_boolean(bv);
    else if (cf__ynode_is_int(n, &iv)) j = json_integer(iv);
    else if (cf__ynode_is_float(n)) j = json_real(strtod(n->str, NULL));
    else j = json_stringn(n->str, n->len);
  } else if (n->type == CF_YSEQ) {
    j = json_array();
    for (size_t i = 0; j && i < n->nkids; i++) {
      json_t *x = to_json(l, n->kids[i]);
      if (!x || json_array_append_new(j, x) < 0) {
        json_decref(j);
        j = NULL;
      }
    }
  } else {
    j = json_object();
    for (size_t i = 0; j && i + 1 < n->nkids; i += 2) {
      json_t *x = to_json(l, n->kids[i + 1]);
      if (!x || json_object_set_new(j, n->kids[i]->str, x) < 0) {
        json_decref(j);
        j = NULL;
      }
    }
  }
  if (!j) l->oom = 1;
  return j;
}

/* Every string anywhere under n must be a valid template. */
static void check_templates(struct ld *l, const struct cf_ynode *n,
                            const char *what) {
  if (n->type == CF_YSCALAR) {
    char *msg = NULL;
    if (strstr(n->str, "{{") || strstr(n->str, "}}")) {
      if (cf_template_check(n->str, l->dag->params, &msg) < 0)
        err(l, n, "%s: %s", what, msg ? msg : "bad template");
      cf_free(msg);
    }
    return;
  }
  for (size_t i = n->type == CF_YMAP ? 1 : 0; i < n->nkids;
       i += n->type == CF_YMAP ? 2 : 1)
    check_templates(l, n->kids[i], what);
}

/* ---- task policy (default_args and task keys) ------------------------- */

static const char *const rule_names[] = {
  "all_success", "all_done", "all_failed", "one_success", "one_failed",
  "none_failed", "always"
};

const char *cf_trigger_rule_name(enum cf_trigger_rule r) {
  if ((unsigned)r >= sizeof rule_names / sizeof *rule_names) return "?";
  return rule_names[r];
}

static const char *const policy_keys[] = {
  "retries", "retry_delay", "max_retry_delay", "retry_backoff", "timeout",
  "trigger_rule", "pool"
};
#define NPOLICY (sizeof policy_keys / sizeof *policy_keys)

static const char *const task_keys[] = {
  "plugin", "depends_on", "params", "retries", "retry_delay",
  "max_retry_delay", "retry_backoff", "timeout", "trigger_rule", "pool",
  "description"
};

/* Applies policy key `k` = v to t. Returns 1 if k is a policy key. */
static int apply_policy(struct ld *l, struct cf_task *t, const char *k,
                        const struct cf_ynode *v) {
  int64_t ms;
  if (!strcmp(k, "retries")) {
    want_int(l, v, k, 0, 100, &t->retries);
  } else if (!strcmp(k, "retry_delay")) {
    if (want_duration(l, v, k, &ms) == 0) t->retry_delay_ms = ms;
  } else if (!strcmp(k, "max_retry_delay")) {
    if (want_duration(l, v, k, &ms) == 0) t->max_retry_delay_ms = ms;
  } else if (!strcmp(k, "timeout")) {
    if (want_duration(l, v, k, &ms) == 0) t->timeout_ms = ms;
  } else if (!strcmp(k, "retry_backoff")) {
    const char *s = want_str(l, v, k);
    if (s && !strcmp(s, "fixed")) t->retry_exponential = 0;
    else if (s && !strcmp(s, "exponential")) t->retry_exponential = 1;
    else if (s)
      err(l, v, "'retry_backoff' must be 'fixed' or 'exponential', got '%s'",
          s);
  } else if (!strcmp(k, "trigger_rule")) {
    const char *s = want_str(l, v, k);
    size_t n = sizeof rule_names / sizeof *rule_names, i;
    for (i = 0; s && i < n; i++)
      if (!strcmp(s, rule_names[i])) break;
    if (s && i < n) {
      t->trigger_rule = (enum cf_trigger_rule)i;
    } else if (s) {
      const char *hint = suggest(s, rule_names, n);
      if (hint)
        err(l, v, "unknown trigger_rule '%s' (did you mean '%s'?)", s, hint);
      else
        err(l, v, "unknown trigger_rule '%s' (one of all_success, all_done, "
            "all_failed, one_success, one_failed, none_failed, always)", s);
    }
  } else if (!strcmp(k, "pool")) {
    const char *s = want_str(l, v, k);
    if (s && !(l->pools_node && cf__ymap_get(l->pools_node, s)))
      err(l, v, "pool '%s' is not declared in 'pools'", s);
    if (s) {
      cf_free(t->pool);
      if (!(t->pool = cf_strdup(s))) l->oom = 1;
    }
  } else {
    return 0;
  }
  return 1;
}

static void task_defaults(struct cf_task *t) {
  t->retries = 0;
  t->retry_delay_ms = 5 * 60 * 1000;
  t->retry_exponential = 0;
  t->max_retry_delay_ms = 60 * 60 * 1000;
  t->timeout_ms = 0;
  t->trigger_rule = CF_TRIGGER_ALL_SUCCESS;
  t->pool = NULL;
}

/* ---- top-level sections ----------------------------------------------- */

static void parse_date(struct ld *l, const struct cf_ynode *n,
                       const char *key, cf_date *out, int *has) {
  const char *s = want_str(l, n, key);
  if (!s) return;
  int shape = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
  for (int i = 0; shape && i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) shape = 0;
  if (!shape) {
    err(l, n, "'%s' must be a date YYYY-MM-DD, got '%s'", key, s);
    return;
  }
  if (cf_date_parse(s, out) == 0) {
    *has = 1;
    return;
  }
  int y = atoi(s), m = atoi(s + 5);
  if (m < 1 || m > 12)
    err(l, n, "impossible date '%s' for '%s': month %d", s, key, m);
  else
    err(l, n, "impossible date '%s' for '%s': %04d-%02d has %d days", s, key,
        y, m, cf_days_in_month(y, m));
}

static void parse_schedule(struct ld *l, const struct cf_ynode *n) {
  if (cf__ynode_is_null(n)) return;           /* manual / sensor only */
  const char *s = want_str(l, n, "schedule");
  if (!s) return;
  char *msg = NULL;
  if (cf_cron_parse(s, &l->dag->cron, &msg) < 0) {
    err(l, n, "invalid schedule '%s': %s", s, msg ? msg : "bad expression");
    cf_free(msg);
    l->dag->cron = NULL;
    return;
  }
  if (cf_cron_never_fires(l->dag->cron)) {
    err(l, n, "schedule '%s' never fires", s);
    return;
  }
  if (!(l->dag->schedule = cf_strdup(s))) l->oom = 1;
}

static void parse_timezone(struct ld *l, const struct cf_ynode *n) {
  const char *s = n ? want_str(l, n, "timezone") : "UTC";
  if (!s) return;
  int r = cf_tz_load(s, &l->dag->tz);
  if (r < 0) {
    l->dag->tz = NULL;
    if (r == CF_ENOTFOUND)
      err(l, n, "unknown time zone '%s' (use an IANA name such as UTC or "
          "Europe/London)", s);
    else
      err(l, n, "invalid time zone '%s' (use an IANA name such as UTC or "
          "Europe/London)", s);
    return;
  }
  if (!(l->dag->timezone = cf_strdup(s))) l->oom = 1;
}

static void parse_deadline(struct ld *l, const struct cf_ynode *n) {
  const char *s = want_str(l, n, "deadline");
  if (!s) return;
  int ok = strlen(s) == 5 && s[2] == ':';
  for (int i = 0; ok && i < 5; i++)
    if (i != 2 && (s[i] < '0' || s[i] > '9')) ok = 0;
  if (ok && (atoi(s) > 23 || atoi(s + 3) > 59)) ok = 0;
  if (!ok) {
    err(l, n, "'deadline' must be a time HH:MM (00:00 to 23:59), got '%s'",
        s);
    return;
  }
  if (!(l->dag->deadline = cf_strdup(s))) l->oom = 1;
}

static void parse_pools(struct ld *l, const struct cf_ynode *n) {
  if (want_map(l, n, "pools") < 0) return;
  l->pools_node = (struct cf_ynode *)n;
  if (!(l->dag->pools = json_object())) { l->oom = 1; return; }
  for (size_t i = 0; i + 1 < n->nkids; i += 2) {
    const struct cf_ynode *k = n->kids[i], *v = n->kids[i + 1];
    int slots;
    if (!valid_id(k->str, k->len)) {
      err_bad_id(l, k, "pool name");
      continue;
    }
    if (want_int(l, v, "pool size", 1, 1000000, &slots) < 0) continue;
    if (json_object_set_new(l->dag->pools, k->str, json_integer(slots)) < 0)
      l->oom = 1;
  }
}

static void parse_tags(struct ld *l, const struct cf_ynode *n) {
  if (n->type != CF_YSEQ) {
    err(l, n, "'tags' must be a list of strings, got %s", cf__ynode_kind(n));
    return;
  }
  for (size_t i = 0; i < n->nkids; i++)
    want_str(l, n->kids[i], "tags");
}

static void parse_trigger(struct ld *l, const struct cf_ynode *n) {
  static const char *const tkeys[] = {"file"};
  static const char *const fkeys[] = {"path", "settle", "marker"};
  if (want_map(l, n, "trigger") < 0) return;
  json_t *trig = json_object(), *file = NULL;
  if (!trig) { l->oom = 1; return; }
  l->dag->trigger = trig;
  for (size_t i = 0; i + 1 < n->nkids; i += 2) {
    const struct cf_ynode *k = n->kids[i], *v = n->kids[i + 1];
    if (strcmp(k->str, "file")) {
      err_unknown_key(l, k, " in 'trigger'", tkeys, 1);
      continue;
    }
    if (want_map(l, v, "trigger.file") < 0) continue;
    if (!(file = json_object()) ||
        json_object_set_new(trig, "file", file) < 0) {
      l->oom = 1;
      return;
    }
    for (size_t j = 0; j + 1 < v->nkids; j += 2) {
      const struct cf_ynode *fk = v->kids[j], *fv = v->kids[j + 1];
      const char *s;
      int64_t ms;
      if (!strcmp(fk->str, "path")) {
        if (!(s = want_str(l, fv, "trigger.file.path"))) continue;
        if (!*s) {
          err(l, fv, "'trigger.file.path' must not be empty");
          continue;
        }
        json_object_set_new(file, "path", json_string(s));
      } else if (!strcmp(fk->str, "settle")) {
        if (want_duration(l, fv, "trigger.file.settle", &ms) < 0) continue;
        json_object_set_new(file, "settle", json_string(fv->str));
        json_object_set_new(file, "settle_ms", json_integer(ms));
      } else if (!strcmp(fk->str, "marker")) {
        if (!(s = want_str(l, fv, "trigger.file.marker"))) continue;
        if (!*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..")) {
          err(l, fv, "'trigger.file.marker' must be a file name (no '/'), "
              "got '%s'", s);
          continue;
        }
        json_object_set_new(file, "marker", json_string(s));
      } else {
        err_unknown_key(l, fk, " in 'trigger.file'", fkeys, 3);
      }
    }
    if (!cf__ymap_get(v, "path"))
      err(l, k, "'trigger.file' needs a 'path' (a glob of files to watch)");
  }
}

static void parse_default_args(struct ld *l, const struct cf_ynode *n,
                               struct cf_task *defs) {
  if (want_map(l, n, "default_args") < 0) return;
  for (size_t i = 0; i + 1 < n->nkids; i += 2) {
    const struct cf_ynode *k = n->kids[i];
    if (!apply_policy(l, defs, k->str, n->kids[i + 1]))
      err_unknown_key(l, k, " in 'default_args'", policy_keys, NPOLICY);
  }
}

/* ---- tasks ------------------------------------------------------------ */

static int cmp_sorted_id(const void *a, const void *b, void *ctx) {
  const struct cf_dag *d = ctx;
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int c = strcmp(d->tasks[x].id, d->tasks[y].id);
  if (c) return c;
  return x < y ? -1 : x > y;
}

static long find_task(const struct ld *l, const char *id) {
  size_t lo = 0, hi = l->dag->ntasks;
  while (lo < hi) {               /* first match in sorted order */
    size_t mid = (lo + hi) / 2;
    if (strcmp(l->dag->tasks[l->sorted[mid]].id, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo < l->dag->ntasks && !strcmp(l->dag->tasks[l->sorted[lo]].id, id))
    return (long)l->sorted[lo];
  return -1;
}

static size_t nparams(const struct cf_plugin *p) {
  return p && p->params ? p->nparams : 0;
}

static const struct cf_param_spec *spec_find(const struct cf_plugin *p,
                                             const char *name) {
  for (size_t i = 0; i < nparams(p); i++)
    if (p->params[i].name && !strcmp(p->params[i].name, name))
      return &p->params[i];
  return NULL;
}

static const char *type_word(enum cf_param_type t) {
  switch (t) {
  case CF_PARAM_STRING: return "a string";
  case CF_PARAM_INT: return "an integer";
  case CF_PARAM_BOOL: return "true or false";
  case CF_PARAM_DURATION: return "a duration like 30s, 5m or 1h";
  case CF_PARAM_LIST: return "a list of scalars";
  case CF_PARAM_MAP: return "a mapping of key to scalar";
  default: return "any value";
  }
}

/* One task param checked against its spec and converted to JSON (NULL
 * after reporting a mismatch). Text with {{ is checked after rendering. */
static json_t *typed_param(struct ld *l, const struct cf_task *t,
                           const struct cf_param_spec *sp,
                           const struct cf_ynode *v) {
  int scalar = v->type == CF_YSCALAR && !cf__ynode_is_null(v);
  int tmpl = scalar && strstr(v->str, "{{") != NULL;
  int ok = 0;
  long long iv;
  int bv;
  int64_t ms;
  switch (sp->type) {
  case CF_PARAM_STRING:
    if (scalar) return json_stringn(v->str, v->len);
    break;
  case CF_PARAM_INT:
    if (tmpl) return json_stringn(v->str, v->len);
    if (cf__ynode_is_int(v, &iv)) return json_integer(iv);
    break;
  case CF_PARAM_BOOL:
    if (tmpl) return json_stringn(v->str, v->len);
    if (cf__ynode_is_bool(v, &bv)) return json_boolean(bv);
    if (is_yaml11_bool(v)) {
      char what[200];
      snprintf(what, sizeof what, "task '%s': param '%s'", t->id, sp->name);
      err_bool(l, v, what);
      return NULL;
    }
    break;
  case CF_PARAM_DURATION:
    if (tmpl || (scalar && cf_duration_parse(v->str, &ms) == 0))
      return json_stringn(v->str, v->len);
    break;
  case CF_PARAM_LIST:
    if (v->type == CF_YSEQ) {
      ok = 1;
      for (size_t i = 0; i < v->nkids; i++)
        if (v->kids[i]->type != CF_YSCALAR) {
          err(l, v->kids[i], "task '%s': param '%s' must be a list of "
              "scalars, item %zu is %s", t->id, sp->name, i + 1,
              cf__ynode_kind(v->kids[i]));
          ok = 0;
        }
      return ok ? to_json(l, v) : NULL;
    }
    break;
  case CF_PARAM_MAP:
    if (v->type == CF_YMAP) {
      ok = 1;
      for (size_t i = 1; i < v->nkids; i += 2)
        if (v->kids[i]->type != CF_YSCALAR) {
          err(l, v->kids[i], "task '%s': param '%s' must map keys to "
              "scalars, '%s' is %s", t->id, sp->name, v->kids[i - 1]->str,
              cf__ynode_kind(v->kids[i]));
          ok = 0;
        }
      return ok ? to_json(l, v) : NULL;
    }
    break;
  default:
    return to_json(l, v);
  }
  if (scalar)
    err(l, v, "task '%s': param '%s' must be %s, got %s '%s'", t->id,
        sp->name, type_word(sp->type), cf__ynode_kind(v), v->str);
  else
    err(l, v, "task '%s': param '%s' must be %s, got %s", t->id, sp->name,
        type_word(sp->type), cf__ynode_kind(v));
  return NULL;
}

/* A plugin default (text form) as JSON of the spec's type. */
static json_t *default_json(const struct cf_param_spec *sp) {
  const char *s = sp->default_value;
  char *end;
  switch (sp->type) {
  case CF_PARAM_INT: {
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) return json_integer(v);
    return json_string(s);
  }
  case CF_PARAM_BOOL:
    if (!strcmp(s, "true")) return json_true();
    if (!strcmp(s, "false")) return json_false();
    return json_string(s);
  case CF_PARAM_LIST:
  case CF_PARAM_MAP:
  case CF_PARAM_JSON: {
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(s);
  }
  default:
    return json_string(s);
  }
}

static void task_params(struct ld *l, struct cf_task *t, struct tmeta *m,
                        const struct cf_plugin *p) {
  const struct cf_ynode *pn = m->params;
  if (!(t->params = json_object())) { l->oom = 1; return; }
  if (pn && pn->type != CF_YMAP && !cf__ynode_is_null(pn)) {
    err(l, pn, "task '%s': 'params' must be a mapping, got %s", t->id,
        cf__ynode_kind(pn));
    pn = NULL;
  }
  if (pn && pn->type != CF_YMAP) pn = NULL;
  const char **names = NULL;
  if (nparams(p)) {
    names = cf_calloc(nparams(p), sizeof *names);
    if (!names) { l->oom = 1; return; }
    for (size_t i = 0; i < nparams(p); i++)
      names[i] = p->params[i].name ? p->params[i].name : "";
  }
  for (size_t i = 0; pn && i + 1 < pn->nkids; i += 2) {
    const struct cf_ynode *k = pn->kids[i], *v = pn->kids[i + 1];
    json_t *j;
    char what[200];
    snprintf(what, sizeof what, "task '%s': param '%s'", t->id, k->str);
    check_templates(l, v, what);
    if (p) {
      const struct cf_param_spec *sp = spec_find(p, k->str);
      if (!sp) {
        const char *hint = names ? suggest(k->str, names, nparams(p)) : NULL;
        if (hint)
          err(l, k, "task '%s': unknown param '%s' for plugin '%s' (did "
              "you mean '%s'?)", t->id, k->str, p->name, hint);
        else
          err(l, k, "task '%s': unknown param '%s' for plugin '%s'%s",
              t->id, k->str, p->name,
              nparams(p) ? "" : " (it takes no params)");
        continue;
      }
      j = typed_param(l, t, sp, v);
    } else {
      j = to_json(l, v);
    }
    if (j && json_object_set_new(t->params, k->str, j) < 0) l->oom = 1;
  }
  for (size_t i = 0; i < nparams(p); i++) {
    const struct cf_param_spec *sp = &p->params[i];
    if (!sp->name || (pn && cf__ymap_get(pn, sp->name))) continue;
    if (sp->required) {
      err(l, m->params ? m->params : m->key, "task '%s': missing required "
          "param '%s' for plugin '%s'", t->id, sp->name, p->name);
    } else if (sp->default_value) {
      json_t *j = default_json(sp);
      if (!j || json_object_set_new(t->params, sp->name, j) < 0) l->oom = 1;
    }
  }
  cf_free(names);
}

static void parse_task(struct ld *l, size_t idx, const struct cf_task *defs) {
  struct cf_task *t = &l->dag->tasks[idx];
  struct tmeta *m = &l->tm[idx];
  const struct cf_ynode *k = m->key, *v = m->val;
  *t = *defs;
  t->pool = NULL;
  t->line = k->line;
  t->col = k->col;
  if (!(t->id = cf_strdup(k->str)) ||
      (defs->pool && !(t->pool = cf_strdup(defs->pool)))) {
    l->oom = 1;
    return;
  }
  if (!valid_id(k->str, k->len)) err_bad_id(l, k, "task id");
  if (v->type != CF_YMAP) {
    err(l, v, "task '%s' must be a mapping with at least 'plugin', got %s",
        t->id, cf__ynode_kind(v));
    return;
  }
  for (size_t i = 0; i + 1 < v->nkids; i += 2) {
    const struct cf_ynode *kk = v->kids[i], *vv = v->kids[i + 1];
    const char *key = kk->str;
    if (!strcmp(key, "plugin")) {
      const char *s = want_str(l, vv, "plugin");
      if (s && !valid_id(s, vv->len)) err_bad_id(l, vv, "plugin name");
      else if (s) {
        m->plugin = (struct cf_ynode *)vv;
        cf_free(t->plugin);       /* a duplicate key (reported) repeats it */
        if (!(t->plugin = cf_strdup(s))) l->oom = 1;
      }
    } else if (!strcmp(key, "depends_on")) {
      if (vv->type != CF_YSEQ && !cf__ynode_is_null(vv)) {
        err(l, vv, "'depends_on' must be a list of task ids, got %s%s%s%s",
            cf__ynode_kind(vv), vv->type == CF_YSCALAR ? " (write [" : "",
            vv->type == CF_YSCALAR ? vv->str : "",
            vv->type == CF_YSCALAR ? "])" : "");
        continue;
      }
      m->deps = vv->type == CF_YSEQ ? (struct cf_ynode *)vv : NULL;
    } else if (!strcmp(key, "params")) {
      m->params = (struct cf_ynode *)vv;
    } else if (!strcmp(key, "description")) {
      want_str(l, vv, "description");
    } else if (!apply_policy(l, t, key, vv)) {
      char where[DAG_MAX_ID + 32];
      snprintf(where, sizeof where, " in task '%s'", t->id);
      err_unknown_key(l, kk, where, task_keys,
                      sizeof task_keys / sizeof *task_keys);
    }
  }
  if (!cf__ymap_get(v, "plugin"))
    err(l, k, "task '%s' has no 'plugin'", t->id);
}

/* depends_on names -> indexes; reports unknown, self and repeated deps. */
static void resolve_deps(struct ld *l) {
  struct cf_dag *d = l->dag;
  const char **ids = cf_malloc((d->ntasks ? d->ntasks : 1) * sizeof *ids);
  size_t *stamp = cf_calloc(d->ntasks ? d->ntasks : 1, sizeof *stamp);
  if (!ids || !stamp) { l->oom = 1; goto done; }
  for (size_t i = 0; i < d->ntasks; i++) ids[i] = d->tasks[i].id;
  for (size_t i = 0; i < d->ntasks; i++) {
    struct cf_task *t = &d->tasks[i];
    const struct cf_ynode *dn = l->tm[i].deps;
    if (!dn || l->tm[i].skip || !dn->nkids) continue;
    t->deps = cf_calloc(dn->nkids, sizeof *t->deps);
    t->dep_idx = cf_calloc(dn->nkids, sizeof *t->dep_idx);
    if (!t->deps || !t->dep_idx) { l->oom = 1; break; }
    for (size_t j = 0; j < dn->nkids; j++) {
      const struct cf_ynode *x = dn->kids[j];
      const char *s = want_str(l, x, "depends_on");
      if (!s) continue;
      long di = find_task(l, s);
      if (di < 0) {
        const char *hint = NULL;
        if ((l->hint_work += d->ntasks) < DAG_HINT_BUDGET)
          hint = suggest(s, ids, d->ntasks);
        if (hint)
          err(l, x, "task '%s' depends on unknown task '%s' (did you mean "
              "'%s'?)", t->id, s, hint);
        else
          err(l, x, "task '%s' depends on unknown task '%s'", t->id, s);
        continue;
      }
      if ((size_t)di == i) {
        err(l, x, "task '%s' depends on itself", t->id);
        continue;
      }
      if (stamp[di] == i + 1) {   /* O(1) per entry, even for 50k deps */
        err(l, x, "task '%s' lists '%s' twice in depends_on", t->id, s);
        continue;
      }
      stamp[di] = i + 1;
      if (!(t->deps[t->ndeps] = cf_strdup(s))) { l->oom = 1; break; }
      t->dep_idx[t->ndeps++] = (size_t)di;
    }
  }
done:
  cf_free(ids);
  cf_free(stamp);
}

/* Downstream lists, then Kahn's algorithm taking the ready task that comes
 * first in the file (a min-heap of indexes), so the order is stable. The
 * inverse (topo_pos) and the edge count are kept with the DAG: the
 * executor needs both at every run start. */
static int build_graph(struct ld *l, size_t **left_out, size_t *nleft) {
  struct cf_dag *d = l->dag;
  size_t n = d->ntasks, *indeg = NULL, *heap = NULL, nh = 0, nt = 0;
  int ret = -ENOMEM;
  *left_out = NULL;
  *nleft = 0;
  indeg = cf_calloc(n, sizeof *indeg);
  heap = cf_calloc(n, sizeof *heap);
  d->topo = cf_calloc(n, sizeof *d->topo);
  d->topo_pos = cf_calloc(n, sizeof *d->topo_pos);
  if (!indeg || !heap || !d->topo || !d->topo_pos) goto done;
  d->nedges = 0;
  for (size_t i = 0; i < n; i++) {
    d->nedges += d->tasks[i].ndeps;
    for (size_t j = 0; j < d->tasks[i].ndeps; j++)
      d->tasks[d->tasks[i].dep_idx[j]].ndown++;
  }
  for (size_t i = 0; i < n; i++) {
    struct cf_task *t = &d->tasks[i];
    if (t->ndown && !(t->down_idx = cf_calloc(t->ndown, sizeof(size_t))))
      goto done;
    t->ndown = 0;
  }
  for (size_t i = 0; i < n; i++) {
    indeg[i] = d->tasks[i].ndeps;
    for (size_t j = 0; j < d->tasks[i].ndeps; j++) {
      struct cf_task *u = &d->tasks[d->tasks[i].dep_idx[j]];
      u->down_idx[u->ndown++] = i;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (!indeg[i]) heap[nh++] = i;      /* increasing: already a heap */
  while (nh) {
    size_t top = heap[0];
    heap[0] = heap[--nh];
    for (size_t i = 0;;) {              /* sift down */
      size_t c = 2 * i + 1, s = i;
      if (c < nh && heap[c] < heap[s]) s = c;
      if (c + 1 < nh && heap[c + 1] < heap[s]) s = c + 1;
      if (s == i) break;
      size_t tmp = heap[i]; heap[i] = heap[s]; heap[s] = tmp;
      i = s;
    }
    d->topo_pos[top] = nt;
    d->topo[nt++] = top;
    struct cf_task *t = &d->tasks[top];
    for (size_t j = 0; j < t->ndown; j++) {
      size_t v = t->down_idx[j];
      if (--indeg[v]) continue;
      size_t i = nh++;                  /* sift up */
      heap[i] = v;
      while (i && heap[(i - 1) / 2] > heap[i]) {
        size_t p = (i - 1) / 2, tmp = heap[p];
        heap[p] = heap[i]; heap[i] = tmp;
        i = p;
      }
    }
  }
  if (nt < n) {                         /* what is left sits on/after cycles */
    size_t *left = cf_malloc((n - nt) * sizeof *left), k = 0;
    if (!left) goto done;
    for (size_t i = 0; i < n; i++)
      if (indeg[i]) left[k++] = i;
    *left_out = left;
    *nleft = k;
  }
  ret = 0;
done:
  cf_free(indeg);
  cf_free(heap);
  return ret;
}

/* Reports cycles among the tasks Kahn could not order: for each such task
 * in file order, the shortest path back to itself (BFS over downstream
 * edges). Arrows point downstream: "a -> b" means b depends on a. */
static void report_cycles(struct ld *l, const size_t *left, size_t nleft) {
  struct cf_dag *d = l->dag;
  size_t n = d->ntasks, reported = 0;
  long *prev = cf_malloc(n * sizeof *prev);
  size_t *queue = cf_malloc(n * sizeof *queue);
  char *in = cf_calloc(n, 1);            /* 1 left, 2 on a reported cycle */
  long budget = 4000000;                  /* total BFS steps: bounded time */
  if (!prev || !queue || !in) { l->oom = 1; goto done; }
  for (size_t i = 0; i < nleft; i++) in[left[i]] = 1;
  for (size_t s = 0; s < nleft && reported < DAG_MAX_CYCLES; s++) {
    size_t v = left[s], qh = 0, qt = 0;
    long last = -1;
    if (in[v] != 1 || budget <= 0) continue;
    budget -= (long)n;
    for (size_t i = 0; i < n; i++) prev[i] = -2;
    queue[qt++] = v;
    prev[v] = -1;
    while (qh < qt && last < 0 && budget-- > 0) {
      const struct cf_task *t = &d->tasks[queue[qh++]];
      for (size_t j = 0; j < t->ndown; j++) {
        size_t w = t->down_idx[j];
        if (!in[w]) continue;
        if (w == v) { last = (long)(t - d->tasks); break; }
        if (prev[w] != -2) continue;
        prev[w] = (long)(t - d->tasks);
        queue[qt++] = w;
      }
    }
    if (last < 0) continue;
    /* Walk back from `last` to v, then print forward. */
    size_t len = 0;
    for (long x = last; x >= 0; x = prev[x]) queue[len++] = (size_t)x;
    struct cf_buf b = CF_BUF_INIT(0);
    cf_buf_adds(&b, "cycle: ");
    for (size_t i = len; i-- > 0;) {
      cf_buf_addf(&b, "%s -> ", d->tasks[queue[i]].id);
      in[queue[i]] = 2;
    }
    cf_buf_adds(&b, d->tasks[v].id);
    /* Point at v's depends_on entry that closes the cycle. */
    const struct cf_ynode *at = l->tm[v].key;
    const struct cf_ynode *dn = l->tm[v].deps;
    for (size_t j = 0; dn && j < dn->nkids; j++)
      if (!strcmp(dn->kids[j]->str, d->tasks[last].id)) at = dn->kids[j];
    err(l, at, "%s", b.buf);
    cf_buf_release(&b);
    reported++;
  }
  if (!reported)
    err(l, l->tm[left[0]].key, "cycle among tasks including '%s'",
        d->tasks[left[0]].id);
done:
  cf_free(prev);
  cf_free(queue);
  cf_free(in);
}

static void parse_tasks(struct ld *l, const struct cf_ynode *n,
                        const struct cf_task *defs) {
  struct cf_dag *d = l->dag;
  if (n->type != CF_YMAP) {
    err(l, n, "'tasks' must be a mapping of task id to task, got %s",
        cf__ynode_kind(n));
    return;
  }
  size_t nt = n->nkids / 2;
  if (nt == 0) {
    err(l, n, "'tasks' is empty: a DAG needs at least one task");
    return;
  }
  if (nt > DAG_MAX_TASKS) {
    err(l, n, "too many tasks: %zu (limit %d)", nt, DAG_MAX_TASKS);
    return;
  }
  d->tasks = cf_calloc(nt, sizeof *d->tasks);
  l->tm = cf_calloc(nt, sizeof *l->tm);
  l->sorted = cf_calloc(nt, sizeof *l->sorted);
  if (!d->tasks || !l->tm || !l->sorted) { l->oom = 1; return; }
  d->ntasks = nt;
  for (size_t i = 0; i < nt; i++) {
    l->tm[i].key = n->kids[2 * i];
    l->tm[i].val = n->kids[2 * i + 1];
    parse_task(l, i, defs);
    if (l->oom) return;
    l->sorted[i] = i;
  }
  qsort_r(l->sorted, nt, sizeof *l->sorted, cmp_sorted_id, d);
  for (size_t i = 1; i < nt; i++)  /* repeated ids: reported as dup keys */
    if (!strcmp(d->tasks[l->sorted[i]].id, d->tasks[l->sorted[i - 1]].id))
      l->tm[l->sorted[i]].skip = 1;

  resolve_deps(l);
  if (l->oom) return;
  size_t *left = NULL, nleft = 0;
  if (build_graph(l, &left, &nleft) < 0) { l->oom = 1; return; }
  if (nleft) report_cycles(l, left, nleft);
  cf_free(left);

  /* Plugins and params. */
  for (size_t i = 0; i < nt; i++) {
    struct cf_task *t = &d->tasks[i];
    struct tmeta *m = &l->tm[i];
    const struct cf_plugin *p = NULL;
    if (m->skip || l->tm[i].val->type != CF_YMAP) continue;
    if (t->plugin && l->opts->lookup) {
      char *msg = NULL;
      p = l->opts->lookup(l->opts->lookup_data, t->plugin, &msg);
      if (!p)
        err(l, m->plugin, "%s", msg ? msg : "unknown plugin");
      cf_free(msg);
    }
    /* An unknown plugin leaves the params unchecked, still converted. */
    task_params(l, t, m, p);
    if (l->oom) return;
  }
}

/* ---- the loader ------------------------------------------------------- */

static const char *const top_keys[] = {
  "dag", "description", "schedule", "timezone", "start_date", "end_date",
  "catchup", "max_active_runs", "default_args", "params", "tasks",
  "trigger", "deadline", "pools", "tags"
};
#define NTOP (sizeof top_keys / sizeof *top_keys)

static void load_tree(struct ld *l, const struct cf_ynode *root) {
  struct cf_dag *d = l->dag;
  struct cf_task defs;
  const struct cf_ynode *v;
  memset(&defs, 0, sizeof defs);
  task_defaults(&defs);
  if (root->type != CF_YMAP) {
    struct cf_ynode top = *root;    /* an empty document: say line 1 */
    if (cf__ynode_is_null(root)) top.line = top.col = 1;
    err(l, &top, "the file must be a mapping with 'dag' and 'tasks' at the "
        "top level, got %s", cf__ynode_kind(root));
    return;
  }
  for (size_t i = 0; i + 1 < root->nkids; i += 2)
    if (!in_list(root->kids[i]->str, top_keys, NTOP))
      err_unknown_key(l, root->kids[i], "", top_keys, NTOP);

  if ((v = cf__ymap_get(root, "dag"))) {
    const char *s = want_str(l, v, "dag");
    if (s && !valid_id(s, v->len)) err_bad_id(l, v, "dag id");
    else if (s && !(d->id = cf_strdup(s))) l->oom = 1;
  } else {
    err(l, root, "missing required key 'dag' (the DAG's id)");
  }
  if ((v = cf__ymap_get(root, "description"))) {
    const char *s = want_str(l, v, "description");
    if (s && !(d->description = cf_strdup(s))) l->oom = 1;
  }
  if ((v = cf__ymap_get(root, "schedule"))) parse_schedule(l, v);
  parse_timezone(l, cf__ymap_get(root, "timezone"));
  if ((v = cf__ymap_get(root, "start_date")))
    parse_date(l, v, "start_date", &d->start_date, &d->has_start_date);
  if ((v = cf__ymap_get(root, "end_date")))
    parse_date(l, v, "end_date", &d->end_date, &d->has_end_date);
  if (d->has_start_date && d->has_end_date && d->end_date < d->start_date) {
    char a[11], b[11];
    cf_date_format(d->start_date, a);
    cf_date_format(d->end_date, b);
    err(l, v, "end_date %s is before start_date %s", b, a);
  }
  if ((v = cf__ymap_get(root, "catchup"))) want_bool(l, v, "catchup",
                                                     &d->catchup);
  if ((v = cf__ymap_get(root, "max_active_runs")))
    want_int(l, v, "max_active_runs", 1, 1000, &d->max_active_runs);
  if ((v = cf__ymap_get(root, "params")) && !cf__ynode_is_null(v)) {
    if (want_map(l, v, "params") == 0) {
      json_decref(d->params);
      d->params = to_json(l, v);
      if (d->params) check_templates(l, v, "params");
    }
  }
  if (l->oom) return;
  if ((v = cf__ymap_get(root, "pools"))) parse_pools(l, v);
  if ((v = cf__ymap_get(root, "default_args"))) parse_default_args(l, v,
                                                                   &defs);
  if ((v = cf__ymap_get(root, "trigger"))) parse_trigger(l, v);
  if ((v = cf__ymap_get(root, "deadline"))) parse_deadline(l, v);
  if ((v = cf__ymap_get(root, "tags"))) parse_tags(l, v);
  if ((v = cf__ymap_get(root, "tasks"))) parse_tasks(l, v, &defs);
  else err(l, root, "missing required key 'tasks'");
  cf_free(defs.pool);
}

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? cf_strndup(path, slash == path ? 1 : (size_t)(slash -
                                                               path))
                    : cf_strdup(".");
  if (!dir) return NULL;
  char *real = realpath(dir, NULL);    /* plugins may chdir: absolute */
  if (!real) return dir;
  cf_free(dir);
  char *r = cf_strdup(real);
  free(real);
  return r;
}

int cf_dag_load(const char *path, const struct cf_dag_load_opts *opts,
                struct cf_dag **out, struct cf_diags *diags) {
  static const struct cf_dag_load_opts no_opts;
  size_t max = opts && opts->max_file_size ? opts->max_file_size
                                           : DAG_MAX_FILE;
  struct cf_buf src = CF_BUF_INIT(max);
  struct cf_ynode *root = NULL;
  struct ld l;
  size_t before = diags->n;
  struct stat st;
  int ret = CF_EINVALID;

  memset(&l, 0, sizeof l);
  l.file = path;
  l.diags = diags;
  l.opts = opts ? opts : &no_opts;
  *out = NULL;
  /* Size cap before reading a byte. */
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
    cf_diags_add(diags, path, 0, 0, "file is %lld bytes, over the %zu-byte "
                 "limit for DAG files", (long long)st.st_size, max);
    return CF_ETOOBIG;
  }
  int r = cf_buf_read_file(&src, path);
  if (r < 0) {
    if (r == CF_ETOOBIG)
      cf_diags_add(diags, path, 0, 0, "file is over the %zu-byte limit for "
                   "DAG files", max);
    else
      cf_diags_add(diags, path, 0, 0, "cannot read: %s", cf_strerror(r));
    ret = r;
    goto done;
  }
  if (!(l.dag = cf_calloc(1, sizeof *l.dag))) { ret = -ENOMEM; goto done; }
  l.dag->max_active_runs = 16;
  cf_sha256_mem(src.buf, src.len, l.dag->sha256);
  if (!(l.dag->path = cf_strdup(path)) || !(l.dag->dir = dir_of(path)) ||
      !(l.dag->params = json_object())) {
    ret = -ENOMEM;
    goto done;
  }
  r = cf__ytree_parse(src.buf, src.len, path, NULL, &root, diags);
  if (r < 0) {
    ret = r == -ENOMEM ? r : CF_EINVALID;
    goto done;
  }
  load_tree(&l, root);
  if (l.oom) {
    cf_diags_add(diags, path, 0, 0, "out of memory");
    ret = -ENOMEM;
    goto done;
  }
  if (diags->n > before) goto done;
  *out = l.dag;
  l.dag = NULL;
  ret = 0;
done:
  cf_dag_free(l.dag);
  cf_free(l.tm);
  cf_free(l.sorted);
  cf__ytree_free(root);
  cf_buf_release(&src);
  return ret;
}

void cf_dag_free(struct cf_dag *dag) {
  if (!dag) return;
  for (size_t i = 0; i < dag->ntasks; i++) {
    struct cf_task *t = &dag->tasks[i];
    cf_free(t->id);
    cf_free(t->plugin);
    for (size_t j = 0; j < t->ndeps; j++) cf_free(t->deps[j]);
    cf_free(t->deps);
    cf_free(t->dep_idx);
    cf_free(t->down_idx);
    json_decref(t->params);
    cf_free(t->pool);
  }
  cf_free(dag->tasks);
  cf_free(dag->topo);
  cf_free(dag->topo_pos);
  cf_free(dag->id);
  cf_free(dag->description);
  cf_free(dag->path);
  cf_free(dag->dir);
  cf_free(dag->schedule);
  if (dag->cron) cf_cron_free(dag->cron);
  cf_free(dag->timezone);
  if (dag->tz) cf_tz_free(dag->tz);
  json_decref(dag->params);
  json_decref(dag->trigger);
  cf_free(dag->deadline);
  json_decref(dag->pools);
  cf_free(dag);
}

long cf_dag_task_index(const struct cf_dag *dag, const char *id) {
  for (size_t i = 0; i < dag->ntasks; i++)
    if (!strcmp(dag->tasks[i].id, id)) return (long)i;
  return -1;
}

/* ---- cf_dag_resolve --------------------------------------------------- */

static int has_yaml_ext(const char *name) {
  size_t n = strlen(name);
  return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
         (n > 4 && !strcmp(name + n - 4, ".yml"));
}

/* The `dag:` value of a file, parsed with the same limits (no full
 * validation), or NULL. */
static char *peek_dag_id(const char *path) {
  struct cf_buf src = CF_BUF_INIT(DAG_MAX_FILE);
  struct cf_diags dg = CF_DIAGS_INIT;
  struct cf_ynode *root = NULL, *v;
  char *id = NULL;
  if (cf_buf_read_file(&src, path) < 0) goto done;
  if (cf__ytree_parse(src.buf, src.len, path, NULL, &root, &dg) < 0)
    goto done;
  v = cf__ymap_get(root, "dag");
  if (v && v->type == CF_YSCALAR) id = cf_strdup(v->str);
done:
  cf__ytree_free(root);
  cf_diags_release(&dg);
  cf_buf_release(&src);
  return id;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int cf_dag_resolve(const char *dags_dir, const char *name_or_path,
                   char **path_out) {
  struct stat st;
  DIR *dir = NULL;
  char **names = NULL;
  size_t n = 0, alloc = 0;
  int ret = CF_ENOTFOUND;
  *path_out = NULL;
  if (has_yaml_ext(name_or_path) || strchr(name_or_path, '/')) {
    if (stat(name_or_path, &st) == 0 && S_ISREG(st.st_mode)) {
      *path_out = cf_strdup(name_or_path);
      return *path_out ? 0 : -ENOMEM;
    }
    if (strchr(name_or_path, '/')) return CF_ENOTFOUND;
  }
  if (!dags_dir || !(dir = opendir(dags_dir))) return CF_ENOTFOUND;
  struct dirent *e;
  while ((e = readdir(dir))) {      /* sorted below: first file wins */
    if (e->d_name[0] == '.' || !has_yaml_ext(e->d_name)) continue;
    if (n == alloc && cf_grow(&names, &alloc, n + 1, sizeof *names, 16) < 0) {
      ret = -ENOMEM;
      goto done;
    }
    if (!(names[n] = cf_asprintf("%s/%s", dags_dir, e->d_name))) {
      ret = -ENOMEM;
      goto done;
    }
    n++;
  }
  if (n) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n && ret == CF_ENOTFOUND; i++) {
    char *id = peek_dag_id(names[i]);
    if (id && !strcmp(id, name_or_path)) {
      *path_out = names[i];
      names[i] = NULL;
      ret = 0;
    }
    cf_free(id);
  }
done:
  for (size_t i = 0; i < n; i++) cf_free(names[i]);
  cf_free(names);
  if (dir) closedir(dir);
  return ret;
}
