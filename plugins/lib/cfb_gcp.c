/* GCP Cloud Billing export reader: the BigQuery export flattened to CSV
 * ("service.description", ...) or as JSON lines with nested objects. Each
 * credit becomes its own negative Credit row (BILLING_FORMATS.md 3). */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include "cfb.h"
#include "costflow/csv.h"

#define GCP_LINE_MAX (1024 * 1024)

/* A flat record: name/value pairs (CSV header + fields, or flattened
 * JSON object). */
struct rec {
  const char **name, **val;
  size_t n;
};

static const char *rget(const struct rec *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->name[i], name)) return r->val[i] ? r->val[i] : "";
  return "";
}

struct gcp_ctx {
  const struct cfb_src *src;
  cfb_emit_fn emit;
  cfb_reject_fn reject;
  void *ud;
  struct cfb_rowbuf rb;
  char reason[300];
};

static const char *charge_category(const char *cost_type) {
  if (!*cost_type || !strcmp(cost_type, "regular")) return "Usage";
  if (!strcmp(cost_type, "tax")) return "Tax";
  return "Adjustment";             /* adjustment, rounding_error, new */
}

/* labels "[{'key': 'k', 'value': 'v'}]" (or JSON) into obj. */
static int add_labels(json_t *obj, const char *text) {
  if (!*text || !strcmp(text, "[]")) return 0;
  char *q = cfb_json_quote_numbers(text);
  json_t *a = q ? json_loads(q, 0, NULL) : NULL;
  cf_free(q);
  if (!json_is_array(a)) {
    json_decref(a);
    return -1;
  }
  size_t i;
  json_t *e;
  json_array_foreach(a, i, e) {
    const char *k = json_string_value(json_object_get(e, "key"));
    json_t *v = json_object_get(e, "value");
    if (k && json_is_string(v)) json_object_set(obj, k, v);
  }
  json_decref(a);
  return 0;
}

/* Fills the columns shared by a cost row and its credit rows. */
static int common_cols(struct gcp_ctx *x, const struct rec *r, int64_t t0,
                       int64_t t1, const char *line_s) {
  struct cfb_rowbuf *rb = &x->rb;
  const char *svc = rget(r, "service.description");
  const char *region = rget(r, "location.region");
  if (!*region) region = rget(r, "location.location");
  const char *res = rget(r, "resource.global_name");
  if (!*res) res = rget(r, "resource.name");
  int e = 0;
  e |= cfb_rowbuf_set(rb, CFB_BillingAccountId, rget(r, "billing_account_id"));
  e |= cfb_rowbuf_set(rb, CFB_SubAccountId, rget(r, "project.id"));
  e |= cfb_rowbuf_set(rb, CFB_ProviderName, "Google Cloud");
  e |= cfb_rowbuf_set(rb, CFB_ServiceName, svc);
  e |= cfb_rowbuf_set(rb, CFB_ServiceCategory,
                      cfb_category(x->src->maps, CFB_GCP, svc));
  e |= cfb_rowbuf_set(rb, CFB_RegionId, region);
  e |= cfb_rowbuf_set(rb, CFB_ResourceId, res);
  e |= cfb_rowbuf_time(rb, CFB_ChargePeriodStart, t0);
  e |= cfb_rowbuf_time(rb, CFB_ChargePeriodEnd, t1);
  e |= cfb_rowbuf_set(rb, CFB_BillingCurrency, rget(r, "currency"));
  e |= cfb_rowbuf_set(rb, CFB_SkuId, rget(r, "sku.id"));
  e |= cfb_rowbuf_set(rb, CFB_x_SourceFileHash, x->src->sha256);
  e |= cfb_rowbuf_set(rb, CFB_x_SourceLine, line_s);
  e |= cfb_rowbuf_set(rb, CFB_x_IngestedAt, x->src->ingested_at);
  return e ? -ENOMEM : 0;
}

static int set_tags(struct cfb_rowbuf *rb, json_t *tags) {
  char *s = json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS);
  if (!s) return -ENOMEM;
  int r = cfb_rowbuf_set(rb, CFB_Tags, s);
  free(s);
  return r;
}

/* Maps one record and emits its rows. `ident` is the raw-row identity
 * text (hashed into x_LineItemId). Returns 0, or a callback's negative
 * value; rejects through the callback. */
static int map_rec(struct gcp_ctx *x, const struct rec *r, int64_t line,
                   const char *ident, size_t ident_len) {
  int ret = 0;
  json_t *labels = NULL, *credits = NULL;
  char *cq = NULL;
  const char *cost_s = rget(r, "cost");
  cf_dec cost, list, qty;
  if (cfb_dec_parse_round(cost_s, &cost) < 0) {
    snprintf(x->reason, sizeof x->reason, "non-numeric cost '%.200s'",
             cost_s);
    goto reject;
  }
  const char *ls = rget(r, "cost_at_list");
  if (!*ls || cfb_dec_parse_round(ls, &list) < 0) list = cost;
  int64_t t0, t1;
  const char *s0 = rget(r, "usage_start_time"), *s1 = rget(r, "usage_end_time");
  if (cfb_time_parse(s0, &t0) < 0 || (*s1 && cfb_time_parse(s1, &t1) < 0)) {
    snprintf(x->reason, sizeof x->reason, "invalid date '%.200s'",
             cfb_time_parse(s0, &t0) < 0 ? s0 : s1);
    goto reject;
  }
  if (!*s1) t1 = t0 + 3600;
  labels = json_object();
  if (!labels) return -ENOMEM;
  if (add_labels(labels, rget(r, "labels")) < 0) {
    snprintf(x->reason, sizeof x->reason, "invalid labels");
    goto reject;
  }
  const char *ct = rget(r, "credits");
  if (*ct && strcmp(ct, "[]")) {
    cq = cfb_json_quote_numbers(ct);
    credits = cq ? json_loads(cq, 0, NULL) : NULL;
    if (!json_is_array(credits)) {
      snprintf(x->reason, sizeof x->reason, "invalid credits '%.100s'", ct);
      goto reject;
    }
  }
  /* Validate every credit amount before emitting anything: a row is
   * either wholly accepted or wholly rejected. */
  size_t i;
  json_t *cr;
  json_array_foreach(credits, i, cr) {
    const char *a = json_string_value(json_object_get(cr, "amount"));
    cf_dec d;
    if (!a || cfb_dec_parse_round(a, &d) < 0) {
      snprintf(x->reason, sizeof x->reason, "non-numeric credit amount");
      goto reject;
    }
  }
  char hash[65], line_s[32], key[96];
  cf_sha256_mem(ident, ident_len, hash);
  snprintf(line_s, sizeof line_s, "%lld", (long long)line);
  struct cfb_rowbuf *rb = &x->rb;
  struct cfb_cost out;
  const char *cat = charge_category(rget(r, "cost_type"));
  cfb_rowbuf_reset(rb);
  if ((ret = common_cols(x, r, t0, t1, line_s)) < 0) goto done;
  int e = 0;
  e |= cfb_rowbuf_set(rb, CFB_ChargeCategory, cat);
  e |= cfb_rowbuf_dec(rb, CFB_BilledCost, cost);
  e |= cfb_rowbuf_dec(rb, CFB_EffectiveCost, cost);
  e |= cfb_rowbuf_dec(rb, CFB_ListCost, list);
  const char *qs = rget(r, "usage.amount");
  if (!strcmp(cat, "Usage") && *qs && cfb_dec_parse_round(qs, &qty) == 0) {
    e |= cfb_rowbuf_dec(rb, CFB_ConsumedQuantity, qty);
    e |= cfb_rowbuf_set(rb, CFB_ConsumedUnit, rget(r, "usage.unit"));
  }
  e |= set_tags(rb, labels);
  e |= cfb_rowbuf_set(rb, CFB_x_IsCredit, "false");
  e |= cfb_rowbuf_set(rb, CFB_x_LineItemId, hash);
  if (e) { ret = -ENOMEM; goto done; }
  cfb_rowbuf_finish(rb, &out);
  out.billed = cost;
  out.usage_date = (cf_date)(t0 >= 0 ? t0 / 86400 : (t0 - 86399) / 86400);
  out.billing_period = rget(r, "invoice.month");
  out.finalized = 0;
  out.line = line;
  if ((ret = x->emit(x->ud, &out)) < 0) goto done;
  json_array_foreach(credits, i, cr) {
    const char *a = json_string_value(json_object_get(cr, "amount"));
    const char *type = json_string_value(json_object_get(cr, "type"));
    const char *name = json_string_value(json_object_get(cr, "name"));
    cf_dec d;
    cfb_dec_parse_round(a, &d);
    json_t *t = json_deep_copy(labels);
    if (!t) { ret = -ENOMEM; goto done; }
    if (type) json_object_set_new(t, "gcp:credit_type", json_string(type));
    if (name) json_object_set_new(t, "gcp:credit_name", json_string(name));
    cfb_rowbuf_reset(rb);
    snprintf(key, sizeof key, "%s#credit%zu", hash, i);
    e = common_cols(x, r, t0, t1, line_s);
    e |= cfb_rowbuf_set(rb, CFB_ChargeCategory, "Credit");
    e |= cfb_rowbuf_dec(rb, CFB_BilledCost, d);
    e |= cfb_rowbuf_dec(rb, CFB_EffectiveCost, d);
    e |= cfb_rowbuf_dec(rb, CFB_ListCost, d);
    e |= set_tags(rb, t);
    e |= cfb_rowbuf_set(rb, CFB_x_IsCredit, "true");
    e |= cfb_rowbuf_set(rb, CFB_x_LineItemId, key);
    json_decref(t);
    if (e) { ret = -ENOMEM; goto done; }
    cfb_rowbuf_finish(rb, &out);
    out.billed = d;
    if ((ret = x->emit(x->ud, &out)) < 0) goto done;
  }
  goto done;
reject:
  ret = x->reject(x->ud, x->src->path, line, x->reason);
done:
  json_decref(labels);
  json_decref(credits);
  cf_free(cq);
  return ret;
}

static int read_csv(struct gcp_ctx *x) {
  struct cf_csv *c = NULL;
  char *err = NULL;
  int ret = 0;
  char **hdr = NULL;
  size_t nhdr = 0;
  struct cf_buf ident = CF_BUF_INIT(0);
  int r;
  if ((r = cf_csv_open(x->src->path, &c, &err)) < 0) {
    ret = x->reject(x->ud, x->src->path, 0, err ? err : "cannot open");
    if (ret >= 0 && r != CF_EDATA) ret = r;   /* unreadable, not refused */
    goto done;
  }
  const char **f;
  const size_t *l;
  size_t n;
  int64_t line;
  while ((r = cf_csv_next(c, &f, &l, &n, &line, &err)) != 0) {
    if (r < 0) {
      ret = x->reject(x->ud, x->src->path, line, err ? err : "read error");
      cf_free(err);
      err = NULL;
      if (ret >= 0 && r != CF_EDATA) ret = r;   /* the rest is unknown */
      if (ret < 0) goto done;
      continue;
    }
    if (!hdr) {
      if (!(hdr = cf_calloc(n, sizeof *hdr))) { ret = -ENOMEM; goto done; }
      for (nhdr = 0; nhdr < n; nhdr++)
        if (!(hdr[nhdr] = cf_strdup(f[nhdr]))) { ret = -ENOMEM; goto done; }
      int has_cost = 0, has_start = 0;
      for (size_t i = 0; i < n; i++) {
        has_cost |= !strcmp(f[i], "cost");
        has_start |= !strcmp(f[i], "usage_start_time");
      }
      if (!has_cost || !has_start) {
        ret = x->reject(x->ud, x->src->path, line,
                        "not a GCP export: no cost/usage_start_time column");
        goto done;
      }
      continue;
    }
    if (n != nhdr) {
      snprintf(x->reason, sizeof x->reason,
               "wrong column count (%zu, header has %zu)", n, nhdr);
      if ((ret = x->reject(x->ud, x->src->path, line, x->reason)) < 0)
        goto done;
      continue;
    }
    /* Identity: the row's name=value pairs, so a byte-identical repeat
     * hashes the same. */
    cf_buf_reset(&ident);
    for (size_t i = 0; i < n; i++) {
      cf_buf_adds(&ident, hdr[i]);
      cf_buf_addch(&ident, '=');
      cf_buf_add(&ident, f[i], l[i]);
      cf_buf_addch(&ident, '\x1f');
    }
    struct rec rc = {(const char **)hdr, f, n};
    if ((ret = map_rec(x, &rc, line, ident.buf, ident.len)) < 0) goto done;
  }
done:
  cf_free(err);
  cf_csv_close(c);
  for (size_t i = 0; hdr && i < nhdr; i++) cf_free(hdr[i]);
  cf_free(hdr);
  cf_buf_release(&ident);
  return ret;
}

/* Flattens obj into (name, value) pairs: nested objects become dotted
 * names, arrays stay JSON text. Strings live in `arena` (offsets). */
struct flat {
  struct cf_buf arena;
  size_t *noff, *voff;
  size_t n, cap;
};

static int flat_add(struct flat *fl, const char *name, const char *val) {
  if (fl->n == fl->cap) {
    size_t ca = fl->cap, cb = ca;
    if (cf_grow(&fl->noff, &ca, fl->n + 1, sizeof *fl->noff, 64) < 0 ||
        cf_grow(&fl->voff, &cb, fl->n + 1, sizeof *fl->voff, 64) < 0)
      return -ENOMEM;
    fl->cap = ca;                         /* the two grew alike */
  }
  fl->noff[fl->n] = fl->arena.len;
  if (cf_buf_add(&fl->arena, name, strlen(name) + 1) < 0) return -ENOMEM;
  fl->voff[fl->n] = fl->arena.len;
  if (cf_buf_add(&fl->arena, val, strlen(val) + 1) < 0) return -ENOMEM;
  fl->n++;
  return 0;
}

static int flatten(struct flat *fl, const char *prefix, json_t *obj) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    char name[512];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", k);
    int r = 0;
    if (json_is_object(v)) {
      r = flatten(fl, name, v);
    } else if (json_is_string(v)) {
      r = flat_add(fl, name, json_string_value(v));
    } else if (json_is_array(v)) {
      char *s = json_dumps(v, JSON_COMPACT);
      r = s ? flat_add(fl, name, s) : -ENOMEM;
      free(s);
    } else if (json_is_boolean(v)) {
      r = flat_add(fl, name, json_is_true(v) ? "true" : "false");
    } else {
      r = flat_add(fl, name, "");
    }
    if (r < 0) return r;
  }
  return 0;
}

/* Line source for JSON lines: plain read(2) or libarchive (.gz). */
struct lines {
  int fd;
  struct archive *ar;
  char chunk[65536];
  size_t len, pos;
  int eof;
  struct cf_buf line;
};

static int lines_fill(struct lines *ls) {
  ssize_t n;
  if (ls->ar) n = archive_read_data(ls->ar, ls->chunk, sizeof ls->chunk);
  else do n = read(ls->fd, ls->chunk, sizeof ls->chunk);
    while (n < 0 && errno == EINTR);
  if (n < 0) return -EIO;
  ls->len = (size_t)n;
  ls->pos = 0;
  if (n == 0) ls->eof = 1;
  return 0;
}

/* Next line into ls->line (without "\n"/"\r\n"). 1, 0 at end, CF_ETOOBIG
 * for an over-long line (skipped), or negative. */
static int lines_next(struct lines *ls) {
  int toobig = 0;
  cf_buf_reset(&ls->line);
  for (;;) {
    if (ls->pos == ls->len) {
      if (ls->eof) break;
      int r = lines_fill(ls);
      if (r < 0) return r;
      if (ls->eof) break;
    }
    char *s = ls->chunk + ls->pos;
    char *nl = memchr(s, '\n', ls->len - ls->pos);
    size_t take = nl ? (size_t)(nl - s) : ls->len - ls->pos;
    if (!toobig && ls->line.len + take > GCP_LINE_MAX) toobig = 1;
    if (!toobig && cf_buf_add(&ls->line, s, take) < 0) return -ENOMEM;
    ls->pos += take + (nl ? 1 : 0);
    if (nl) goto got;
  }
  if (ls->line.len == 0 && !toobig) return 0;
got:
  if (toobig) return CF_ETOOBIG;
  if (ls->line.len && ls->line.buf[ls->line.len - 1] == '\r')
    ls->line.buf[--ls->line.len] = '\0';
  return 1;
}

static int utf8_ok(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char b = s[i];
    size_t k;
    if (b < 0x80) { i++; continue; }
    if (b >= 0xC2 && b <= 0xDF) k = 1;
    else if (b >= 0xE0 && b <= 0xEF) k = 2;
    else if (b >= 0xF0 && b <= 0xF4) k = 3;
    else return 0;
    if (i + k >= n) return 0;
    for (size_t j = 1; j <= k; j++)
      if ((s[i + j] & 0xC0) != 0x80) return 0;
    i += k + 1;
  }
  return 1;
}

static int read_jsonl(struct gcp_ctx *x) {
  struct lines ls = {.fd = -1};
  struct flat fl = {.arena = CF_BUF_INIT(0)};
  const char **names = NULL, **vals = NULL;
  size_t cap = 0;
  int ret = 0;
  cf_buf_init(&ls.line, 0);
  size_t plen = strlen(x->src->path);
  if (plen > 3 && !strcasecmp(x->src->path + plen - 3, ".gz")) {
    ls.ar = archive_read_new();
    if (!ls.ar) return -ENOMEM;
    archive_read_support_filter_all(ls.ar);
    archive_read_support_format_raw(ls.ar);
    struct archive_entry *e;
    if (archive_read_open_filename(ls.ar, x->src->path, 65536) ||
        archive_read_next_header(ls.ar, &e)) {
      ret = x->reject(x->ud, x->src->path, 0, "cannot read gzip");
      if (ret >= 0) ret = -EIO;
      goto done;
    }
  } else if ((ls.fd = open(x->src->path, O_RDONLY | O_CLOEXEC)) < 0) {
    int e = -errno;
    ret = x->reject(x->ud, x->src->path, 0, strerror(errno));
    if (ret >= 0) ret = e;
    goto done;
  }
  for (int64_t line = 1;; line++) {
    int r = lines_next(&ls);
    if (r == 0) break;
    if (r == CF_ETOOBIG) {
      if ((ret = x->reject(x->ud, x->src->path, line, "line over 1 MiB")) < 0)
        goto done;
      continue;
    }
    if (r < 0) {                     /* e.g. a truncated .gz: stop */
      const char *why = ls.ar ? archive_error_string(ls.ar) : NULL;
      char reason[300];
      snprintf(reason, sizeof reason, "read error: %s",
               why ? why : cf_strerror(r));
      ret = x->reject(x->ud, x->src->path, line, reason);
      if (ret >= 0) ret = r;
      goto done;
    }
    const char *p = ls.line.buf;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) continue;
    if (line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    if (!utf8_ok((const unsigned char *)p, strlen(p))) {
      if ((ret = x->reject(x->ud, x->src->path, line, "invalid UTF-8")) < 0)
        goto done;
      continue;
    }
    char *q = cfb_json_quote_numbers(p);
    json_error_t jerr;
    json_t *o = q ? json_loads(q, 0, &jerr) : NULL;
    cf_free(q);
    if (!json_is_object(o)) {
      json_decref(o);
      if ((ret = x->reject(x->ud, x->src->path, line, "invalid JSON")) < 0)
        goto done;
      continue;
    }
    cf_buf_reset(&fl.arena);
    fl.n = 0;
    ret = flatten(&fl, "", o);
    json_decref(o);
    if (ret < 0) goto done;
    if (fl.n > cap) {
      cap = fl.cap;
      const char **a = cf_realloc(names, cap * sizeof *a);
      if (!a) { ret = -ENOMEM; goto done; }
      names = a;
      const char **b = cf_realloc(vals, cap * sizeof *b);
      if (!b) { ret = -ENOMEM; goto done; }
      vals = b;
    }
    for (size_t i = 0; i < fl.n; i++) {
      names[i] = fl.arena.buf + fl.noff[i];
      vals[i] = fl.arena.buf + fl.voff[i];
    }
    struct rec rc = {names, vals, fl.n};
    if ((ret = map_rec(x, &rc, line, p, strlen(p))) < 0) goto done;
  }
done:
  if (ls.fd >= 0) close(ls.fd);
  if (ls.ar) archive_read_free(ls.ar);
  cf_buf_release(&ls.line);
  cf_buf_release(&fl.arena);
  cf_free(fl.noff);
  cf_free(fl.voff);
  cf_free(names);
  cf_free(vals);
  return ret;
}

int cfb_gcp_read(const struct cfb_src *src, cfb_emit_fn emit,
                 cfb_reject_fn reject, void *ud) {
  struct gcp_ctx x = {.src = src, .emit = emit, .reject = reject, .ud = ud};
  cfb_rowbuf_init(&x.rb);
  const char *kind = cfb_file_kind(CFB_GCP, src->path);
  int ret = kind && !strcmp(kind, "gcp_jsonl") ? read_jsonl(&x)
                                                : read_csv(&x);
  cfb_rowbuf_release(&x.rb);
  return ret;
}
