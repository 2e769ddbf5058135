/* Atomic, versioned partition publishing (docs/lake-format.md, silver):
 * DIR/vNNNNNN/{data.csv,_manifest.json} then the DIR/current symlink is
 * swapped by rename, so readers see the old or the new version whole. */
#ifndef CFB_PARTITION_H
#define CFB_PARTITION_H

#include <stddef.h>
#include <stdint.h>

struct cfb_published {
  int64_t version;           /* the live version after the call */
  char checksum[65];         /* sha256 of data.csv */
  int changed;               /* 0: identical to the live version, kept */
};

/* Publishing data.csv, given as the concatenation of `niov` pieces (hashed
 * and written without joining them), as the next version of the partition
 * folder `dir` (created if missing), in two steps, so a caller publishing
 * many partitions pays the disk's flushes for all of them at once (from
 * several threads, which the filesystem journal commits together) after
 * the CPU work of all.
 *
 * cfb_partition_stage hashes and writes the new version folder (data.csv,
 * and _manifest.json with `dataset`, `partition`, `rows` and `inputs_json`,
 * a JSON array of sorted bronze hashes), unsynced, and never touches
 * `current`; if the live version has the same checksum and inputs nothing
 * is written (st->unchanged). cfb_partition_commit fsyncs files and
 * folders, swaps `current`, and removes versions older than the newest
 * `keep`. A version that fails (written, or committed before the swap)
 * is removed, so its number is taken again; one staged but never committed
 * (a crash between the two) is a leftover folder, never live (the next
 * stage skips its number). Both return 0 or negative with a malloc'd
 * *errmsg. */
struct iovec;
struct cfb_staged {
  char *dir, *vdir;
  char vname[32];
  char checksum[65];
  int64_t live, version;
  int unchanged;             /* same bytes and inputs as the live version */
};
int  cfb_partition_stage(const char *dir, const char *dataset,
                         const char *partition, const struct iovec *iov,
                         size_t niov, int64_t rows, const char *inputs_json,
                         struct cfb_staged *st, char **errmsg);
int  cfb_partition_commit(struct cfb_staged *st, int keep,
                          struct cfb_published *out, char **errmsg);
void cfb_staged_release(struct cfb_staged *st);

/* Live version number of `dir` (0 if none). */
int64_t cfb_partition_current(const char *dir);

#endif
