/* cfbilling ingest side: the unified (FOCUS-named) cost row, provider
 * readers (AWS CUR legacy / 2.0, GCP CSV / JSON lines), rejects, and the
 * small text helpers they share. Partition publishing is cfb_partition.h;
 * bronze/silver lake logic is cfb_lake.h. Nothing here uses double. */
#ifndef CFB_H
#define CFB_H

#include <stdint.h>
#include <stdio.h>
#include "costflow/common.h"
#include "costflow/decimal.h"

/* Silver columns, in docs/lake-format.md order. */
#define CFB_COLS(X)                                                    \
  X(BillingAccountId) X(SubAccountId) X(ProviderName) X(ServiceName)   \
  X(ServiceCategory) X(RegionId) X(ResourceId) X(ChargeCategory)       \
  X(ChargePeriodStart) X(ChargePeriodEnd) X(BilledCost)                \
  X(EffectiveCost) X(ListCost) X(BillingCurrency) X(ConsumedQuantity)  \
  X(ConsumedUnit) X(SkuId) X(Tags) X(x_IsCredit) X(x_LineItemId)       \
  X(x_SourceFileHash) X(x_SourceLine) X(x_IngestedAt)
#define CFB__COL_ENUM(n) CFB_##n,
enum cfb_col { CFB_COLS(CFB__COL_ENUM) CFB_NCOLS };
#undef CFB__COL_ENUM

extern const char *const cfb_col_names[CFB_NCOLS];
/* The silver header line, "\n"-terminated. */
extern const char cfb_header_line[];

enum cfb_provider { CFB_AWS = 1, CFB_GCP = 2 };
const char *cfb_provider_name(enum cfb_provider p);       /* "aws"/"gcp" */

/* One normalized row as handed to a reader's callback. Strings are valid
 * only during the callback. */
struct cfb_cost {
  const char *col[CFB_NCOLS];
  size_t len[CFB_NCOLS];         /* strlen(col[i]), known without a scan */
  cf_dec billed;                 /* BilledCost, parsed */
  cf_date usage_date;            /* UTC day of ChargePeriodStart */
  const char *billing_period;    /* AWS: YYYY-MM-DD of period start, or "" */
  int finalized;                 /* AWS: bill/InvoiceId set */
  int64_t line;                  /* x_SourceLine, as a number */
};

/* Category lookup (cfb_category.c): product code / service name -> FOCUS
 * ServiceCategory. A built-in table covers common services;
 * `cfb_maps_load` adds rows from a two-column CSV (key,category; header
 * skipped) that override it, the last row of a key winning. Keys are
 * hashed, so a lookup per row is cheap. Load before reading: once loaded,
 * one cfb_maps serves reader threads concurrently (lookups only read; m
 * may be NULL: the built-ins alone). */
struct cfb_maps;
struct cfb_maps *cfb_maps_new(void);
int  cfb_maps_load(struct cfb_maps *m, enum cfb_provider p, const char *path,
                   char **errmsg);
void cfb_maps_free(struct cfb_maps *m);
const char *cfb_category(const struct cfb_maps *m, enum cfb_provider p,
                         const char *key);             /* "Other" if none */
/* The same for the n bytes at key (no NUL in them). */
const char *cfb_category_n(const struct cfb_maps *m, enum cfb_provider p,
                           const char *key, size_t n);

/* What a reader knows about the file it reads. */
struct cfb_src {
  const char *path;              /* for rejects and messages */
  const char *sha256;            /* x_SourceFileHash */
  const char *ingested_at;       /* x_IngestedAt ("" at extract time) */
  const struct cfb_maps *maps;   /* may be NULL: built-in tables */
};

typedef int (*cfb_emit_fn)(void *ud, const struct cfb_cost *row);
typedef int (*cfb_reject_fn)(void *ud, const char *path, int64_t line,
                             const char *reason);

/* Stream-reads one delivered file and calls emit for each good row and
 * reject for each bad one (never both for a line). A file refused whole
 * (not an export of the provider, a zip without exactly one csv) is one
 * reject. Returns 0, or the first negative value a callback returned
 * (which stops the read), or -EIO (or another -errno) after reporting
 * through reject a file that cannot be read to its end -- a truncated or
 * corrupt .gz/.zip: the rows already emitted are not all of its rows, so
 * the caller must fail rather than publish them. */
int cfb_aws_read(const struct cfb_src *src, cfb_emit_fn emit,
                 cfb_reject_fn reject, void *ud);
int cfb_gcp_read(const struct cfb_src *src, cfb_emit_fn emit,
                 cfb_reject_fn reject, void *ud);

/* The same AWS read in steps, so byte ranges of one plain CSV can be read
 * on several threads: open reads the header (a file rejected whole is
 * reported and gives *out = NULL); read_rest reads sequentially (any
 * file); read_range (plain files; thread-safe on one cfb_aws_file) reads
 * the records starting in [start, end) -- `start` must be a record start
 * on physical line `line` -- and sets *next to where the first record it
 * did not read starts. */
struct cfb_aws_file;
int  cfb_aws_open(const struct cfb_src *src, cfb_reject_fn reject, void *ud,
                  struct cfb_aws_file **out);
/* First data record's offset (-1: compressed) and its physical line. */
int64_t cfb_aws_data_offset(const struct cfb_aws_file *f, int64_t *line);
int  cfb_aws_read_rest(struct cfb_aws_file *f, cfb_emit_fn emit,
                       cfb_reject_fn reject, void *ud);
int  cfb_aws_read_range(const struct cfb_aws_file *f, int64_t start,
                        int64_t line, int64_t end, int64_t *next,
                        cfb_emit_fn emit, cfb_reject_fn reject, void *ud);
void cfb_aws_close(struct cfb_aws_file *f);

/* Kind of a delivered file from its name: "aws_manifest", "aws_cur_legacy"
 * or "aws_cur2" (sniffs the header), "gcp_csv", "gcp_jsonl"; NULL if the
 * file is not billing data. */
const char *cfb_file_kind(enum cfb_provider p, const char *path);
/* Whether s ends with suf, ignoring case. */
int cfb_ends_with(const char *s, const char *suf);
/* The extension kept in bronze names: ".csv", ".csv.gz", ".zip", ... */
const char *cfb_file_ext(const char *path);

/* ---- text helpers (cfb_text.c) ---- */

/* Decimal that tolerates more than 18 fractional digits (some exports have
 * 19+) by rounding half away from zero at 10^-18. 0 or CF_EINVALID. */
int cfb_dec_parse_round(const char *s, cf_dec *out);
/* Timestamp in any of the export forms ("2023-11-01T00:00:00.000Z",
 * "2018-06-01 00:00:00", "2020-11-09 23:00:00+00:00", "... UTC",
 * "YYYY-MM-DD") to seconds since the epoch, UTC. 0 or CF_EINVALID. */
int cfb_time_parse(const char *s, int64_t *epoch_s);
/* Python-repr or JSON text to JSON text in which every bare number became
 * a string (so jansson never turns money into double). Caller frees. */
char *cfb_json_quote_numbers(const char *s);
/* Appends s as one CSV field (quoted only when needed). */
int cfb_csv_field(struct cf_buf *b, const char *s);
/* Appends a whole row (CFB_NCOLS fields, col[i] of len[i] bytes) plus
 * "\n": the bytes cfb_csv_field gives field by field, comma-separated,
 * written in one pass that quotes only the fields that need it. On a
 * capped buffer a row that does not fit is CF_ETOOBIG, nothing added. */
int cfb_row_csv_len(struct cf_buf *b, const char *const col[CFB_NCOLS],
                    const size_t len[CFB_NCOLS]);
/* Appends s as a JSON string literal. */
int cfb_json_str(struct cf_buf *b, const char *s);

/* Builds one cfb_cost: column values are copied into an arena, or
 * referenced where they already live long enough. */
struct cfb_rowbuf {
  struct cf_buf arena;
  size_t off[CFB_NCOLS], len[CFB_NCOLS];   /* per column, into arena */
  const char *ref[CFB_NCOLS];              /* or the referenced value */
};
void cfb_rowbuf_init(struct cfb_rowbuf *rb);
void cfb_rowbuf_release(struct cfb_rowbuf *rb);
void cfb_rowbuf_reset(struct cfb_rowbuf *rb);          /* all columns "" */
int  cfb_rowbuf_set(struct cfb_rowbuf *rb, enum cfb_col c, const char *s);
/* Like cfb_rowbuf_set for the n bytes at s (no NUL in them). */
int  cfb_rowbuf_setn(struct cfb_rowbuf *rb, enum cfb_col c, const char *s,
                     size_t n);
/* Points column c at s without copying: s[n] must be NUL and s must stay
 * as it is until the finished row has been handed over. */
void cfb_rowbuf_ref(struct cfb_rowbuf *rb, enum cfb_col c, const char *s,
                    size_t n);
int  cfb_rowbuf_dec(struct cfb_rowbuf *rb, enum cfb_col c, cf_dec d);
int  cfb_rowbuf_time(struct cfb_rowbuf *rb, enum cfb_col c, int64_t t);
/* The same text, given the n bytes s that cfb_time_parse turned into t:
 * s itself when it already is that text (the usual export form). */
int  cfb_rowbuf_time_text(struct cfb_rowbuf *rb, enum cfb_col c,
                          const char *s, size_t n, int64_t t);
/* Points out->col[] into the arena (valid until the next set/reset). */
void cfb_rowbuf_finish(struct cfb_rowbuf *rb, struct cfb_cost *out);

/* Rejects file writer: "file,line,reason" CSV with a header. */
struct cfb_rejects { FILE *f; int64_t count; };
int  cfb_rejects_open(struct cfb_rejects *r, const char *path);
int  cfb_rejects_add(struct cfb_rejects *r, const char *file, int64_t line,
                     const char *reason);
int  cfb_rejects_close(struct cfb_rejects *r);   /* fsyncs */
/* Appends the reject lines of `part` (a header-less file that holds
 * `count` of them, written by another reader) to r, in order. */
int  cfb_rejects_append(struct cfb_rejects *r, FILE *part, int64_t count);

/* A sorted set of usage dates (cfb_dayset.c). */
struct cfb_dayset { cf_date *v; size_t n, cap; };
int  cfb_dayset_add(struct cfb_dayset *d, cf_date x);          /* -ENOMEM */
/* Adds every date of s to d. */
int  cfb_dayset_add_all(struct cfb_dayset *d, const struct cfb_dayset *s);
long cfb_dayset_find(const struct cfb_dayset *d, cf_date x);   /* or -1 */
void cfb_dayset_release(struct cfb_dayset *d);

#endif
