/* A small YAML node tree built from libyaml events, with hard limits, for
 * the DAG loader (internal to core/). Refuses anchors and aliases, several
 * documents and empty input; reports duplicate keys at any level. */
#ifndef COSTFLOW_YAML_TREE_H
#define COSTFLOW_YAML_TREE_H

#include <stddef.h>
#include "costflow/diag.h"

enum cf_ynode_type { CF_YSCALAR = 1, CF_YSEQ, CF_YMAP };

struct cf_ynode {
  enum cf_ynode_type type;
  int line, col;                /* 1-based, from the libyaml start mark */
  int plain;                    /* scalar written unquoted (may be a
                                   null, bool or number) */
  char *str;                    /* scalar text, NUL-terminated (owned) */
  size_t len;                   /* bytes in str (may hold NULs) */
  struct cf_ynode **kids;       /* SEQ: items; MAP: key, value, key, ... */
  size_t nkids;                 /* node count: a MAP has nkids / 2 pairs */
};

struct cf_ytree_limits {
  size_t max_depth;             /* 0 = 64 */
  size_t max_nodes;             /* 0 = 100000 */
};

/* Parses one YAML document from buf (which needs no NUL). Problems go to
 * diags as FILE:LINE:COL messages. A fatal problem (syntax, encoding,
 * limits, aliases, empty input, several documents) returns CF_EINVALID
 * with *out NULL; duplicate keys are reported but the tree is still
 * returned (0), so the caller can go on finding problems. Free *out with
 * cf__ytree_free. */
int cf__ytree_parse(const char *buf, size_t len, const char *file,
                    const struct cf_ytree_limits *lim, struct cf_ynode **out,
                    struct cf_diags *diags);
void cf__ytree_free(struct cf_ynode *n);

/* The value for `key` in MAP node `map`, or NULL (first one if repeated). */
struct cf_ynode *cf__ymap_get(const struct cf_ynode *map, const char *key);
/* Human name of a node's kind for messages: "a string", "a mapping",
 * "a list", "null", "a boolean", "an integer", "a number". */
const char *cf__ynode_kind(const struct cf_ynode *n);
/* 1 if a plain scalar reads as null / true-false / an integer. */
int cf__ynode_is_null(const struct cf_ynode *n);
int cf__ynode_is_bool(const struct cf_ynode *n, int *val);
int cf__ynode_is_int(const struct cf_ynode *n, long long *val);
int cf__ynode_is_float(const struct cf_ynode *n);

#endif
