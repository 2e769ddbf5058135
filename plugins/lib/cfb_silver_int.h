/* Silver internals shared by the build (cfb_silver.c), its read phase
 * (cfb_silver_read.c), its spill files (cfb_spill.c) and the per-date
 * stager (cfb_silver_date.c). */
#ifndef CFB_SILVER_INT_H
#define CFB_SILVER_INT_H

#include <stddef.h>
#include <stdint.h>
#include "cfb_lake.h"
#include "cfb_parallel.h"
#include "cfb_partition.h"

/* Newest CUR manifest delivery of one billing period. */
struct snap { const char *period, *day, *assembly; int top; };
struct snaps { struct snap *v; size_t n; };
const struct snap *cfb_snap_find(const struct snaps *s, const char *period);

/* Which copy of a line item wins: the later delivery day, then the
 * finalized one, then the later ingestion (bronze hash breaking ties),
 * then the later line. Days and files are ordinals of the sorted
 * candidate files, so comparing is integer-only and the winner never
 * depends on the order rows were read in. */
struct cfb_rank {
  uint32_t delivery;             /* ordinal of the delivery day */
  uint32_t finalized;            /* AWS: bill/InvoiceId set */
  uint32_t file;                 /* ordinal of (ingested_at, sha256) */
  uint32_t unused;
  int64_t line;                  /* x_SourceLine */
};
int cfb_rank_cmp(const struct cfb_rank *a, const struct cfb_rank *b);
/* Fills out[i].delivery and .file for candidates sorted by (day, sha256),
 * zeroing the rest: delivery counts the distinct days before cand[i]'s,
 * file the candidates ingested strictly earlier (bronze hash breaking
 * ties; equal pairs share one ordinal). O(n log n). 0 or -ENOMEM. */
int cfb_rank_candidates(const struct cfb_entry *const *cand, size_t n,
                        struct cfb_rank *out);

/* Spill files: one per target usage date under the scratch folder, each a
 * run of framed records (rank, dedupe key, silver CSV row) in read order.
 * Each reader (`tag`) has its own set. Writes are buffered per date;
 * files are created on first use. */
struct cfb_spills {
  size_t n;
  char **path;
  int *fd;                       /* -1 until the first record */
  struct cf_buf *pending;        /* unwritten bytes per date */
};
int  cfb_spills_init(struct cfb_spills *s, const char *scratch,
                     const char *tag, const cf_date *dates, size_t n);
/* Appends one record: the frame, the key, and `row` as its silver CSV
 * line, written once, straight into the date's pending bytes. */
int  cfb_spills_add(struct cfb_spills *s, size_t date_index,
                    const struct cfb_rank *rank, const char *key,
                    size_t key_len, const struct cfb_cost *row);
/* Writes what is pending and closes every file (kept for reading). */
int  cfb_spills_finish(struct cfb_spills *s);
/* Closes, deletes the files and frees. */
void cfb_spills_release(struct cfb_spills *s);

/* One record of a mapped spill file; pointers into the mapped bytes. */
struct cfb_spill_rec {
  struct cfb_rank rank;
  const char *key, *row;
  uint32_t key_len, row_len;
};
/* Next record at *pos of a spill file mapped with cf_map_file: 1 with *r
 * set, 0 at the end, CF_EDATA if the file is truncated or corrupt. */
int cfb_spill_next(const struct cf_mapped *m, size_t *pos,
                   struct cfb_spill_rec *r);

/* The read phase (cfb_silver_read.c): every candidate bronze file is read
 * into spill files, big plain CSVs split into byte ranges read on
 * threads. readers[i] holds reader i's spills (readers are in file and
 * range order; a reader whose range guess failed is empty). */
struct cfb_silver_spilled { struct cfb_spills *readers; size_t n; };
struct cfb_silver_read_in {
  const struct cfb_silver_opts *o;
  const struct cfb_entry *const *cand;   /* sorted candidates */
  const struct cfb_rank *ranks;          /* delivery/file per candidate */
  size_t ncand;
  const struct snaps *snaps;
  const struct cfb_dayset *dates;
};
int  cfb_silver_read(const struct cfb_silver_read_in *in,
                     struct cfb_silver_spilled *out, int64_t *rejected,
                     char **errmsg);
void cfb_silver_spilled_release(struct cfb_silver_spilled *s);

/* Dedupes (best rank per key), sorts bytewise and stages one usage date
 * from its spill files as the partition's next version (the caller
 * commits it). Thread-safe: touches only its own files. */
int cfb_silver_stage_date(const struct cfb_silver_opts *o, cf_date d,
                            const char *const *spills, size_t nspills,
                            const char *inputs_json,
                            struct cfb_staged *staged, int64_t *rows,
                            char **errmsg);

#endif
