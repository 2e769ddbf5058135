/* Cutting a plain AWS CUR CSV into byte ranges (cfb_aws_split.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cfb_aws_split.h"
#include "cfb_parallel.h"

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

/* Line breaks in [from, to), or -1. */
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

static int count_reject(void *ud, const char *path, int64_t line,
                        const char *reason) {
  (void)path, (void)line, (void)reason;
  ++*(int64_t *)ud;
  return 0;
}

struct counting {
  const char *path;
  struct cfb_aws_range *r;
  int64_t *lines;                /* per range but the last */
};

static void count_range(void *ctx, size_t i) {
  struct counting *c = ctx;
  int fd = open(c->path, O_RDONLY | O_CLOEXEC);
  c->lines[i] = fd < 0 ? -1 : count_lines(fd, c->r[i].start, c->r[i].end);
  if (fd >= 0) close(fd);
}

/* Each range's first line: its start's line plus the line breaks of the
 * ranges before it, counted on threads. */
static int number_ranges(const char *path, struct cfb_aws_split *s,
                         int threads, char **errmsg) {
  int64_t *lines = cf_calloc(s->n, sizeof *lines);
  if (!lines) return -ENOMEM;
  struct counting c = {path, s->r, lines};
  cfb_parallel(threads, s->n - 1, count_range, &c);
  int ret = 0;
  for (size_t k = 0; k + 1 < s->n && ret == 0; k++) {
    if (lines[k] < 0) {
      if (errmsg && !*errmsg)
        *errmsg = cf_asprintf("counting the lines of %s: %s", path,
                              cf_strerror(-EIO));
      ret = -EIO;
    }
    s->r[k + 1].line = s->r[k].line + lines[k];
  }
  cf_free(lines);
  return ret;
}

int cfb_aws_split_plan(const struct cfb_src *src, int threads,
                       int64_t range_min, struct cfb_aws_split *s,
                       char **errmsg) {
  memset(s, 0, sizeof *s);
  struct stat st;
  int64_t size = stat(src->path, &st) == 0 ? (int64_t)st.st_size : 0;
  if (range_min <= 0) range_min = CFB_RANGE_MIN;
  if (threads < 2 || size < 2 * range_min ||
      strcmp(cfb_file_ext(src->path), ".csv") != 0)
    return 0;
  int64_t header_rejects = 0;
  int ret = cfb_aws_open(src, count_reject, &header_rejects, &s->f);
  if (ret < 0 || !s->f || header_rejects) {
    cfb_aws_split_release(s);
    return ret < 0 ? ret : 0;
  }
  int64_t line, start = cfb_aws_data_offset(s->f, &line);
  int64_t nranges = (size - start) / range_min;
  if (nranges > threads) nranges = threads;
  if (nranges < 2) {
    cfb_aws_split_release(s);
    return 0;
  }
  int fd = open(src->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || !(s->r = cf_calloc((size_t)nranges, sizeof *s->r))) {
    ret = fd < 0 ? -errno : -ENOMEM;
    if (fd >= 0) close(fd);
    cfb_aws_split_release(s);
    return ret;
  }
  const int64_t data = start;           /* cuts at equal shares of this */
  for (int64_t k = 0; k < nranges; k++) {
    int64_t cut = data + (size - data) * (k + 1) / nranges;
    int64_t end = k + 1 == nranges ? size : next_line_start(fd, cut, size);
    /* A line longer than a share holds the next cut too: that range is
     * empty (start == end), reads nothing and still meets its neighbours
     * (unit test silver_ranges_with_a_line_longer_than_a_range). Cuts only
     * move forward, so this clamp matters only after a read error made
     * next_line_start return the size for an earlier cut. */
    if (end < start) end = start;
    s->r[k] = (struct cfb_aws_range){start, k ? -1 : line, end, -1};
    start = end;
  }
  close(fd);
  s->n = (size_t)nranges;
  if ((ret = number_ranges(src->path, s, threads, errmsg)) < 0)
    cfb_aws_split_release(s);
  return ret;
}

int cfb_aws_split_read(struct cfb_aws_split *s, size_t k, cfb_emit_fn emit,
                       cfb_reject_fn reject, void *ud) {
  struct cfb_aws_range *r = &s->r[k];
  return cfb_aws_read_range(s->f, r->start, r->line, r->end, &r->next, emit,
                            reject, ud);
}

int cfb_aws_split_met(const struct cfb_aws_split *s) {
  for (size_t k = 0; k + 1 < s->n; k++)
    if (s->r[k].next != s->r[k + 1].start) return 0;
  return 1;
}

void cfb_aws_split_release(struct cfb_aws_split *s) {
  cfb_aws_close(s->f);
  cf_free(s->r);
  memset(s, 0, sizeof *s);
}
