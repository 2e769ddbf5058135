/* YAML -> node tree from libyaml events. Limits are enforced while the
 * events stream in, so a hostile file is refused before it costs memory:
 * no anchors or aliases at all (billion laughs, recursive aliases), a cap
 * on depth and on node count, one document only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "costflow/common.h"
#include "yaml_tree.h"

#define YT_DEFAULT_DEPTH 64
#define YT_DEFAULT_NODES 100000
#define YT_STR_TAG "tag:yaml.org,2002:str"
#define YT_SEQ_TAG "tag:yaml.org,2002:seq"
#define YT_MAP_TAG "tag:yaml.org,2002:map"

void cf__ytree_free(struct cf_ynode *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nkids; i++) cf__ytree_free(n->kids[i]);
  cf_free(n->kids);
  cf_free(n->str);
  cf_free(n);
}

static int add_kid(struct cf_ynode *p, struct cf_ynode *k) {
  if ((p->nkids & (p->nkids - 1)) == 0) {   /* 0, 1, 2, 4...: grow */
    size_t na = p->nkids ? p->nkids * 2 : 4;
    struct cf_ynode **v = cf_realloc(p->kids, na * sizeof *v);
    if (!v) return -ENOMEM;
    p->kids = v;
  }
  p->kids[p->nkids++] = k;
  return 0;
}

/* libyaml reader errors carry a byte offset, not a mark: turn it into a
 * line and a column counted in characters, as libyaml does. */
static void offset_to_pos(const char *buf, size_t len, size_t off, int *line,
                          int *col) {
  int l = 1, c = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    unsigned char ch = (unsigned char)buf[i];
    if (ch == '\n') { l++; c = 1; }
    else if ((ch & 0xC0) != 0x80) c++;
  }
  *line = l;
  *col = c;
}

/* Offset of the first byte that does not start a valid UTF-8 sequence
 * (no overlongs, surrogates or code points past U+10FFFF), or len. Done
 * here so the message points at the bad byte itself. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i], need, min;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xC2 && c <= 0xDF) { need = 1; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; min = 0x10000; }
    else return i;
    unsigned cp = c & (0x3F >> need);
    for (unsigned k = 1; k <= need; k++) {
      if (i + k >= len || (s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += need + 1;
  }
  return len;
}

static void parser_error(yaml_parser_t *p, const char *buf, size_t len,
                         const char *file, struct cf_diags *diags) {
  int line, col;
  const char *problem = p->problem ? p->problem : "unknown error";
  if (p->error == YAML_READER_ERROR) {
    offset_to_pos(buf, len, p->problem_offset, &line, &col);
    if (strstr(problem, "UTF-8") || strstr(problem, "Unicode"))
      cf_diags_add(diags, file, line, col,
                   "file is not valid UTF-8: %s (byte 0x%02x)", problem,
                   (unsigned)p->problem_value & 0xff);
    else
      cf_diags_add(diags, file, line, col, "%s (character 0x%02x)", problem,
                   (unsigned)p->problem_value);
    return;
  }
  if (p->error == YAML_MEMORY_ERROR) {
    cf_diags_add(diags, file, 0, 0, "out of memory while parsing YAML");
    return;
  }
  line = (int)p->problem_mark.line + 1;
  col = (int)p->problem_mark.column + 1;
  if (p->context)
    cf_diags_add(diags, file, line, col, "YAML syntax error: %s (%s)",
                 problem, p->context);
  else
    cf_diags_add(diags, file, line, col, "YAML syntax error: %s", problem);
}

static int keycmp(const struct cf_ynode *a, const struct cf_ynode *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->str, b->str, n);
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

/* qsort context: sort key indexes by (key text, position). */
static int cmp_keyref(const void *x, const void *y) {
  struct cf_ynode *const *a = x, *const *b = y;
  int c = keycmp(*a, *b);
  if (c) return c;
  if ((*a)->line != (*b)->line) return (*a)->line < (*b)->line ? -1 : 1;
  return (*a)->col < (*b)->col ? -1 : (*a)->col > (*b)->col;
}

/* Duplicate keys in one mapping, found by sorting (no O(n^2) on a hostile
 * 50k-key mapping). Every later copy is reported, pointing at the first. */
static int check_dups(const struct cf_ynode *map, const char *file,
                      struct cf_diags *diags) {
  size_t n = map->nkids / 2;
  if (n < 2) return 0;
  struct cf_ynode **keys = cf_malloc(n * sizeof *keys);
  if (!keys) return -ENOMEM;
  for (size_t i = 0; i < n; i++) keys[i] = map->kids[2 * i];
  qsort(keys, n, sizeof *keys, cmp_keyref);
  size_t first = 0;
  for (size_t i = 1; i < n; i++) {
    if (keycmp(keys[i], keys[first])) {
      first = i;
      continue;
    }
    size_t before = diags->n;
    cf_diags_add(diags, file, keys[i]->line, keys[i]->col,
                 "duplicate key '%s' (first defined at line %d)",
                 keys[i]->str, keys[first]->line);
    if (diags->n == before) {   /* lost to out-of-memory: fail instead */
      cf_free(keys);
      return -ENOMEM;
    }
  }
  cf_free(keys);
  return 0;
}

static struct cf_ynode *node_new(enum cf_ynode_type t, yaml_mark_t m) {
  struct cf_ynode *n = cf_calloc(1, sizeof *n);
  if (!n) return NULL;
  n->type = t;
  n->line = (int)m.line + 1;
  n->col = (int)m.column + 1;
  return n;
}

int cf__ytree_parse(const char *buf, size_t len, const char *file,
                    const struct cf_ytree_limits *lim, struct cf_ynode **out,
                    struct cf_diags *diags) {
  size_t max_depth = lim && lim->max_depth ? lim->max_depth
                                           : YT_DEFAULT_DEPTH;
  size_t max_nodes = lim && lim->max_nodes ? lim->max_nodes
                                           : YT_DEFAULT_NODES;
  yaml_parser_t parser;
  yaml_event_t ev;
  struct cf_ynode *root = NULL;
  struct cf_ynode **stack = NULL;   /* open containers */
  size_t depth = 0, nodes = 0, docs = 0;
  int ret = CF_EINVALID, have_event = 0, done = 0;

  *out = NULL;
  size_t bad = utf8_invalid_at((const unsigned char *)buf, len);
  if (bad < len) {
    int line, col;
    offset_to_pos(buf, len, bad, &line, &col);
    cf_diags_add(diags, file, line, col, "file is not valid UTF-8 (byte "
                 "0x%02x); DAG files must be UTF-8",
                 (unsigned char)buf[bad]);
    return CF_EINVALID;
  }
  if (!yaml_parser_initialize(&parser)) {
    cf_diags_add(diags, file, 0, 0, "out of memory");
    return -ENOMEM;
  }
  /* UTF-8 only: without this libyaml would also decode UTF-16. */
  yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  stack = cf_malloc((max_depth + 1) * sizeof *stack);
  if (!stack) { ret = -ENOMEM; goto done; }

  while (!done) {
    if (!yaml_parser_parse(&parser, &ev)) {
      parser_error(&parser, buf, len, file, diags);
      goto done;
    }
    have_event = 1;
    int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
    struct cf_ynode *n = NULL;
    const unsigned char *anchor = NULL, *tag = NULL;
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    case YAML_DOCUMENT_START_EVENT:
      if (++docs > 1) {
        cf_diags_add(diags, file, line, col,
                     "several YAML documents in one file (a DAG file holds "
                     "exactly one)");
        goto done;
      }
      break;
    case YAML_ALIAS_EVENT:
      cf_diags_add(diags, file, line, col,
                   "aliases/anchors are not allowed in DAG files");
      goto done;
    case YAML_SCALAR_EVENT:
      anchor = ev.data.scalar.anchor;
      tag = ev.data.scalar.tag;
      n = node_new(CF_YSCALAR, ev.start_mark);
      if (!n) break;
      n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
      n->str = cf_strndup((const char *)ev.data.scalar.value,
                          ev.data.scalar.length);
      n->len = ev.data.scalar.length;
      if (!n->str) { cf_free(n); n = NULL; }
      break;
    case YAML_SEQUENCE_START_EVENT:
      anchor = ev.data.sequence_start.anchor;
      tag = ev.data.sequence_start.tag;
      n = node_new(CF_YSEQ, ev.start_mark);
      break;
    case YAML_MAPPING_START_EVENT:
      anchor = ev.data.mapping_start.anchor;
      tag = ev.data.mapping_start.tag;
      n = node_new(CF_YMAP, ev.start_mark);
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
      struct cf_ynode *c = stack[--depth];
      if (c->type == CF_YMAP && check_dups(c, file, diags) < 0) {
        ret = -ENOMEM;
        goto done;
      }
      break;
    }
    default:
      break;
    }
    if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
        ev.type == YAML_MAPPING_START_EVENT) {
      if (!n) {
        cf_diags_add(diags, file, line, col, "out of memory");
        ret = -ENOMEM;
        goto done;
      }
      /* Attach first so that every error path below frees n. */
      if (depth == 0) {
        root = n;
      } else if (add_kid(stack[depth - 1], n) < 0) {
        cf__ytree_free(n);
        ret = -ENOMEM;
        goto done;
      }
      if (anchor) {
        cf_diags_add(diags, file, line, col,
                     "aliases/anchors are not allowed in DAG files");
        goto done;
      }
      if (tag) {
        const char *want = n->type == CF_YSCALAR ? YT_STR_TAG
                           : n->type == CF_YSEQ  ? YT_SEQ_TAG
                                                 : YT_MAP_TAG;
        if (strcmp((const char *)tag, want)) {
          cf_diags_add(diags, file, line, col,
                       "YAML tag '%s' is not allowed in DAG files",
                       (const char *)tag);
          goto done;
        }
        n->plain = 0;           /* !!str: a string, never a bool/int */
      }
      if (++nodes > max_nodes) {
        cf_diags_add(diags, file, line, col,
                     "too many YAML nodes (limit %zu)", max_nodes);
        goto done;
      }
      if (n->type == CF_YMAP && depth > 0 &&
          stack[depth - 1]->type == CF_YMAP &&
          stack[depth - 1]->nkids % 2 == 1) {
        cf_diags_add(diags, file, line, col,
                     "mapping keys must be plain strings, not a mapping");
        goto done;
      }
      if (n->type == CF_YSEQ && depth > 0 &&
          stack[depth - 1]->type == CF_YMAP &&
          stack[depth - 1]->nkids % 2 == 1) {
        cf_diags_add(diags, file, line, col,
                     "mapping keys must be plain strings, not a list");
        goto done;
      }
      if (n->type != CF_YSCALAR) {
        if (depth >= max_depth) {
          cf_diags_add(diags, file, line, col,
                       "nesting deeper than %zu levels", max_depth);
          goto done;
        }
        stack[depth++] = n;
      }
    }
    yaml_event_delete(&ev);
    have_event = 0;
  }
  if (!root) {
    cf_diags_add(diags, file, 1, 1,
                 "empty file: expected a mapping with 'dag' and 'tasks'");
    goto done;
  }
  *out = root;
  root = NULL;
  ret = 0;
done:
  if (have_event) yaml_event_delete(&ev);
  cf__ytree_free(root);
  cf_free(stack);
  yaml_parser_delete(&parser);
  return ret;
}

struct cf_ynode *cf__ymap_get(const struct cf_ynode *map, const char *key) {
  if (!map || map->type != CF_YMAP) return NULL;
  size_t kl = strlen(key);
  for (size_t i = 0; i + 1 < map->nkids; i += 2) {
    const struct cf_ynode *k = map->kids[i];
    if (k->len == kl && !memcmp(k->str, key, kl)) return map->kids[i + 1];
  }
  return NULL;
}

int cf__ynode_is_null(const struct cf_ynode *n) {
  if (n->type != CF_YSCALAR || !n->plain) return 0;
  return n->len == 0 || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
         !strcmp(n->str, "Null") || !strcmp(n->str, "NULL");
}

int cf__ynode_is_bool(const struct cf_ynode *n, int *val) {
  if (n->type != CF_YSCALAR || !n->plain) return 0;
  if (!strcmp(n->str, "true")) { if (val) *val = 1; return 1; }
  if (!strcmp(n->str, "false")) { if (val) *val = 0; return 1; }
  return 0;
}

int cf__ynode_is_int(const struct cf_ynode *n, long long *val) {
  if (n->type != CF_YSCALAR || !n->plain || n->len == 0) return 0;
  const char *p = n->str;
  if (*p == '-' || *p == '+') p++;
  if (!*p) return 0;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') return 0;
  if ((size_t)(p - n->str) + strlen(p) != n->len) return 0;
  errno = 0;
  long long v = strtoll(n->str, NULL, 10);
  if (errno == ERANGE) v = n->str[0] == '-' ? -9223372036854775807LL - 1
                                            : 9223372036854775807LL;
  if (val) *val = v;
  return 1;
}

int cf__ynode_is_float(const struct cf_ynode *n) {
  if (n->type != CF_YSCALAR || !n->plain || n->len == 0) return 0;
  if (cf__ynode_is_int(n, NULL)) return 0;
  const char *p = n->str;
  int digits = 0;
  if (*p == '-' || *p == '+') p++;
  while (*p >= '0' && *p <= '9') { p++; digits++; }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') { p++; digits++; }
  }
  if (!digits) return 0;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '-' || *p == '+') p++;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
  }
  return *p == '\0' && (size_t)(p - n->str) == n->len;
}

const char *cf__ynode_kind(const struct cf_ynode *n) {
  if (n->type == CF_YMAP) return "a mapping";
  if (n->type == CF_YSEQ) return "a list";
  if (cf__ynode_is_null(n)) return "null";
  if (cf__ynode_is_bool(n, NULL)) return "a boolean";
  if (cf__ynode_is_int(n, NULL)) return "an integer";
  if (cf__ynode_is_float(n)) return "a number";
  return "a string";
}
