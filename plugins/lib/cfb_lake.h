/* The ingest half of the lake: extract (landing -> staging), bronze
 * (byte-for-byte, content addressed) and silver (dedupe + restatement +
 * atomic per-usage-date partitions). See docs/billing-ingest.md. */
#ifndef CFB_LAKE_H
#define CFB_LAKE_H

#include "cfb.h"
#include "cfb_partition.h"

/* One delivered file, as extract describes it (work/<p>/files.jsonl) and
 * as bronze records it (_manifest.jsonl, same fields plus ingested_at). */
struct cfb_entry {
  enum cfb_provider provider;
  char *sha256, *source_path, *kind, *ext;
  char *ingested_at;             /* "" until stored in bronze */
  char *assembly_id;             /* AWS manifest delivery, or "" */
  char *billing_period;          /* its period start YYYY-MM-DD, or "" */
  int top;                       /* named by the period's top manifest */
  int64_t size, rows, rejected;
  char day[11];                  /* delivery (logical) date */
  cf_date *dates;                /* usage dates present, sorted */
  size_t ndates;
  char *path;                    /* readable copy (landing or bronze) */
};
struct cfb_entries { struct cfb_entry *v; size_t n, cap; };
void cfb_entries_release(struct cfb_entries *es);
int  cfb_entry_json(const struct cfb_entry *e, struct cf_buf *out);
/* Appends the entries of a files.jsonl / _manifest.jsonl. `dir` is where
 * `<sha><ext>` copies live (NULL: use source_path). */
int  cfb_entries_load(struct cfb_entries *es, const char *jsonl,
                      enum cfb_provider p, const char *dir, char **errmsg);

/* "$home/work/<dag>/<ds>/<provider>" (caller frees). */
char *cfb_work_dir(const char *home, const char *dag, const char *ds,
                   enum cfb_provider p);
/* "$home/lake/bronze/provider=P/year=Y/month=M/day=D" (caller frees). */
char *cfb_bronze_dir(const char *home, enum cfb_provider p, const char *ds);
/* "$home/lake/silver/cost/usage_date=D" (caller frees). */
char *cfb_silver_dir(const char *home, const char *usage_date);

typedef void (*cfb_log_fn)(void *ud, int level, const char *msg);

struct cfb_extract_stats {
  int64_t files, rows, rejected;
  struct cf_buf usage_dates;     /* JSON array text */
};

struct cfb_extract_opts {
  const struct cfb_maps *maps;   /* NULL: built-in */
  cfb_log_fn log;                /* may be NULL */
  void *log_ud;
  int threads;                   /* <= 0: one per CPU */
  int64_t range_bytes;           /* plain AWS CSVs of 2x this are read as
                                    byte ranges on threads; <= 0: 16 MiB */
};

/* Reads every billing file under `landing_day` (recursively, sorted) for
 * provider p into `work`: staging.csv, staging.1.csv, ... (silver columns,
 * unsorted, each file with the header; a big file read as byte ranges
 * gives each range its own file, so the sequence in order is the rows of
 * one sequential read), rejects.csv, files.jsonl. A missing folder is
 * zero files. */
int cfb_extract(enum cfb_provider p, const char *landing_day,
                const char *work, const struct cfb_extract_opts *o,
                struct cfb_extract_stats *st, char **errmsg);
/* Staging file i of a work folder: staging.csv (i = 0), then
 * staging.1.csv, staging.2.csv, ... (NULL if out of memory). */
char *cfb_staging_path(const char *work, int i);

/* Stores the files listed in `work`/files.jsonl into the bronze folder of
 * day `ds` and merges _manifest.jsonl. Same bytes again: no change. */
int cfb_bronze_store(const char *home, enum cfb_provider p, const char *ds,
                     const char *work, int64_t *stored, int64_t *skipped,
                     char **errmsg);

/* Loads every bronze manifest of both providers. */
int cfb_bronze_load_all(const char *home, struct cfb_entries *es,
                        char **errmsg);

/* Called for each partition published (or confirmed unchanged). */
typedef int (*cfb_partition_fn)(void *ud, const char *usage_date,
                                int64_t rows,
                                const struct cfb_published *pub,
                                const char *inputs_json);

struct cfb_silver_opts {
  const char *home;
  const char *ds;                /* the delivery day being processed */
  const char *scratch;           /* spill files go here */
  const struct cfb_maps *maps;
  struct cfb_rejects *rejects;   /* may be NULL */
  cfb_log_fn log;
  void *log_ud;
  cfb_partition_fn on_partition;
  void *part_ud;
  int keep_versions;             /* old versions kept per partition */
  const char *only_dates;        /* NULL, or "D1,D2": recompute these */
  int threads;                   /* readers/dates at once; 0: CPUs */
  int64_t range_bytes;           /* plain CSVs of 2x this are read in
                                    ranges on threads; 0: 16 MiB */
};

/* Recomputes from bronze every usage date that day `ds`'s deliveries
 * touch (or only_dates), both providers, and publishes each partition.
 * `published` receives the JSON array of usage dates. */
int cfb_silver_build(const struct cfb_silver_opts *o, struct cf_buf *published,
                     char **errmsg);

#endif
