/* Silver's read phase: every candidate bronze file is mapped to silver
 * rows and spilled per usage date. Each reader has its own spill files
 * and rejects, so readers run on threads without sharing anything; a big
 * plain CSV is split into byte ranges read in parallel.
 *
 * A range must start at a record start, which only a full parse from the
 * top can know for sure (a quoted field may hold a line break). Ranges
 * are therefore a guess at a line break, checked afterwards: each reader
 * reports where the first record it did not read starts, and that must be
 * where the next range began. If it is not, the file's ranges are thrown
 * away and the file is read again in one piece, so the guess can cost
 * time but never change a byte of the output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cfb_silver_int.h"

#define RANGE_MIN (16LL << 20)       /* default range_bytes */

/* One reader: a whole file, or a byte range of a plain AWS CSV. */
struct reader {
  size_t cand;                   /* index into in->cand */
  struct cfb_aws_file *aws;      /* shared by a split file's ranges */
  int64_t start, line, end;      /* range; end < 0: whole file */
  int64_t nlines;                /* line breaks in the range, or -1 */
  int64_t next;                  /* where reading stopped */
  /* per-reader state, touched by its own thread only */
  const struct cfb_silver_read_in *in;
  struct cfb_spills *spills;
  struct cf_buf key;             /* dedupe key of the current row */
  FILE *rejects;                 /* this reader's reject lines */
  char *rejects_path;
  int64_t rejected;
  int ret;
  char *err;
};

static int emit_row(void *ud, const struct cfb_cost *c) {
  struct reader *rd = ud;
  long di = cfb_dates_find(rd->in->dates, c->usage_date);
  if (di < 0) return 0;
  const struct cfb_entry *e = rd->in->cand[rd->cand];
  /* A plain (manifest-less) CUR file older than the newest snapshot of
   * its rows' billing period was superseded by that snapshot. */
  if (e->provider == CFB_AWS && !*e->assembly_id) {
    const struct snap *s = cfb_snap_find(rd->in->snaps, c->billing_period);
    if (s && strcmp(e->day, s->day) <= 0) return 0;
  }
  struct cfb_rank rank = rd->in->ranks[rd->cand];
  rank.finalized = c->finalized != 0;
  rank.line = c->line;
  cf_buf_reset(&rd->key);
  if (cf_buf_adds(&rd->key, cfb_provider_name(e->provider)) < 0 ||
      cf_buf_addch(&rd->key, ':') < 0 ||
      cf_buf_add(&rd->key, c->col[CFB_x_LineItemId],
                 c->len[CFB_x_LineItemId]) < 0)
    return -ENOMEM;
  return cfb_spills_add(rd->spills, (size_t)di, &rank, rd->key.buf,
                        rd->key.len, c);
}

static int reject_row(void *ud, const char *path, int64_t line,
                      const char *reason) {
  struct reader *rd = ud;
  rd->rejected++;
  if (!rd->in->o->rejects) return 0;
  if (!rd->rejects && !(rd->rejects = fopen(rd->rejects_path, "w+e")))
    return -errno;
  struct cfb_rejects r = {rd->rejects, 0};
  return cfb_rejects_add(&r, path, line, reason);
}

static void run_reader(void *ctx, size_t i) {
  struct reader *rd = &((struct reader *)ctx)[i];
  const struct cfb_entry *e = rd->in->cand[rd->cand];
  struct cfb_src src = {e->path, e->sha256, e->ingested_at, rd->in->o->maps};
  if (rd->aws)
    rd->ret = cfb_aws_read_range(rd->aws, rd->start, rd->line, rd->end,
                                 &rd->next, emit_row, reject_row, rd);
  else if (e->provider == CFB_AWS)
    rd->ret = cfb_aws_read(&src, emit_row, reject_row, rd);
  else
    rd->ret = cfb_gcp_read(&src, emit_row, reject_row, rd);
  int r = cfb_spills_finish(rd->spills);
  if (rd->ret >= 0 && r < 0) rd->ret = r;
  if (rd->ret < 0)
    rd->err = cf_asprintf("silver: reading %s: %s", e->path,
                          cf_strerror(rd->ret));
}

/* Offset just past the first '\n' at or after `at` (or the file size). */
static int64_t next_line_start(int fd, int64_t at, int64_t size) {
  char buf[65536];
  while (at < size) {
    ssize_t n = pread(fd, buf, sizeof buf, (off_t)at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return size;
    char *nl = memchr(buf, '\n', (size_t)n);
    if (nl) return at + (nl - buf) + 1;
    at += n;
  }
  return size;
}

/* Line breaks in [from, to): the physical line where a range starts. */
static int64_t count_lines(int fd, int64_t from, int64_t to) {
  static __thread char buf[1 << 16];
  int64_t lines = 0;
  while (from < to) {
    size_t want = (size_t)(to - from) < sizeof buf ? (size_t)(to - from)
                                                    : sizeof buf;
    ssize_t n = pread(fd, buf, want, (off_t)from);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    for (char *p = buf, *end = buf + n;
         (p = memchr(p, '\n', (size_t)(end - p))); p++)
      lines++;
    from += n;
  }
  return lines;
}

struct plan {
  struct reader *v;
  size_t n, cap;
  struct cfb_aws_file **files;   /* split files' shared headers */
  size_t nfiles;
};

static struct reader *plan_add(struct plan *p, size_t cand) {
  if (p->n == p->cap) {
    size_t nc = p->cap ? 2 * p->cap : 16;
    struct reader *v = cf_realloc(p->v, nc * sizeof *v);
    if (!v) return NULL;
    p->v = v;
    p->cap = nc;
  }
  struct reader *rd = &p->v[p->n++];
  *rd = (struct reader){.cand = cand, .end = -1, .next = -1};
  return rd;
}

/* Splits candidate `ci` into ranges if it is a big plain AWS CSV, else
 * plans one whole-file reader. */
static int count_reject(void *ud, const char *path, int64_t line,
                        const char *reason) {
  (void)path, (void)line, (void)reason;
  ++*(int64_t *)ud;
  return 0;
}

static int plan_file(const struct cfb_silver_read_in *in, size_t ci,
                     int threads, struct plan *p) {
  const struct cfb_entry *e = in->cand[ci];
  struct stat st;
  int64_t size = stat(e->path, &st) == 0 ? (int64_t)st.st_size : 0;
  int64_t range_min = in->o->range_bytes > 0 ? in->o->range_bytes : RANGE_MIN;
  if (e->provider != CFB_AWS || threads < 2 || size < 2 * range_min ||
      strcmp(cfb_file_ext(e->path), ".csv") != 0)
    return plan_add(p, ci) ? 0 : -ENOMEM;
  /* Header first. A file with any trouble before its first data row is
   * read whole instead, so its rejects keep their place in the order. */
  struct cfb_src src = {e->path, e->sha256, e->ingested_at, in->o->maps};
  struct cfb_aws_file *f;
  int64_t header_rejects = 0;
  int ret = cfb_aws_open(&src, count_reject, &header_rejects, &f);
  if (ret < 0) return ret;
  if (!f || header_rejects) {
    cfb_aws_close(f);
    return plan_add(p, ci) ? 0 : -ENOMEM;
  }
  struct cfb_aws_file **nf =
      cf_realloc(p->files, (p->nfiles + 1) * sizeof *nf);
  if (!nf) {
    cfb_aws_close(f);
    return -ENOMEM;
  }
  p->files = nf;
  p->files[p->nfiles++] = f;
  int64_t line, start = cfb_aws_data_offset(f, &line);
  int64_t nranges = (size - start) / range_min;
  if (nranges > threads) nranges = threads;
  int fd = open(e->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int64_t data = start;           /* cuts at equal shares of this */
  for (int64_t k = 0; k < nranges && ret == 0; k++) {
    int64_t cut = data + (size - data) * (k + 1) / nranges;
    int64_t end = k + 1 == nranges ? size : next_line_start(fd, cut, size);
    /* A line longer than a share holds the next cut too: that range is
     * empty (start == end), reads nothing and still meets its neighbours
     * (unit test silver_ranges_with_a_line_longer_than_a_range). Cuts only
     * move forward, so this clamp matters only after a read error made
     * next_line_start return the size for an earlier cut. */
    if (end < start) end = start;
    struct reader *rd = plan_add(p, ci);
    if (!rd) {
      ret = -ENOMEM;
      break;
    }
    rd->aws = f;
    rd->start = start;
    rd->line = k ? -1 : line;            /* later ranges: number_ranges() */
    rd->end = end;
    start = end;
  }
  close(fd);
  return ret;
}

/* Line breaks of a range that another range of its file follows. */
static void count_range(void *ctx, size_t i) {
  struct plan *p = ctx;
  struct reader *rd = &p->v[i];
  rd->nlines = 0;
  if (!rd->aws || i + 1 == p->n || p->v[i + 1].aws != rd->aws) return;
  int fd = open(rd->in->cand[rd->cand]->path, O_RDONLY | O_CLOEXEC);
  rd->nlines = fd < 0 ? -1 : count_lines(fd, rd->start, rd->end);
  if (fd >= 0) close(fd);
}

/* The physical line where each range starts, from the line breaks of the
 * ranges before it, counted on threads. */
static int number_ranges(struct plan *p, int threads, char **errmsg) {
  cfb_parallel(threads, p->n, count_range, p);
  for (size_t i = 0; i + 1 < p->n; i++) {
    if (!p->v[i].aws || p->v[i + 1].aws != p->v[i].aws) continue;
    if (p->v[i].nlines < 0) {
      if (errmsg && !*errmsg)
        *errmsg = cf_asprintf("silver: counting the lines of %s: %s",
                              p->v[i].in->cand[p->v[i].cand]->path,
                              cf_strerror(-EIO));
      return -EIO;
    }
    p->v[i + 1].line = p->v[i].line + p->v[i].nlines;
  }
  return 0;
}

/* Gives reader i its spill files and rejects file. */
static int reader_init(const struct cfb_silver_read_in *in, struct reader *rd,
                       size_t i, struct cfb_spills *spills) {
  char tag[32];
  snprintf(tag, sizeof tag, "r%zu", i);
  rd->in = in;
  rd->spills = spills;
  cf_buf_init(&rd->key, 0);
  rd->rejects_path = cf_asprintf("%s/rejects-%s.csv", in->o->scratch, tag);
  if (!rd->rejects_path) return -ENOMEM;
  return cfb_spills_init(spills, in->o->scratch, tag, in->dates->v,
                         in->dates->n);
}

static void reader_release(struct reader *rd) {
  cf_buf_release(&rd->key);
  if (rd->rejects) fclose(rd->rejects);
  if (rd->rejects_path) unlink(rd->rejects_path);
  cf_free(rd->rejects_path);
  cf_free(rd->err);
}

/* Appends a reader's reject lines to the task's rejects file, in order. */
static int merge_rejects(struct reader *rd, struct cfb_rejects *out) {
  if (!rd->rejects || !out || !out->f) return 0;
  char buf[65536];
  size_t n;
  rewind(rd->rejects);
  while ((n = fread(buf, 1, sizeof buf, rd->rejects)) > 0)
    if (fwrite(buf, 1, n, out->f) != n) return -EIO;
  if (ferror(rd->rejects)) return -EIO;
  out->count += rd->rejected;
  return 0;
}

/* A split file whose ranges did not meet: drop the output of its n
 * readers and read the file whole with the first one. */
static void reread_whole(struct reader *rd, size_t n, size_t index) {
  for (size_t k = 0; k < n; k++) {
    cfb_spills_release(rd[k].spills);
    if (rd[k].rejects) {
      fclose(rd[k].rejects);
      rd[k].rejects = NULL;
      unlink(rd[k].rejects_path);
    }
    rd[k].rejected = 0;
    rd[k].ret = 0;
    cf_free(rd[k].err);
    rd[k].err = NULL;
  }
  char tag[32];
  snprintf(tag, sizeof tag, "w%zu", index);
  rd->aws = NULL;
  rd->ret = cfb_spills_init(rd->spills, rd->in->o->scratch, tag,
                            rd->in->dates->v, rd->in->dates->n);
  if (rd->ret == 0) run_reader(rd, 0);
}

int cfb_silver_read(const struct cfb_silver_read_in *in,
                    struct cfb_silver_spilled *out, int64_t *rejected,
                    char **errmsg) {
  struct plan p = {0};
  int threads = cfb_threads(in->o->threads), ret = 0;
  memset(out, 0, sizeof *out);
  *rejected = 0;
  for (size_t ci = 0; ci < in->ncand && ret == 0; ci++)
    ret = plan_file(in, ci, threads, &p);
  if (ret == 0 && !(out->readers = cf_calloc(p.n + 1, sizeof *out->readers)))
    ret = -ENOMEM;
  for (size_t i = 0; i < p.n && ret == 0; i++) {
    out->n++;
    ret = reader_init(in, &p.v[i], i, &out->readers[i]);
  }
  if (ret == 0) ret = number_ranges(&p, threads, errmsg);
  if (ret == 0) cfb_parallel(threads, p.n, run_reader, p.v);
  /* Check each split file's ranges met; report in reader order. */
  for (size_t i = 0; i < p.n && ret == 0;) {
    size_t j = i;
    while (j + 1 < p.n && p.v[j + 1].aws && p.v[j + 1].aws == p.v[i].aws)
      j++;
    int met = 1;
    for (size_t k = i; k < j && met; k++)
      met = p.v[k].ret < 0 || p.v[k].next == p.v[k + 1].start;
    if (!met) {
      if (in->o->log) {
        char *m = cf_asprintf("silver: %s: a range did not start at a record "
                              "(line break inside quotes); read it whole",
                              in->cand[p.v[i].cand]->path);
        if (m) in->o->log(in->o->log_ud, 1, m);
        cf_free(m);
      }
      reread_whole(&p.v[i], j - i + 1, i);
    }
    for (size_t k = i; k <= j && ret == 0; k++) {
      if (p.v[k].ret < 0) {
        ret = p.v[k].ret;
        if (errmsg && !*errmsg) {
          *errmsg = p.v[k].err;
          p.v[k].err = NULL;
        }
        break;
      }
      *rejected += p.v[k].rejected;
      ret = merge_rejects(&p.v[k], in->o->rejects);
    }
    i = j + 1;
  }
  for (size_t i = 0; i < p.n; i++) reader_release(&p.v[i]);
  for (size_t i = 0; i < p.nfiles; i++) cfb_aws_close(p.files[i]);
  cf_free(p.v);
  cf_free(p.files);
  if (ret < 0) cfb_silver_spilled_release(out);
  return ret;
}

void cfb_silver_spilled_release(struct cfb_silver_spilled *s) {
  for (size_t i = 0; i < s->n; i++) cfb_spills_release(&s->readers[i]);
  cf_free(s->readers);
  memset(s, 0, sizeof *s);
}
