/* transform_floor: the floor under costflow's transform figure. It times,
 * one step at a time on one core, the byte and row movements that the
 * silver + gold contract asks for on a given input, with none of the
 * transform's own work (no CSV parsing, FOCUS mapping, dedupe, sort or
 * folding):
 *
 *   read_input_s   read the delivered CSV files once (page cache)
 *   read_silver_s  read the published silver data files once
 *   sha256_s       SHA-256 of the silver bytes once; costflow hashes them
 *                  twice (silver as it writes, gold as it verifies)
 *   write_s        write the silver bytes to new files (page cache)
 *   fsync_s        then wait for the disk: fsync each file. Silver starts
 *                  the writeback as each partition is written, so in
 *                  costflow this wait overlaps the work; it is printed but
 *                  not part of the sum
 *   sqlite_s       copy the warehouse's fact rows into a fresh database set
 *                  up as gold sets up its own (WAL, synchronous=FULL, 32 KiB
 *                  pages), in one transaction by INSERT ... SELECT (SQLite's
 *                  cheapest bulk insert), commit and checkpoint
 *
 *   transform_floor SILVER_DIR WAREHOUSE_DB SCRATCH_DIR INPUT...
 *
 * SILVER_DIR is a lake/silver/cost tree (every `data.*` file under it is
 * counted), WAREHOUSE_DB the warehouse loaded from it. Prints one JSON
 * line. bench/run records it beside costflow's own time. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (8u << 20)
#define MAX_FILES 4096

static char *silver[MAX_FILES];
static int nsilver;
static unsigned char *buf;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const char *arg) {
  fprintf(stderr, "transform_floor: %s %s: %s\n", what, arg ? arg : "",
          errno ? strerror(errno) : "failed");
  exit(1);
}

static int collect(const char *path, const struct stat *st, int type,
                   struct FTW *f) {
  (void)st;
  if (type == FTW_F && strncmp(path + f->base, "data.", 5) == 0) {
    if (nsilver == MAX_FILES) die("too many silver files under", path);
    if (!(silver[nsilver++] = strdup(path))) die("out of memory", NULL);
  }
  return 0;
}

/* Reads each file through buf; returns the bytes read. */
static long long pass(char **files, int n) {
  long long total = 0;
  for (int i = 0; i < n; i++) {
    int fd = open(files[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open", files[i]);
    ssize_t got;
    while ((got = read(fd, buf, CHUNK)) > 0) total += got;
    if (got < 0) die("cannot read", files[i]);
    close(fd);
  }
  return total;
}

static double time_read(char **files, int n, long long *bytes) {
  pass(files, n);                   /* warm, as the stages find the files */
  double t0 = now_s();
  *bytes = pass(files, n);
  return now_s() - t0;
}

/* The silver bytes in memory (not timed), so that hashing and writing
 * are timed without the reads they would otherwise ride on. */
static struct blob { unsigned char *p; size_t n; } blobs[MAX_FILES];

static void load_silver(void) {
  for (int i = 0; i < nsilver; i++) {
    int fd = open(silver[i], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) die("cannot open", silver[i]);
    blobs[i].n = (size_t)st.st_size;
    if (!(blobs[i].p = malloc(blobs[i].n ? blobs[i].n : 1)))
      die("out of memory", NULL);
    for (size_t off = 0; off < blobs[i].n;) {
      ssize_t got = read(fd, blobs[i].p + off, blobs[i].n - off);
      if (got <= 0) die("cannot read", silver[i]);
      off += (size_t)got;
    }
    close(fd);
  }
}

static double time_sha256(void) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md) die("sha256", NULL);
  double t0 = now_s();
  for (int i = 0; i < nsilver; i++)          /* one digest per partition */
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(md, blobs[i].p, blobs[i].n) ||
        !EVP_DigestFinal_ex(md, digest, NULL))
      die("sha256", NULL);
  double t = now_s() - t0;
  EVP_MD_CTX_free(md);
  return t;
}

/* One new file per silver file: *write_s copies the bytes into the page
 * cache, the return value is the wait for the disk that fsync adds. */
static double time_write(const char *scratch, double *write_s) {
  static int fds[MAX_FILES];
  char path[4096];
  double t0 = now_s();
  for (int i = 0; i < nsilver; i++) {
    snprintf(path, sizeof path, "%s/floor-write.%d.tmp", scratch, i);
    fds[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fds[i] < 0) die("cannot create", path);
    for (size_t off = 0; off < blobs[i].n;) {
      ssize_t put = write(fds[i], blobs[i].p + off, blobs[i].n - off);
      if (put <= 0) die("cannot write", path);
      off += (size_t)put;
    }
  }
  double t1 = now_s();
  for (int i = 0; i < nsilver; i++)
    if (fsync(fds[i]) < 0) die("cannot fsync", "scratch file");
  double t2 = now_s();
  for (int i = 0; i < nsilver; i++) {
    close(fds[i]);
    snprintf(path, sizeof path, "%s/floor-write.%d.tmp", scratch, i);
    unlink(path);
  }
  *write_s = t1 - t0;
  return t2 - t1;
}

static void exec_sql(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "transform_floor: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

/* Copies the fact tables' definitions and rows; returns seconds and rows. */
static double time_sqlite(const char *warehouse, const char *scratch,
                          long long *rows) {
  char path[4096], *sql;
  snprintf(path, sizeof path, "%s/floor-warehouse.db", scratch);
  static const char *const sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {            /* a fresh database each run */
    char p[4200];
    snprintf(p, sizeof p, "%s%s", path, sfx[i]);
    unlink(p);
  }
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("cannot open", path);
  exec_sql(db, "PRAGMA page_size=32768; PRAGMA journal_mode=WAL;"
               " PRAGMA synchronous=FULL");
  if (!(sql = sqlite3_mprintf("ATTACH %Q AS src", warehouse)))
    die("out of memory", NULL);
  exec_sql(db, sql);
  sqlite3_free(sql);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT sql FROM src.sqlite_master WHERE name IN"
                         " ('fact_daily_cost','fact_resource_daily')",
                         -1, &st, NULL) != SQLITE_OK)
    die("cannot read the schema of", warehouse);
  int ntables = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    exec_sql(db, (const char *)sqlite3_column_text(st, 0));
    ntables++;
  }
  sqlite3_finalize(st);
  if (ntables != 2) die("no fact tables in", warehouse);
  exec_sql(db, "SELECT count(*) FROM src.fact_resource_daily");  /* warm */
  double t0 = now_s();
  exec_sql(db, "BEGIN;"
               "INSERT INTO main.fact_daily_cost SELECT * FROM src.fact_daily_cost;"
               "INSERT INTO main.fact_resource_daily"
               " SELECT * FROM src.fact_resource_daily;"
               "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)");
  double t = now_s() - t0;
  if (sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM fact_daily_cost) +"
                         " (SELECT count(*) FROM fact_resource_daily)",
                         -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW)
    die("cannot count rows in", path);
  *rows = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  unlink(path);
  return t;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: transform_floor SILVER_DIR WAREHOUSE_DB "
                    "SCRATCH_DIR INPUT...\n");
    return 2;
  }
  if (!(buf = malloc(CHUNK))) die("out of memory", NULL);
  if (nftw(argv[1], collect, 16, FTW_PHYS) != 0 || nsilver == 0)
    die("no silver data files under", argv[1]);
  long long in_bytes, silver_bytes, rows;
  double read_input = time_read(argv + 4, argc - 4, &in_bytes);
  double read_silver = time_read(silver, nsilver, &silver_bytes);
  load_silver();
  double sha = time_sha256();
  double wr, fsync_s = time_write(argv[3], &wr);
  double sq = time_sqlite(argv[2], argv[3], &rows);
  /* costflow hashes the silver bytes twice. The sum is what one
   * core must spend; on two, at best half of it, but never less than the
   * SQLite step, which one writer does alone. */
  printf("{\"input_bytes\":%lld,\"silver_bytes\":%lld,\"silver_files\":%d,"
         "\"fact_rows\":%lld,\"read_input_s\":%.3f,\"read_silver_s\":%.3f,"
         "\"sha256_s\":%.3f,\"write_s\":%.3f,\"fsync_s\":%.3f,\"sqlite_s\":%.3f,"
         "\"sum_s\":%.3f}\n",
         in_bytes, silver_bytes, nsilver, rows, read_input, read_silver,
         sha, wr, fsync_s, sq, read_input + 2 * sha + wr + read_silver + sq);
  return 0;
}
