/* Silver spill files: framed binary records, so reading a date back is a
 * walk over its mapped files -- no CSV parsing, no re-formatting, no
 * copies. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cfb_silver_int.h"

#define SPILL_FLUSH (128 * 1024)       /* pending bytes per date */

struct frame { struct cfb_rank rank; uint32_t key_len, row_len; };

int cfb_rank_cmp(const struct cfb_rank *a, const struct cfb_rank *b) {
  if (a->delivery != b->delivery) return a->delivery < b->delivery ? -1 : 1;
  if (a->finalized != b->finalized) return a->finalized < b->finalized ? -1 : 1;
  if (a->file != b->file) return a->file < b->file ? -1 : 1;
  if (a->line != b->line) return a->line < b->line ? -1 : 1;
  return 0;
}

int cfb_spills_init(struct cfb_spills *s, const char *scratch,
                    const char *tag, const cf_date *dates, size_t n) {
  memset(s, 0, sizeof *s);
  s->path = cf_calloc(n + 1, sizeof *s->path);
  s->fd = cf_calloc(n + 1, sizeof *s->fd);
  s->pending = cf_calloc(n + 1, sizeof *s->pending);
  if (!s->path || !s->fd || !s->pending) {
    cfb_spills_release(s);
    return -ENOMEM;
  }
  s->n = n;
  for (size_t i = 0; i < n; i++) {
    char d[11];
    s->fd[i] = -1;
    cf_buf_init(&s->pending[i], 0);
    cf_date_format(dates[i], d);
    if (!(s->path[i] = cf_asprintf("%s/spill-%s-%s.bin", scratch, d, tag))) {
      cfb_spills_release(s);
      return -ENOMEM;
    }
    unlink(s->path[i]);                  /* a crashed attempt's leftover */
  }
  return 0;
}

static int flush_date(struct cfb_spills *s, size_t i) {
  struct cf_buf *b = &s->pending[i];
  if (!b->len) return 0;
  if (s->fd[i] < 0) {
    s->fd[i] = open(s->path[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);
    if (s->fd[i] < 0) return -errno;
  }
  int r = cf_write_all(s->fd[i], b->buf, b->len);
  cf_buf_reset(b);
  return r;
}

int cfb_spills_add(struct cfb_spills *s, size_t i, const struct cfb_rank *rank,
                   const char *key, size_t key_len,
                   const struct cfb_cost *row) {
  if (key_len > UINT32_MAX) return CF_ETOOBIG;
  struct frame f = {*rank, (uint32_t)key_len, 0};
  struct cf_buf *b = &s->pending[i];
  size_t at = b->len;
  /* The row is formatted straight into the pending bytes (its only
   * copy before the write); the frame gets its length afterwards. */
  int r = cf_buf_add(b, &f, sizeof f);
  if (r == 0) r = cf_buf_add(b, key, key_len);
  if (r == 0) r = cfb_row_csv_len(b, row->col, row->len);
  size_t row_len = b->len - at - sizeof f - key_len;
  if (r == 0 && row_len > UINT32_MAX) r = CF_ETOOBIG;
  if (r < 0) {                         /* no partial record is left */
    b->len = at;
    if (b->alloc) b->buf[at] = '\0';
    return r;
  }
  f.row_len = (uint32_t)row_len;
  memcpy(b->buf + at, &f, sizeof f);
  return b->len >= SPILL_FLUSH ? flush_date(s, i) : 0;
}

int cfb_spills_finish(struct cfb_spills *s) {
  int ret = 0;
  for (size_t i = 0; i < s->n; i++) {
    int r = flush_date(s, i);
    cf_buf_release(&s->pending[i]);  /* not needed while dates publish */
    cf_buf_init(&s->pending[i], 0);
    if (s->fd[i] >= 0 && close(s->fd[i]) < 0 && !r) r = -errno;
    s->fd[i] = -1;
    if (r && !ret) ret = r;
  }
  return ret;
}

void cfb_spills_release(struct cfb_spills *s) {
  for (size_t i = 0; i < s->n; i++) {
    if (s->fd && s->fd[i] >= 0) close(s->fd[i]);
    if (s->path && s->path[i]) unlink(s->path[i]);
    if (s->path) cf_free(s->path[i]);
    if (s->pending) cf_buf_release(&s->pending[i]);
  }
  cf_free(s->path);
  cf_free(s->fd);
  cf_free(s->pending);
  memset(s, 0, sizeof *s);
}

int cfb_spill_next(const struct cf_mapped *m, size_t *pos,
                   struct cfb_spill_rec *r) {
  if (*pos == m->n) return 0;
  struct frame f;
  if (m->n - *pos < sizeof f) return CF_EDATA;
  memcpy(&f, m->p + *pos, sizeof f);
  size_t body = (size_t)f.key_len + f.row_len;
  if (m->n - *pos - sizeof f < body) return CF_EDATA;
  r->rank = f.rank;
  r->key = m->p + *pos + sizeof f;
  r->key_len = f.key_len;
  r->row = r->key + f.key_len;
  r->row_len = f.row_len;
  *pos += sizeof f + body;
  return 1;
}
