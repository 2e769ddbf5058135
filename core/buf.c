/* cf_buf: the one growable byte buffer (see common.h for invariants). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "costflow/common.h"

char cf_buf_empty[1];

void cf_buf_init(struct cf_buf *b, size_t max) {
  b->buf = cf_buf_empty;
  b->len = b->alloc = 0;
  b->max = max;
}

void cf_buf_release(struct cf_buf *b) {
  if (b->alloc) cf_free(b->buf);
  cf_buf_init(b, b->max);
}

void cf_buf_reset(struct cf_buf *b) {
  b->len = 0;
  /* An unallocated buffer points at the shared cf_buf_empty: never write
   * it (threads reset their own empty buffers concurrently). */
  if (b->alloc) b->buf[0] = '\0';
}

int cf_buf_grow(struct cf_buf *b, size_t extra) {
  if (b->max && b->len + extra > b->max) return CF_ETOOBIG;
  if (b->len + extra + 1 <= b->alloc) return 0;
  size_t want = b->alloc ? b->alloc : 64;
  while (want < b->len + extra + 1) want *= 2;
  char *p = b->alloc ? cf_realloc(b->buf, want) : cf_malloc(want);
  if (!p) return -ENOMEM;
  if (!b->alloc) p[0] = '\0';
  b->buf = p;
  b->alloc = want;
  return 0;
}

int cf_buf_add(struct cf_buf *b, const void *p, size_t n) {
  if (b->max && b->len + n > b->max) return CF_ETOOBIG;
  if (b->len + n + 1 > b->alloc) {         /* grow only when needed */
    int r = cf_buf_grow(b, n);
    if (r < 0) return r;
  }
  memcpy(b->buf + b->len, p, n);
  b->len += n;
  b->buf[b->len] = '\0';
  return 0;
}

int cf_buf_adds(struct cf_buf *b, const char *s) {
  return cf_buf_add(b, s, strlen(s));
}

int cf_buf_addch(struct cf_buf *b, char c) { return cf_buf_add(b, &c, 1); }

int cf_buf_vaddf(struct cf_buf *b, const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0) return -EINVAL;
  int r = cf_buf_grow(b, (size_t)n);
  if (r < 0) return r;
  vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int cf_buf_addf(struct cf_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = cf_buf_vaddf(b, fmt, ap);
  va_end(ap);
  return r;
}

char *cf_buf_detach(struct cf_buf *b, size_t *len) {
  char *r = b->alloc ? b->buf : cf_strdup("");
  if (len) *len = b->len;
  cf_buf_init(b, b->max);
  return r;
}

int cf_buf_read_file(struct cf_buf *b, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int ret = 0;
  struct stat st;
  if (fstat(fd, &st) < 0) { ret = -errno; goto done; }
  if (S_ISDIR(st.st_mode)) { ret = -EISDIR; goto done; }
  if (b->max && (size_t)st.st_size > b->max) { ret = CF_ETOOBIG; goto done; }
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      ret = -errno;
      goto done;
    }
    if (n == 0) break;
    if ((ret = cf_buf_add(b, chunk, (size_t)n)) < 0) goto done;
  }
done:
  close(fd);
  return ret;
}
