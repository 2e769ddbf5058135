/* Reads one silver partition (docs/lake-format.md) and folds its rows to
 * the gold grain with exact decimal sums. Streams: memory is bounded by
 * the number of distinct groups of the day, not by the file; the result
 * keeps only the sorted rows' text. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "costflow/common.h"
#include "costflow/csv.h"
#include "costflow/decimal.h"
#include "gold_warehouse.h"

enum {
  C_BILLING, C_SUB, C_PROVIDER, C_SERVICE, C_CATEGORY, C_REGION,
  C_RESOURCE, C_CHARGE, C_START, C_BILLED, C_EFFECTIVE, C_LIST,
  C_CURRENCY, C_QTY, C_ISCREDIT, C_N
};
static const char *const col_names[C_N] = {
  "BillingAccountId", "SubAccountId", "ProviderName", "ServiceName",
  "ServiceCategory", "RegionId", "ResourceId", "ChargeCategory",
  "ChargePeriodStart", "BilledCost", "EffectiveCost", "ListCost",
  "BillingCurrency", "ConsumedQuantity", "x_IsCredit"};

/* The day's groups while its rows are folded. Silver rows come sorted by
 * account, provider, service, category, region, resource: a row's groups
 * are mostly those of the row before, so that is tried first. Resources
 * are nearly one group per row, so they are not looked up at all: a row
 * that does not continue the last group appends one, and duplicates are
 * folded once, after a sort that the row order makes cheap. */
struct fold {
  const char *date;
  struct cfb_groups *facts;     /* CFB_FK_* -> CFB_FV_* */
  struct cfb_groups *resources; /* CFB_RK_* -> CFB_RV_*, appended */
  size_t last_fact;             /* index + 1 of the last fact group */
};

void cfb_silver_scratch_init(struct cfb_silver_scratch *s) {
  cfb_groups_init(&s->facts, CFB_FK_N, CFB_FV_N);
  cfb_groups_init(&s->resources, CFB_RK_N, CFB_RV_N);
  cfb_row_text_init(&s->facts_text);
  cfb_row_text_init(&s->resources_text);
}

void cfb_silver_scratch_release(struct cfb_silver_scratch *s) {
  cfb_groups_release(&s->facts);
  cfb_groups_release(&s->resources);
  cfb_row_text_release(&s->facts_text);
  cfb_row_text_release(&s->resources_text);
}

void cfb_silver_scratch_give(struct cfb_silver_scratch *s,
                             struct cfb_silver_day *day) {
  cfb_row_text_release(&s->facts_text);
  cfb_row_text_release(&s->resources_text);
  s->facts_text = day->facts;
  s->resources_text = day->resources;
  cfb_row_text_init(&day->facts);
  cfb_row_text_init(&day->resources);
}

void cfb_silver_day_release(struct cfb_silver_day *day) {
  cfb_row_text_release(&day->facts);
  cfb_row_text_release(&day->resources);
}

/* Empty means zero only for optional columns. */
static int dec_field(const char *s, size_t n, int optional, cf_dec *out) {
  if (n == 0) {
    *out = CF_DEC_ZERO;
    return optional ? 0 : CF_EDATA;
  }
  return cf_dec_parse(s, n, out) < 0 ? CF_EDATA : 0;
}

/* Optional decimal field i, whose text is most often that of field
 * `like` (effective and list cost that equal the billed cost): the same
 * text is the same value, already parsed. */
static int same_dec(const char **f, const size_t *l, int i, int like,
                    cf_dec like_value, cf_dec *out) {
  if (l[i] && l[i] == l[like] && !memcmp(f[i], f[like], l[i])) {
    *out = like_value;
    return 0;
  }
  return dec_field(f[i], l[i], 1, out);
}

/* Maps header names to positions; CF_EDATA naming a missing column. */
static int map_header(const char *data, const char **f, size_t nf, int *pos,
                      char **errmsg) {
  for (int c = 0; c < C_N; c++) {
    pos[c] = -1;
    for (size_t i = 0; i < nf; i++)
      if (!strcmp(f[i], col_names[c])) pos[c] = (int)i;
    if (pos[c] < 0) {
      *errmsg = cf_asprintf("%s: silver header lacks column %s", data,
                            col_names[c]);
      return CF_EDATA;
    }
  }
  return 0;
}

/* Whether field i is exactly the literal s. */
static int field_is(const char **f, const size_t *l, int i, const char *s) {
  size_t n = strlen(s);
  return l[i] == n && !memcmp(f[i], s, n);
}

static int fold_row(struct fold *fo, const char **f,
                    const size_t *l, const int *pos, char **why) {
  cf_dec billed, effective, list, qty;
  const char *date = f[pos[C_START]];
  if (l[pos[C_START]] < 10 || memcmp(date, fo->date, 10)) {
    *why = cf_asprintf("ChargePeriodStart %s outside partition", date);
    return CF_EDATA;
  }
  if (dec_field(f[pos[C_BILLED]], l[pos[C_BILLED]], 0, &billed) ||
      same_dec(f, l, pos[C_EFFECTIVE], pos[C_BILLED], billed, &effective) ||
      same_dec(f, l, pos[C_LIST], pos[C_BILLED], billed, &list) ||
      dec_field(f[pos[C_QTY]], l[pos[C_QTY]], 1, &qty)) {
    *why = cf_asprintf("non-decimal cost or quantity");
    return CF_EDATA;
  }
  int credit = field_is(f, l, pos[C_ISCREDIT], "true") ||
               field_is(f, l, pos[C_CHARGE], "Credit");
  const char *fk[CFB_FK_N];
  size_t fl[CFB_FK_N];
  static const int fk_col[CFB_FK_N] = {C_PROVIDER, C_BILLING, C_SUB,
    C_SERVICE, C_CATEGORY, C_REGION, C_CURRENCY};
  for (int k = 0; k < CFB_FK_N; k++) {
    fk[k] = f[pos[fk_col[k]]];
    fl[k] = l[pos[fk_col[k]]];
  }
  struct cfb_group *g = fo->last_fact ? &fo->facts->v[fo->last_fact - 1]
                                      : NULL;
  if (!g || !cfb_groups_is(fo->facts, g, fk, fl)) {
    if (!(g = cfb_groups_get(fo->facts, fk, fl))) return -ENOMEM;
    fo->last_fact = (size_t)(g - fo->facts->v) + 1;
  }
  g->sums[CFB_FV_BILLED] = cf_dec_add(g->sums[CFB_FV_BILLED], billed);
  g->sums[CFB_FV_EFFECTIVE] =
      cf_dec_add(g->sums[CFB_FV_EFFECTIVE], effective);
  g->sums[CFB_FV_LIST] = cf_dec_add(g->sums[CFB_FV_LIST], list);
  if (credit)
    g->sums[CFB_FV_CREDIT] = cf_dec_add(g->sums[CFB_FV_CREDIT], billed);
  g->sums[CFB_FV_USAGE] = cf_dec_add(g->sums[CFB_FV_USAGE], qty);
  g->count++;

  /* Zombie input: only Usage rows of an identified resource. */
  if (!field_is(f, l, pos[C_CHARGE], "Usage") || l[pos[C_RESOURCE]] == 0)
    return 0;
  int acc = l[pos[C_SUB]] ? C_SUB : C_BILLING;
  const char *rk[CFB_RK_N] = {f[pos[C_PROVIDER]], f[pos[acc]],
                              f[pos[C_RESOURCE]], f[pos[C_SERVICE]]};
  size_t rl[CFB_RK_N] = {l[pos[C_PROVIDER]], l[pos[acc]],
                         l[pos[C_RESOURCE]], l[pos[C_SERVICE]]};
  struct cfb_groups *rg = fo->resources;
  struct cfb_group *r = rg->n ? &rg->v[rg->n - 1] : NULL;
  if ((!r || !cfb_groups_is(rg, r, rk, rl)) &&
      !(r = cfb_groups_append(rg, rk, rl)))
    return -ENOMEM;
  r->sums[CFB_RV_BILLED] = cf_dec_add(r->sums[CFB_RV_BILLED], billed);
  r->sums[CFB_RV_USAGE] = cf_dec_add(r->sums[CFB_RV_USAGE], qty);
  r->count++;
  return 0;
}

/* The hash runs a block ahead of the parser, so each block comes from
 * memory into the cache once, for the hash, and is parsed from the cache:
 * hashing the whole file first read it from memory twice. */
#define HASH_BLOCK (256 * 1024)

/* Hashes on until the hash is at least half a block past `at`. */
static void hash_ahead(const struct cf_mapped *m, struct cf_sha256 *sha,
                       size_t *done, size_t at) {
  while (*done < m->n && *done < at + HASH_BLOCK / 2) {
    size_t k = m->n - *done < HASH_BLOCK ? m->n - *done : HASH_BLOCK;
    cf_sha256_update(sha, (const char *)m->p + *done, k);
    *done += k;
  }
}

/* Resolves `current` once (hash and rows then come from the same
 * version): day->version, and the data file's path in *data. */
static int resolve_data(const char *silver_root, const char *date,
                        struct cfb_silver_day *day, char **data,
                        char **errmsg) {
  char target[PATH_MAX];
  char *link = cf_asprintf("%s/usage_date=%s/current", silver_root, date);
  if (!link) return -ENOMEM;
  ssize_t tn = readlink(link, target, sizeof target - 1);
  if (tn < 0) {
    int ret = errno == ENOENT ? CF_ENOTFOUND : -errno;
    *errmsg = cf_asprintf("%s: %s", link, cf_strerror(ret));
    cf_free(link);
    return ret;
  }
  cf_free(link);
  target[tn] = '\0';
  const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1
                                          : target;
  if (base[0] == 'v') day->version = strtoll(base + 1, NULL, 10);
  *data = target[0] == '/'
              ? cf_asprintf("%s/data.csv", target)
              : cf_asprintf("%s/usage_date=%s/%s/data.csv", silver_root,
                            date, target);
  return *data ? 0 : -ENOMEM;
}

/* Folds every record of the mapped file `data` and hashes it, the hash a
 * block ahead of the parser: day->rows and day->checksum. */
static int fold_records(struct fold *fo, const struct cf_mapped *map,
                        const char *data, struct cfb_silver_day *day,
                        char **errmsg) {
  struct cf_sha256 *sha = cf_sha256_new();
  struct cf_csv *csv = NULL;
  size_t hashed = 0, ncols = 0;
  int pos[C_N], ret = 0, have_header = 0;
  if (!sha || cf_csv_open_mem(map->p ? map->p : "", map->n, &csv) < 0) {
    ret = -ENOMEM;
    *errmsg = cf_asprintf("%s: %s", data, cf_strerror(ret));
    goto done;
  }
  for (;;) {
    const char **f;
    const size_t *l;
    size_t nf;
    int64_t line;
    char *why = NULL;
    hash_ahead(map, sha, &hashed, (size_t)cf_csv_tell(csv, NULL));
    int r = cf_csv_next(csv, &f, &l, &nf, &line, &why);
    if (r == 0) break;
    if (r < 0 || (have_header && nf <= 0)) {
      /* Silver was validated: a bad record here is a bug, never skip. */
      *errmsg = cf_asprintf("%s:%lld: %s", data, (long long)line,
                            why ? why : cf_strerror(r));
      cf_free(why);
      ret = r < 0 ? r : CF_EDATA;
      goto done;
    }
    if (!have_header) {
      if ((ret = map_header(data, f, nf, pos, errmsg)) < 0) goto done;
      have_header = 1;
      ncols = nf;
      continue;
    }
    if (nf != ncols) {
      *errmsg = cf_asprintf("%s:%lld: %zu fields, header has %zu", data,
                            (long long)line, nf, ncols);
      ret = CF_EDATA;
      goto done;
    }
    if ((ret = fold_row(fo, f, l, pos, &why)) < 0) {
      *errmsg = cf_asprintf("%s:%lld: %s", data, (long long)line,
                            why ? why : cf_strerror(ret));
      cf_free(why);
      goto done;
    }
    day->rows++;
  }
  hash_ahead(map, sha, &hashed, map->n);   /* all of it, at the end */
  ret = cf_sha256_end(sha, day->checksum);
  sha = NULL;
  if (ret < 0) {
    *errmsg = cf_asprintf("%s: %s", data, cf_strerror(ret));
    goto done;
  }
  if (!have_header) {
    *errmsg = cf_asprintf("%s: empty file (no header)", data);
    ret = CF_EDATA;
  }
done:
  if (csv) cf_csv_close(csv);
  cf_sha256_end(sha, NULL);
  return ret;
}

/* The partition's manifest (written and fsynced with data.csv when silver
 * published it) must record the sha256 and row count just read: a file
 * changed, cut at a line break or swapped since publishing is refused
 * before any of its rows reach the warehouse. */
static int check_manifest(const char *data, const struct cfb_silver_day *day,
                          char **errmsg) {
  size_t dir_len = strlen(data) - strlen("data.csv");
  char *path = cf_asprintf("%.*s_manifest.json", (int)dir_len, data);
  if (!path) return -ENOMEM;
  json_error_t jerr;
  json_t *m = json_load_file(path, 0, &jerr);
  const char *sum = json_string_value(json_object_get(m, "checksum"));
  json_t *rows = json_object_get(m, "row_count");
  int ret = 0;
  if (!sum || !json_is_integer(rows)) {
    *errmsg = cf_asprintf("%s: %s", path, m ? "no checksum or row_count"
                                            : jerr.text);
    ret = CF_EDATA;
  } else if (strcmp(sum, day->checksum) ||
             json_integer_value(rows) != day->rows) {
    *errmsg = cf_asprintf("%s: sha256 %s and %lld rows, but its manifest "
                          "records %s and %lld rows: the file changed "
                          "after it was published", data, day->checksum,
                          (long long)day->rows, sum,
                          (long long)json_integer_value(rows));
    ret = CF_EDATA;
  }
  json_decref(m);
  cf_free(path);
  return ret;
}

int cfb_silver_day_read(const char *silver_root, const char *date,
                        struct cfb_silver_scratch *scratch,
                        struct cfb_silver_day *day, char **errmsg) {
  char *data = NULL;
  struct cf_mapped map = {NULL, 0};
  struct cfb_silver_scratch own;
  struct cfb_silver_scratch *sc = scratch ? scratch : &own;
  struct fold fo = {day->date, &sc->facts, &sc->resources, 0};
  cf_date d;
  int ret;

  memset(day, 0, sizeof *day);
  if (scratch) {                  /* the day is built in spare row texts */
    day->facts = scratch->facts_text;
    day->resources = scratch->resources_text;
    cfb_row_text_init(&scratch->facts_text);
    cfb_row_text_init(&scratch->resources_text);
  } else {
    cfb_silver_scratch_init(&own);
  }
  if (cf_date_parse(date, &d) < 0) {
    *errmsg = cf_asprintf("bad usage date '%s'", date);
    ret = CF_EINVALID;
    goto done;
  }
  memcpy(day->date, date, 11);
  if ((ret = resolve_data(silver_root, date, day, &data, errmsg)) < 0)
    goto done;
  if ((ret = cf_map_file(data, &map)) < 0) {
    *errmsg = cf_asprintf("%s: %s", data, cf_strerror(ret));
    goto done;
  }
  if ((ret = fold_records(&fo, &map, data, day, errmsg)) < 0 ||
      (ret = check_manifest(data, day, errmsg)) < 0)
    goto done;
  cfb_groups_sort(fo.facts);
  cfb_groups_merge(fo.resources);
  if ((ret = cfb_row_text_build(&day->facts, fo.facts)) < 0 ||
      (ret = cfb_row_text_build(&day->resources, fo.resources)) < 0)
    *errmsg = cf_asprintf("%s: %s", data, cf_strerror(ret));
done:
  if (ret < 0) cfb_silver_day_release(day);
  if (scratch) {
    cfb_groups_reset(&scratch->facts);
    cfb_groups_reset(&scratch->resources);
  } else {
    cfb_silver_scratch_release(&own);
  }
  cf_unmap_file(&map);
  cf_free(data);
  return ret;
}
