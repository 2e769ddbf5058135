/* AWS Cost and Usage Report reader: legacy ("lineItem/UnblendedCost") and
 * CUR 2.0 ("line_item_unblended_cost") CSV, plain/.gz/.zip, mapped to the
 * unified row (BILLING_FORMATS.md 2.4). Columns are found by name: legacy
 * names are converted to their snake_case form, so one table serves both. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cfb.h"
#include "costflow/csv.h"

enum {
  A_LINE_ITEM_ID, A_TIME_INTERVAL, A_INVOICE_ID, A_PAYER, A_BP_START,
  A_USAGE_ACCOUNT, A_TYPE, A_START, A_END, A_PRODUCT_CODE, A_RESOURCE,
  A_USAGE_AMOUNT, A_CURRENCY, A_UNBLENDED, A_NET_UNBLENDED, A_AZ,
  A_PRODUCT_NAME, A_REGION_CODE, A_REGION, A_SKU, A_PRICING_UNIT,
  A_PUBLIC_COST, A_SP_EFFECTIVE, A_RI_EFFECTIVE, A_RI_UNUSED_UPFRONT,
  A_RI_UNUSED_RECURRING, A_SP_TOTAL_COMMIT, A_SP_USED_COMMIT, A_RI_ARN,
  A_TAGS_MAP, A_PRODUCT_MAP, A_NFIELDS
};
static const char *const aws_names[A_NFIELDS] = {
  "identity_line_item_id", "identity_time_interval", "bill_invoice_id",
  "bill_payer_account_id", "bill_billing_period_start_date",
  "line_item_usage_account_id", "line_item_line_item_type",
  "line_item_usage_start_date", "line_item_usage_end_date",
  "line_item_product_code", "line_item_resource_id",
  "line_item_usage_amount", "line_item_currency_code",
  "line_item_unblended_cost", "line_item_net_unblended_cost",
  "line_item_availability_zone", "product_product_name",
  "product_region_code", "product_region", "product_sku", "pricing_unit",
  "pricing_public_on_demand_cost", "savings_plan_savings_plan_effective_cost",
  "reservation_effective_cost",
  "reservation_unused_amortized_upfront_fee_for_billing_period",
  "reservation_unused_recurring_fee", "savings_plan_total_commitment_to_date",
  "savings_plan_used_commitment", "reservation_reservation_a_r_n",
  "resource_tags", "product",
};

/* "lineItem/UnblendedCost" -> "line_item_unblended_cost". */
static void snake(const char *in, char *out, size_t cap) {
  size_t n = 0;
  char prev = '/';
  for (; *in && n + 2 < cap; in++) {
    char c = *in;
    if (c == '/') c = '_';
    if (isupper((unsigned char)c)) {
      if (prev != '_' && prev != '/') out[n++] = '_';
      c = (char)tolower((unsigned char)c);
    }
    out[n++] = c;
    prev = *in == '/' ? '/' : c;
  }
  out[n] = '\0';
}

struct aws_hdr {
  int idx[A_NFIELDS];            /* column index or -1 */
  size_t ncols;
  int *tag_cols;                 /* resourceTags/... columns */
  char **tag_keys;
  size_t ntags;
  size_t *tag_order;             /* tags by (key, column): JSON key order */
};

static void hdr_release(struct aws_hdr *h) {
  for (size_t i = 0; i < h->ntags; i++) cf_free(h->tag_keys[i]);
  cf_free(h->tag_cols);
  cf_free(h->tag_keys);
  cf_free(h->tag_order);
}

/* Orders the tag columns by key (strcmp, as jansson's JSON_SORT_KEYS),
 * then by column, once per file. */
static int order_tags(struct aws_hdr *h) {
  if (!(h->tag_order = cf_calloc(h->ntags + 1, sizeof *h->tag_order)))
    return -ENOMEM;
  for (size_t i = 0; i < h->ntags; i++) {
    size_t j = i;
    for (; j > 0; j--) {
      size_t prev = h->tag_order[j - 1];
      if (strcmp(h->tag_keys[prev], h->tag_keys[i]) <= 0) break;
      h->tag_order[j] = prev;
    }
    h->tag_order[j] = i;
  }
  return 0;
}

static int hdr_build(struct aws_hdr *h, const char **f, size_t n) {
  for (int i = 0; i < A_NFIELDS; i++) h->idx[i] = -1;
  h->ncols = n;
  h->tag_cols = cf_calloc(n, sizeof *h->tag_cols);
  h->tag_keys = cf_calloc(n, sizeof *h->tag_keys);
  if (!h->tag_cols || !h->tag_keys) return -ENOMEM;
  char name[512];
  for (size_t c = 0; c < n; c++) {
    if (!strncmp(f[c], "resourceTags/", 13)) {
      /* user:team -> team; aws:createdBy keeps its prefix. */
      const char *k = f[c] + 13;
      if (!strncmp(k, "user:", 5)) k += 5;
      if (!(h->tag_keys[h->ntags] = cf_strdup(k))) return -ENOMEM;
      h->tag_cols[h->ntags++] = (int)c;
      continue;
    }
    snake(f[c], name, sizeof name);
    for (int i = 0; i < A_NFIELDS; i++)
      if (h->idx[i] < 0 && !strcmp(name, aws_names[i])) h->idx[i] = (int)c;
  }
  return order_tags(h);
}

static const char *get(const struct aws_hdr *h, const char **f, int which) {
  return h->idx[which] >= 0 ? f[h->idx[which]] : "";
}

/* Length of get()'s value, from the reader's field lengths. */
static size_t get_len(const struct aws_hdr *h, const size_t *l, int which) {
  return h->idx[which] >= 0 ? l[h->idx[which]] : 0;
}

/* ChargeCategory and x_IsCredit from lineItem/LineItemType. */
static const char *charge_category(const char *t, int *is_credit) {
  *is_credit = 0;
  if (!strcmp(t, "Usage") || !strcmp(t, "DiscountedUsage") ||
      !strcmp(t, "SavingsPlanCoveredUsage") ||
      !strcmp(t, "SavingsPlanNegation") || !*t)
    return "Usage";
  if (!strcmp(t, "Fee") || !strcmp(t, "RIFee") ||
      !strcmp(t, "SavingsPlanUpfrontFee") ||
      !strcmp(t, "SavingsPlanRecurringFee"))
    return "Purchase";
  if (!strcmp(t, "Tax")) return "Tax";
  /* DESIGN.md: credits and refunds are kept as negative Credit rows. */
  if (!strcmp(t, "Credit") || !strcmp(t, "Refund")) {
    *is_credit = 1;
    return "Credit";
  }
  return "Adjustment";       /* discounts and anything new */
}

static cf_dec opt_dec(const char *s, cf_dec fallback) {
  cf_dec d;
  return *s && cfb_dec_parse_round(s, &d) == 0 ? d : fallback;
}

/* EffectiveCost per the amortization rules of BILLING_FORMATS.md 2.4. */
static cf_dec effective_cost(const struct aws_hdr *h, const char **f,
                             const char *type, cf_dec unblended) {
  if (!strcmp(type, "Usage")) return unblended;    /* most rows */
  if (!strcmp(type, "SavingsPlanCoveredUsage"))
    return opt_dec(get(h, f, A_SP_EFFECTIVE), unblended);
  if (!strcmp(type, "DiscountedUsage"))
    return opt_dec(get(h, f, A_RI_EFFECTIVE), unblended);
  if (!strcmp(type, "SavingsPlanNegation") ||
      !strcmp(type, "SavingsPlanUpfrontFee") ||
      (!strcmp(type, "Fee") && *get(h, f, A_RI_ARN)))
    return CF_DEC_ZERO;
  if (!strcmp(type, "RIFee"))
    return cf_dec_add(opt_dec(get(h, f, A_RI_UNUSED_UPFRONT), CF_DEC_ZERO),
                      opt_dec(get(h, f, A_RI_UNUSED_RECURRING), CF_DEC_ZERO));
  if (!strcmp(type, "SavingsPlanRecurringFee"))
    return cf_dec_sub(opt_dec(get(h, f, A_SP_TOTAL_COMMIT), CF_DEC_ZERO),
                      opt_dec(get(h, f, A_SP_USED_COMMIT), CF_DEC_ZERO));
  return unblended;
}

/* cf_buf_addch without a call when there is room (per tag, per row). */
static int addch(struct cf_buf *b, char c) {
  if (b->len + 2 > b->alloc) return cf_buf_addch(b, c);
  b->buf[b->len++] = c;
  b->buf[b->len] = '\0';
  return 0;
}

/* jansson's escaping of a string (json_dumps): \" \\ \b \f \n \r \t,
 * other controls as \u00XX, everything else (UTF-8, '/') as is. The n
 * bytes of s are written straight into b, grown once for the worst case
 * (six bytes each, plus the quotes). */
static int json_escaped(struct cf_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  if (b->len + 6 * n + 3 > b->alloc) {
    int r = cf_buf_grow(b, 6 * n + 2);
    if (r < 0) return r;
  }
  char *o = b->buf + b->len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      *o++ = (char)c;
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\b': *o++ = 'b'; break;
    case '\f': *o++ = 'f'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    default:
      memcpy(o, "u00", 3);
      o[3] = hex[c >> 4];
      o[4] = hex[c & 15];
      o += 5;
    }
  }
  *o++ = '"';
  *o = '\0';
  b->len = (size_t)(o - b->buf);
  return 0;
}

/* Tags from resourceTags/ columns alone, byte for byte what the jansson
 * path below prints (keys sorted; of columns sharing a key the last
 * non-empty one wins), without building a JSON tree per row. */
static int column_tags_json(const struct aws_hdr *h, const char **f,
                            const size_t *l, struct cf_buf *out) {
  int r = addch(out, '{');
  size_t emitted = 0;
  for (size_t i = 0; i < h->ntags && !r;) {
    size_t j = i + 1;
    const char *key = h->tag_keys[h->tag_order[i]];
    while (j < h->ntags && !strcmp(h->tag_keys[h->tag_order[j]], key)) j++;
    size_t v = 0;                      /* column of the value, if any */
    for (size_t k = j; k > i && !v; k--) {
      size_t col = (size_t)h->tag_cols[h->tag_order[k - 1]];
      if (l[col]) v = col + 1;
    }
    if (v--) {
      if (emitted++) r = addch(out, ',');
      if (!r) r = json_escaped(out, key, strlen(key));
      if (!r) r = addch(out, ':');
      if (!r) r = json_escaped(out, f[v], l[v]);
    }
    i = j;
  }
  return r ? r : addch(out, '}');
}

/* Tags as compact JSON with sorted keys, into out (reset first; reused
 * row after row, so the common path allocates nothing). */
static int tags_json(const struct aws_hdr *h, const char **f,
                     const size_t *l, struct cf_buf *out) {
  const char *map = get(h, f, A_TAGS_MAP);
  cf_buf_reset(out);
  if (*map != '{')                     /* no CUR 2.0 tag map on this row */
    return column_tags_json(h, f, l, out);
  json_t *o = json_object();
  if (!o) return -ENOMEM;
  for (size_t i = 0; i < h->ntags; i++) {
    const char *v = f[h->tag_cols[i]];
    if (*v) json_object_set_new(o, h->tag_keys[i], json_string(v));
  }
  const char *m = get(h, f, A_TAGS_MAP);
  if (*m && *m == '{') {
    char *q = cfb_json_quote_numbers(m);
    json_t *t = q ? json_loads(q, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    if (json_is_object(t))
      json_object_foreach(t, k, v)
        if (json_is_string(v) && *json_string_value(v))
          json_object_set(o, k, v);
    json_decref(t);
    cf_free(q);
  }
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  int r = s ? cf_buf_adds(out, s) : -ENOMEM;
  free(s);                             /* jansson's malloc */
  return r;
}

/* CUR 2.0 has no product_product_name column: the name is the
 * "product_name" key of its `product` map (JSON text). Sets ServiceName
 * from it; 1 set, 0 not there, negative on allocation failure. */
static int product_map_name(struct cfb_rowbuf *rb, const char *map) {
  if (*map != '{' || !strstr(map, "\"product_name\"")) return 0;
  json_t *o = json_loads(map, 0, NULL);
  const char *name = json_string_value(json_object_get(o, "product_name"));
  int has = name && *name;             /* name dies with o */
  int r = has ? cfb_rowbuf_set(rb, CFB_ServiceName, name) : 0;
  json_decref(o);
  return r < 0 ? r : has;
}

/* Copies n bytes of s into out as a string, cut to cap - 1 bytes (what
 * snprintf(out, cap, "%.*s", n, s) does, without printf per row). */
static void copy_trunc(char *out, size_t cap, const char *s, size_t n) {
  if (n > cap - 1) n = cap - 1;
  memcpy(out, s, n);
  out[n] = '\0';
}

/* Region from product/regionCode, product/region, or the AZ ("us-east-1a"
 * -> "us-east-1"). */
static void region_of(const struct aws_hdr *h, const char **f, char *out,
                      size_t cap) {
  const char *r = get(h, f, A_REGION_CODE);
  if (!*r) r = get(h, f, A_REGION);
  size_t n = strlen(r);
  if (!n) {
    r = get(h, f, A_AZ);
    n = strlen(r);
    if (n > 1 && isalpha((unsigned char)r[n - 1]) &&
        isdigit((unsigned char)r[n - 2]))
      n--;
  }
  copy_trunc(out, cap, r, n);
}

/* "%lld" of a line number (never negative) without printf; returns
 * the length. */
static size_t fmt_line(char out[32], int64_t v) {
  char t[24];
  int n = 0;
  do t[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  for (int i = 0; i < n; i++) out[i] = t[n - 1 - i];
  out[n] = '\0';
  return (size_t)n;
}

struct aws_ctx {
  const struct cfb_src *src;
  const struct aws_hdr *h;
  size_t sha_len, ingested_len;  /* of src's per-file strings */
  struct cfb_rowbuf rb;
  char reason[300];
  char bp[11];                   /* billing period of the current row */
  struct cf_buf tags;            /* Tags JSON of the current row */
  size_t *cut;                   /* C-string lengths of a row with a NUL */
  size_t ncut;
};

/* The field lengths map_row may use: the reader's, unless a field holds a
 * NUL byte -- values are C strings, cut at the first NUL, as always. */
static const size_t *string_lens(struct aws_ctx *x, const struct cf_csv *c,
                                 const char **f, const size_t *l, size_t n) {
  if (!cf_csv_record_has_nul(c)) return l;
  if (n > x->ncut) {
    size_t *v = cf_realloc(x->cut, n * sizeof *v);
    if (!v) return NULL;
    x->cut = v;
    x->ncut = n;
  }
  for (size_t i = 0; i < n; i++) x->cut[i] = strlen(f[i]);
  return x->cut;
}

/* Maps one data record. Returns 1 emitted-ready, 0 rejected (reason set),
 * negative on allocation failure. */
static int map_row(struct aws_ctx *x, const char **f, const size_t *l,
                   size_t n, int64_t line, struct cfb_cost *out) {
  const struct aws_hdr *h = x->h;
  struct cfb_rowbuf *rb = &x->rb;
  if (n != h->ncols) {
    snprintf(x->reason, sizeof x->reason,
             "wrong column count (%zu, header has %zu)", n, h->ncols);
    return 0;
  }
  const char *type = get(h, f, A_TYPE);
  const char *cost_s = get(h, f, A_NET_UNBLENDED);
  if (!*cost_s) cost_s = get(h, f, A_UNBLENDED);
  cf_dec billed, unblended;
  if (cfb_dec_parse_round(cost_s, &billed) < 0 ||
      cfb_dec_parse_round(get(h, f, A_UNBLENDED), &unblended) < 0) {
    snprintf(x->reason, sizeof x->reason, "non-numeric cost '%.200s'",
             cost_s);
    return 0;
  }
  int64_t t0, t1;
  const char *s0 = get(h, f, A_START), *s1 = get(h, f, A_END);
  if (cfb_time_parse(s0, &t0) < 0 || (*s1 && cfb_time_parse(s1, &t1) < 0)) {
    snprintf(x->reason, sizeof x->reason, "invalid date '%.200s'",
             cfb_time_parse(s0, &t0) < 0 ? s0 : s1);
    return 0;
  }
  if (!*s1) t1 = t0 + 3600;
  int is_credit;
  const char *cat = charge_category(type, &is_credit);
  cf_dec eff = effective_cost(h, f, type, unblended);
  cf_dec list = opt_dec(get(h, f, A_PUBLIC_COST), billed);
  /* FOCUS EffectiveCost-C-010, ListCost-C-008: a credit or refund is
   * unrelated to other charges, so both equal BilledCost (its net cost;
   * CURs put publicOnDemandCost 0.0 on such lines). */
  if (is_credit) eff = list = billed;
  char region[128], num[32], key[600];
  region_of(h, f, region, sizeof region);
  const char *svc = get(h, f, A_PRODUCT_NAME);
  const char *code = get(h, f, A_PRODUCT_CODE);
  if (tags_json(h, f, l, &x->tags) < 0) return -ENOMEM;
  /* Identity: LineItemId|TimeInterval (the CUR dedupe key). */
  const char *lid = get(h, f, A_LINE_ITEM_ID);
  size_t key_len = 64;                     /* the sha256 below */
  if (*lid) {                    /* "%s|%s", cut to the key's size */
    const char *ti = get(h, f, A_TIME_INTERVAL);
    size_t ln = get_len(h, l, A_LINE_ITEM_ID);
    copy_trunc(key, sizeof key, lid, ln);
    if (ln < sizeof key - 1) {
      key[ln] = '|';
      copy_trunc(key + ln + 1, sizeof key - ln - 1, ti,
                 get_len(h, l, A_TIME_INTERVAL));
    }
    key_len = strnlen(key, sizeof key);
  } else {
    struct cf_buf raw = CF_BUF_INIT(0);
    for (size_t i = 0; i < n; i++) {
      cf_buf_add(&raw, f[i], strlen(f[i]));
      cf_buf_addch(&raw, '\x1f');
    }
    cf_sha256_mem(raw.buf, raw.len, key);
    cf_buf_release(&raw);
  }
  cfb_rowbuf_reset(rb);
  int r = 0;
  /* The reader's fields, the file's strings and the tags buffer outlive
   * the emit call: referenced, not copied. */
#define FIELD(col, which) \
  cfb_rowbuf_ref(rb, col, get(h, f, which), get_len(h, l, which))
  FIELD(CFB_BillingAccountId, A_PAYER);
  FIELD(CFB_SubAccountId, A_USAGE_ACCOUNT);
  cfb_rowbuf_ref(rb, CFB_ProviderName, "AWS", 3);
  int named = *svc ? 0 : product_map_name(rb, get(h, f, A_PRODUCT_MAP));
  if (named < 0) return -ENOMEM;
  if (!named) FIELD(CFB_ServiceName, *svc ? A_PRODUCT_NAME : A_PRODUCT_CODE);
  const char *sc = cfb_category_n(x->src->maps, CFB_AWS, code,
                                  get_len(h, l, A_PRODUCT_CODE));
  cfb_rowbuf_ref(rb, CFB_ServiceCategory, sc, strlen(sc));  /* table's */
  r |= cfb_rowbuf_set(rb, CFB_RegionId, region);
  FIELD(CFB_ResourceId, A_RESOURCE);
  r |= cfb_rowbuf_set(rb, CFB_ChargeCategory, cat);
  r |= cfb_rowbuf_time_text(rb, CFB_ChargePeriodStart, s0,
                            get_len(h, l, A_START), t0);
  r |= cfb_rowbuf_time_text(rb, CFB_ChargePeriodEnd, s1,
                            get_len(h, l, A_END), t1);
  r |= cfb_rowbuf_dec(rb, CFB_BilledCost, billed);
  r |= cfb_rowbuf_dec(rb, CFB_EffectiveCost, eff);
  r |= cfb_rowbuf_dec(rb, CFB_ListCost, list);
  if (h->idx[A_CURRENCY] >= 0) FIELD(CFB_BillingCurrency, A_CURRENCY);
  else cfb_rowbuf_ref(rb, CFB_BillingCurrency, "USD", 3);
  if (!strcmp(cat, "Usage")) {
    /* FOCUS: ConsumedQuantity only on Usage rows. */
    cf_dec q;
    const char *qs = get(h, f, A_USAGE_AMOUNT);
    if (*qs && cfb_dec_parse_round(qs, &q) == 0)
      r |= cfb_rowbuf_dec(rb, CFB_ConsumedQuantity, q);
    FIELD(CFB_ConsumedUnit, A_PRICING_UNIT);
  }
  FIELD(CFB_SkuId, A_SKU);
#undef FIELD
  cfb_rowbuf_ref(rb, CFB_Tags, x->tags.buf, x->tags.len);
  cfb_rowbuf_ref(rb, CFB_x_IsCredit, is_credit ? "true" : "false",
                 is_credit ? 4 : 5);
  r |= cfb_rowbuf_setn(rb, CFB_x_LineItemId, key, key_len);
  cfb_rowbuf_ref(rb, CFB_x_SourceFileHash, x->src->sha256, x->sha_len);
  r |= cfb_rowbuf_setn(rb, CFB_x_SourceLine, num, fmt_line(num, line));
  cfb_rowbuf_ref(rb, CFB_x_IngestedAt, x->src->ingested_at,
                 x->ingested_len);
  if (r) return -ENOMEM;
  cfb_rowbuf_finish(rb, out);
  out->billed = billed;
  out->usage_date = (cf_date)(t0 >= 0 ? t0 / 86400 : (t0 - 86399) / 86400);
  out->finalized = *get(h, f, A_INVOICE_ID) != '\0';
  out->line = line;
  /* Billing period: bill/BillingPeriodStartDate, else the usage month. */
  char *bp = x->bp;
  int64_t tb;
  int y, m, d;
  if (cfb_time_parse(get(h, f, A_BP_START), &tb) == 0) {
    cf_date_format((cf_date)(tb / 86400), bp);
  } else {
    cf_date_to_ymd(out->usage_date, &y, &m, &d);
    cf_date_format(cf_date_from_ymd(y, m, 1), bp);
  }
  out->billing_period = bp;
  return 1;
}

/* A CUR file whose header has been read. */
struct cfb_aws_file {
  struct cfb_src src;
  struct aws_hdr h;
  struct cf_csv *csv;            /* positioned after the header */
  int64_t data_offset, data_line;
};

void cfb_aws_close(struct cfb_aws_file *f) {
  if (!f) return;
  cf_csv_close(f->csv);
  hdr_release(&f->h);
  cf_free(f);
}

int cfb_aws_open(const struct cfb_src *src, cfb_reject_fn reject, void *ud,
                 struct cfb_aws_file **out) {
  struct cfb_aws_file *f = cf_calloc(1, sizeof *f);
  char *err = NULL, reason[300];
  int ret = 0;
  *out = NULL;
  if (!f) return -ENOMEM;
  f->src = *src;
  int r;
  if ((r = cf_csv_open(src->path, &f->csv, &err)) < 0) {
    ret = reject(ud, src->path, 0, err ? err : "cannot open");
    if (ret >= 0 && r != CF_EDATA) ret = r;   /* unreadable, not refused */
    goto fail;
  }
  const char **fl;
  const size_t *l;
  size_t n;
  int64_t line;
  while ((r = cf_csv_next(f->csv, &fl, &l, &n, &line, &err)) < 0) {
    ret = reject(ud, src->path, line, err ? err : cf_strerror(r));
    cf_free(err);
    err = NULL;
    if (ret >= 0 && r != CF_EDATA) ret = r;
    if (ret < 0) goto fail;
  }
  if (r == 0) goto fail;                           /* nothing at all */
  if ((ret = hdr_build(&f->h, fl, n)) < 0) goto fail;
  const char *miss = f->h.idx[A_UNBLENDED] < 0 ? "lineItem/UnblendedCost"
                     : f->h.idx[A_START] < 0   ? "lineItem/UsageStartDate"
                                               : NULL;
  if (miss) {
    snprintf(reason, sizeof reason, "not a CUR file: no %s column", miss);
    ret = reject(ud, src->path, line, reason);
    goto fail;
  }
  f->data_offset = cf_csv_tell(f->csv, &f->data_line);
  *out = f;
  return 0;
fail:
  cf_free(err);
  cfb_aws_close(f);
  return ret < 0 ? ret : 0;
}

int64_t cfb_aws_data_offset(const struct cfb_aws_file *f, int64_t *line) {
  *line = f->data_line;
  return f->data_offset;
}

/* Maps records from c until its end or the first record starting at or
 * past `end` (< 0: no limit). */
static int read_records(const struct cfb_aws_file *f, struct cf_csv *c,
                        int64_t end, cfb_emit_fn emit, cfb_reject_fn reject,
                        void *ud) {
  struct aws_ctx x = {.src = &f->src, .h = &f->h,
                      .sha_len = strlen(f->src.sha256),
                      .ingested_len = strlen(f->src.ingested_at)};
  char *err = NULL;
  int ret = 0, r;
  const char **fl;
  const size_t *l;
  size_t n;
  int64_t line;
  cfb_rowbuf_init(&x.rb);
  cf_buf_init(&x.tags, 0);
  while ((end < 0 || cf_csv_tell(c, NULL) < end) &&
         (r = cf_csv_next(c, &fl, &l, &n, &line, &err)) != 0) {
    if (r < 0) {
      ret = reject(ud, f->src.path, line, err ? err : cf_strerror(r));
      cf_free(err);
      err = NULL;
      if (ret >= 0 && r != CF_EDATA) ret = r;   /* the rest is unknown */
      if (ret < 0) break;
      continue;
    }
    struct cfb_cost row;
    const size_t *sl = string_lens(&x, c, fl, l, n);
    r = sl ? map_row(&x, fl, sl, n, line, &row) : -ENOMEM;
    if (r < 0) { ret = r; break; }
    ret = r ? emit(ud, &row) : reject(ud, f->src.path, line, x.reason);
    if (ret < 0) break;
  }
  cf_free(err);
  cfb_rowbuf_release(&x.rb);
  cf_buf_release(&x.tags);
  cf_free(x.cut);
  return ret;
}

int cfb_aws_read_rest(struct cfb_aws_file *f, cfb_emit_fn emit,
                      cfb_reject_fn reject, void *ud) {
  return read_records(f, f->csv, -1, emit, reject, ud);
}

int cfb_aws_read_range(const struct cfb_aws_file *f, int64_t start,
                       int64_t line, int64_t end, int64_t *next,
                       cfb_emit_fn emit, cfb_reject_fn reject, void *ud) {
  struct cf_csv *c;
  char *err = NULL;
  int ret = cf_csv_open_at(f->src.path, start, line, &c, &err);
  if (ret < 0) {
    ret = reject(ud, f->src.path, line, err ? err : cf_strerror(ret));
    cf_free(err);
    *next = -1;
    return ret < 0 ? ret : CF_EINVALID;
  }
  ret = read_records(f, c, end, emit, reject, ud);
  *next = cf_csv_tell(c, NULL);
  cf_csv_close(c);
  return ret;
}

int cfb_aws_read(const struct cfb_src *src, cfb_emit_fn emit,
                 cfb_reject_fn reject, void *ud) {
  struct cfb_aws_file *f;
  int ret = cfb_aws_open(src, reject, ud, &f);
  if (ret < 0 || !f) return ret;
  ret = cfb_aws_read_rest(f, emit, reject, ud);
  cfb_aws_close(f);
  return ret;
}
