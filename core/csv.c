/* Streaming RFC 4180 CSV reader: bytes come from read(2) or libarchive in
 * fixed chunks, or from the caller's memory as one chunk; one record is
 * held at a time (capped), so memory never depends on the file size.
 * Malformed records are reported and skipped. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#ifdef __SSE2__
#include <emmintrin.h>           /* baseline on x86-64: no CPU check */
#endif
#include "costflow/common.h"
#include "costflow/csv.h"

#define CSV_CHUNK (64 * 1024)
#define CSV_RECORD_MAX (1024 * 1024)     /* bytes of one record */

struct cf_csv {
  int fd;                        /* plain file, or -1 */
  struct archive *ar;            /* .gz / .zip, or NULL */
  char *own;                     /* CSV_CHUNK buffer (NULL over memory) */
  const char *chunk;             /* input: own, or the caller's bytes */
  size_t chunk_len, chunk_pos;
  int eof;                       /* source exhausted */
  struct cf_buf replay;          /* bytes to parse again after a resync */
  size_t replay_pos;
  struct cf_buf raw;             /* raw bytes of the current record */
  struct cf_buf val;             /* unescaped fields, NUL-separated */
  size_t *offs, *lens;           /* per field, into val */
  const char **ptrs;
  size_t nfields, cap_fields;
  int64_t line;                  /* physical line of the next byte */
  int started;                   /* BOM check done */
  int slow_only;                 /* fast path off (differential tests) */
  int nul;                       /* the last record holds a NUL byte */
  int failed;                    /* a read error (< 0): the input ends */
  int64_t base, nread;           /* plain file: start offset, bytes read */
};

static void set_err(char **errmsg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(char **errmsg, const char *fmt, ...) {
  if (!errmsg) return;
  struct cf_buf b = CF_BUF_INIT(0);
  va_list ap;
  va_start(ap, fmt);
  cf_buf_vaddf(&b, fmt, ap);
  va_end(ap);
  *errmsg = b.len ? cf_buf_detach(&b, NULL) : cf_strdup("error");
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcasecmp(s + a - b, suf) == 0;
}

/* A zip member that is a billing CSV: a regular file named *.csv. */
static int csv_member(struct archive_entry *ent) {
  const char *name = archive_entry_pathname(ent);
  return archive_entry_filetype(ent) == AE_IFREG && name &&
         ends_with(name, ".csv");
}

/* A zip must hold exactly one .csv member: reading only the first of
 * several would silently drop the others' costs. Counted from the
 * central directory (the seekable reader), so no member is decompressed. */
static int zip_csv_members(const char *path, char **errmsg) {
  struct archive *a = archive_read_new();
  struct archive_entry *ent;
  char first[256] = "";
  int n = 0, r;
  if (!a) return -ENOMEM;
  archive_read_support_format_zip_seekable(a);
  if (archive_read_open_filename(a, path, CSV_CHUNK) != ARCHIVE_OK) {
    set_err(errmsg, "%s: %s", path, archive_error_string(a)
                                    ? archive_error_string(a)
                                    : "cannot read archive");
    archive_read_free(a);
    return -EIO;
  }
  while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK ||
         r == ARCHIVE_WARN) {
    if (!csv_member(ent)) continue;
    const char *name = archive_entry_pathname(ent);
    if (++n == 1) snprintf(first, sizeof first, "%s", name);
    else {
      set_err(errmsg, "%s: zip holds more than one csv member (%s, %s): "
              "deliver one billing file per zip", path, first, name);
      archive_read_free(a);
      return CF_EDATA;
    }
  }
  archive_read_free(a);
  return n;
}

/* Positions the archive on the member to read: the one *.csv member of a
 * zip; the single raw stream of a .gz. */
static int open_archive(struct cf_csv *c, const char *path, int zip,
                        char **errmsg) {
  struct archive_entry *ent;
  if (zip) {
    int n = zip_csv_members(path, errmsg);
    if (n < 0) return n;
    if (n == 0) {
      set_err(errmsg, "%s: zip holds no csv member", path);
      return CF_EDATA;
    }
  }
  c->ar = archive_read_new();
  if (!c->ar) return -ENOMEM;
  archive_read_support_filter_all(c->ar);
  if (zip) {
    archive_read_support_format_zip(c->ar);
  } else {
    archive_read_support_format_raw(c->ar);
    /* a complete .gz of nothing (an empty export shard) is no rows, not a
     * read error: the raw format refuses a stream of zero bytes */
    archive_read_support_format_empty(c->ar);
  }
  if (archive_read_open_filename(c->ar, path, CSV_CHUNK) != ARCHIVE_OK)
    goto fail;
  if (!zip) {
    int r = archive_read_next_header(c->ar, &ent);
    if (r == ARCHIVE_EOF) c->eof = 1;
    else if (r != ARCHIVE_OK) goto fail;
    return 0;
  }
  /* libarchive streams zip members forward only: skip to the one .csv
   * (zip_csv_members saw it in the central directory). */
  for (;;) {
    int r = archive_read_next_header(c->ar, &ent);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) goto fail;
    if (csv_member(ent)) return 0;
  }
fail:
  set_err(errmsg, "%s: %s", path, archive_error_string(c->ar)
                                  ? archive_error_string(c->ar)
                                  : "cannot read archive");
  return -EIO;
}

/* A reader with no input yet; NULL when out of memory. */
static struct cf_csv *csv_new(void) {
  struct cf_csv *c = cf_calloc(1, sizeof *c);
  if (!c) return NULL;
  c->fd = -1;
  c->line = 1;
  cf_buf_init(&c->replay, 0);
  cf_buf_init(&c->raw, CSV_RECORD_MAX);
  /* Unescaped text plus one NUL per field never outgrows 2x raw. */
  cf_buf_init(&c->val, 2 * (size_t)CSV_RECORD_MAX + 2);
  return c;
}

int cf_csv_open_mem(const void *data, size_t len, struct cf_csv **out) {
  struct cf_csv *c = csv_new();
  *out = NULL;
  if (!c) return -ENOMEM;
  /* One chunk that is all the input: every record whose line ends takes
   * the fast path, and nothing is ever read or copied in. */
  c->chunk = data;
  c->chunk_len = len;
  c->nread = (int64_t)len;
  c->eof = 1;
  *out = c;
  return 0;
}

int cf_csv_open(const char *path, struct cf_csv **out, char **errmsg) {
  int ret = -ENOMEM;
  struct cf_csv *c = csv_new();
  *out = NULL;
  if (!c) goto fail;
  if (!(c->own = cf_malloc(CSV_CHUNK))) goto fail;
  c->chunk = c->own;
  if (ends_with(path, ".gz") || ends_with(path, ".zip")) {
    ret = open_archive(c, path, ends_with(path, ".zip"), errmsg);
    if (ret < 0) goto fail_quiet;
  } else {
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
      ret = -errno;
      set_err(errmsg, "%s: %s", path, strerror(errno));
      goto fail_quiet;
    }
  }
  *out = c;
  return 0;
fail:
  set_err(errmsg, "%s: %s", path, cf_strerror(ret));
fail_quiet:
  cf_csv_close(c);
  return ret;
}

int cf_csv_open_at(const char *path, int64_t offset, int64_t line,
                   struct cf_csv **out, char **errmsg) {
  *out = NULL;
  if (ends_with(path, ".gz") || ends_with(path, ".zip")) {
    set_err(errmsg, "%s: compressed files are read from the start", path);
    return CF_EINVALID;
  }
  struct cf_csv *c;
  int ret = cf_csv_open(path, &c, errmsg);
  if (ret < 0) return ret;
  if (lseek(c->fd, (off_t)offset, SEEK_SET) < 0) {
    ret = -errno;
    set_err(errmsg, "%s: %s", path, strerror(errno));
    cf_csv_close(c);
    return ret;
  }
  c->base = offset;
  c->line = line;
  c->started = offset > 0;               /* a BOM only at byte 0 */
  *out = c;
  return 0;
}

int64_t cf_csv_tell(const struct cf_csv *c, int64_t *line) {
  if (line) *line = c->line;
  if (c->ar) return -1;
  return c->base + c->nread - (int64_t)(c->chunk_len - c->chunk_pos) -
         (int64_t)(c->replay.len - c->replay_pos);
}

void cf_csv_set_fast_path(struct cf_csv *c, int on) { c->slow_only = !on; }

int cf_csv_record_has_nul(const struct cf_csv *c) { return c->nul; }

void cf_csv_close(struct cf_csv *c) {
  if (!c) return;
  if (c->fd >= 0) close(c->fd);
  if (c->ar) archive_read_free(c->ar);
  cf_free(c->own);
  cf_buf_release(&c->replay);
  cf_buf_release(&c->raw);
  cf_buf_release(&c->val);
  cf_free(c->offs);
  cf_free(c->lens);
  cf_free(c->ptrs);
  cf_free(c);
}

/* Refills the chunk; 0 ok (possibly eof), negative on read error. A read
 * error ends the input for good: a truncated .gz would fail again on every
 * retry, and each failure would be one more error record. */
static int refill(struct cf_csv *c) {
  c->chunk_pos = c->chunk_len = 0;
  if (c->failed) return c->failed;
  if (c->eof) return 0;
  ssize_t n;
  if (c->ar) {
    n = archive_read_data(c->ar, c->own, CSV_CHUNK);
    if (n < 0) return c->failed = -EIO;
  } else {
    do n = read(c->fd, c->own, CSV_CHUNK); while (n < 0 && errno == EINTR);
    if (n < 0) return c->failed = errno == EPERM ? -EIO : -errno;
    c->nread += n;
  }
  if (n == 0) c->eof = 1;
  c->chunk_len = (size_t)n;
  return 0;
}

/* Why the input could not be read on: libarchive's words for a .gz or
 * .zip ("truncated gzip input"), else the OS error. */
static void read_err(struct cf_csv *c, char **errmsg) {
  const char *why = c->ar ? archive_error_string(c->ar) : NULL;
  set_err(errmsg, "read error: %s", why ? why : strerror(-c->failed));
}

/* Next input byte (0..255), -1 at end, or < -1 on a read error. */
static int peek_byte(struct cf_csv *c) {
  if (c->replay_pos < c->replay.len)
    return (unsigned char)c->replay.buf[c->replay_pos];
  if (c->chunk_pos >= c->chunk_len) {
    int r = refill(c);
    if (r < 0) return r < -1 ? r : -2;
    if (c->chunk_len == 0) return -1;
  }
  return (unsigned char)c->chunk[c->chunk_pos];
}

static void skip_byte(struct cf_csv *c) {
  if (c->replay_pos < c->replay.len) {
    if (++c->replay_pos == c->replay.len) {
      cf_buf_reset(&c->replay);
      c->replay_pos = 0;
    }
  } else {
    c->chunk_pos++;
  }
}

/* Strict UTF-8 check (no overlongs, no surrogates, <= U+10FFFF). Sets
 * *nul if a byte is NUL (valid UTF-8, but it cuts a C string short). */
static int utf8_valid(const unsigned char *s, size_t n, int *nul) {
  const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
  size_t i = 0;
  *nul = 0;
  while (i < n) {
#ifdef __SSE2__
    /* ASCII sixteen bytes at a time: no top bit set, no byte zero. */
    const __m128i zero = _mm_setzero_si128();
    while (i + 16 <= n) {
      __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
      if (_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, zero))))
        break;
      i += 16;
    }
#endif
    /* ASCII eight bytes at a time: no byte has its top bit set, and none
     * is zero ((w - 0x01..) & ~w has a top bit set iff one is). */
    uint64_t w;
    while (i + 8 <= n &&
           (memcpy(&w, s + i, 8), !((w | ((w - ones) & ~w)) & high)))
      i += 8;
    if (i == n) break;
    unsigned char b = s[i];
    if (b < 0x80) {
      *nul |= b == 0;
      i++;
      continue;
    }
    size_t k;
    unsigned cp;
    if (b >= 0xC2 && b <= 0xDF) { k = 1; cp = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) { k = 2; cp = b & 0x0F; }
    else if (b >= 0xF0 && b <= 0xF4) { k = 3; cp = b & 0x07; }
    else return 0;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += k + 1;
  }
  return 1;
}

/* Bytes that end a run of plain field text: unquoted fields stop at
 * ',', '\n', '\r'; quoted fields at '"' and '\n' (line counting). */
static const unsigned char stop_unquoted[256] = {[','] = 1, ['\n'] = 1,
                                                 ['\r'] = 1};
static const unsigned char stop_quoted[256] = {['"'] = 1, ['\n'] = 1};

/* Within the byte-at-a-time parser: copies the run of plain bytes at the
 * current chunk position into raw and val in one go. Returns 0 (possibly having
 * copied nothing) or a negative error from val (too big / no memory). The
 * record cap is respected: the byte that would cross it is left to the
 * byte-at-a-time path, which reports it. */
static int copy_run(struct cf_csv *c, int quoted) {
  if (c->replay_pos < c->replay.len) return 0;
  const unsigned char *stop = quoted ? stop_quoted : stop_unquoted;
  const char *p = c->chunk + c->chunk_pos;
  size_t n = c->chunk_len - c->chunk_pos;
  size_t room = CSV_RECORD_MAX - c->raw.len;
  if (n > room) n = room;
  size_t k = 0;
  while (k < n && !stop[(unsigned char)p[k]]) k++;
  if (k == 0) return 0;
  int r = cf_buf_add(&c->raw, p, k);
  if (r < 0) return r;
  c->chunk_pos += k;
  return cf_buf_add(&c->val, p, k);
}

static int add_field(struct cf_csv *c) {
  if (c->nfields == c->cap_fields) {
    size_t need = c->nfields + 1, co = c->cap_fields, cl = co, cp = co;
    if (cf_grow(&c->offs, &co, need, sizeof *c->offs, 64) < 0 ||
        cf_grow(&c->lens, &cl, need, sizeof *c->lens, 64) < 0 ||
        cf_grow(&c->ptrs, &cp, need, sizeof *c->ptrs, 64) < 0)
      return -ENOMEM;
    c->cap_fields = co;                   /* the three grew alike */
  }
  c->offs[c->nfields++] = c->val.len;
  return 0;
}

static int end_field(struct cf_csv *c) {
  size_t i = c->nfields - 1;
  c->lens[i] = c->val.len - c->offs[i];
  return cf_buf_addch(&c->val, '\0');
}

/* After an error inside a quoted field that ran past a line end (a stray
 * quote), parse again from the byte after the record's first line end so
 * only that one line is lost. */
static int resync_after_first_line(struct cf_csv *c, int64_t rec_line) {
  char *nl = memchr(c->raw.buf, '\n', c->raw.len);
  if (!nl) return 0;
  struct cf_buf nb = CF_BUF_INIT(0);
  size_t skip = (size_t)(nl + 1 - c->raw.buf);
  if (cf_buf_add(&nb, c->raw.buf + skip, c->raw.len - skip) < 0 ||
      cf_buf_add(&nb, c->replay.buf + c->replay_pos,
                 c->replay.len - c->replay_pos) < 0) {
    cf_buf_release(&nb);
    return -ENOMEM;
  }
  cf_buf_release(&c->replay);
  c->replay = nb;
  c->replay_pos = 0;
  c->line = rec_line + 1;
  return 0;
}

/* Skips input up to and including the next '\n'. */
static int skip_line(struct cf_csv *c) {
  for (;;) {
    int b = peek_byte(c);
    if (b < -1) return b;
    if (b < 0) return 0;
    skip_byte(c);
    if (b == '\n') { c->line++; return 0; }
  }
}

/* Copies the unquoted text at q to out up to the first ',' or '\r' (or
 * nl, the record's '\n'); returns its length. Sixteen bytes at a time
 * (SSE2 compares) while a whole vector lies before nl, then eight: a byte
 * equal to c gives (w ^ c) a zero byte, and the lowest set bit of
 * (x - 0x01..) & ~x & 0x80.. marks the first one exactly. Stores whole
 * vectors: out must have 15 bytes of room past what is copied. */
static size_t copy_plain(char *out, const char *q, const char *nl) {
  const char *s = q;
#ifdef __SSE2__
  const __m128i comma = _mm_set1_epi8(','), cr = _mm_set1_epi8('\r');
  while (nl - s >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)s);
    _mm_storeu_si128((__m128i *)(out + (s - q)), v);
    unsigned hit = (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, cr)));
    if (hit) return (size_t)(s - q) + (size_t)__builtin_ctz(hit);
    s += 16;
  }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
  while (nl - s >= 8) {
    uint64_t w, a, r;
    memcpy(&w, s, 8);
    memcpy(out + (s - q), &w, 8);
    a = w ^ (ones * ','), r = w ^ (ones * '\r');
    uint64_t hit = (((a - ones) & ~a) | ((r - ones) & ~r)) & high;
    if (hit) return (size_t)(s - q) + (size_t)__builtin_ctzll(hit) / 8;
    s += 8;
  }
#endif
  for (; s < nl && *s != ',' && *s != '\r'; s++) out[s - q] = *s;
  return (size_t)(s - q);
}

/* Fast path of cf_csv_next for the common record: it lies wholly in the
 * current chunk and ends at a '\n' outside quotes. One tight loop, same
 * rules as the byte-at-a-time parser below (RFC 4180 quotes, "" escapes,
 * text kept after a closing quote, CRLF). Anything unusual -- a line break
 * inside quotes, a record crossing the chunk end, invalid UTF-8 -- returns
 * 0 untouched and the slow path parses (and reports) the record.
 * Returns 1 parsed, 2 blank line consumed, 0 not handled, or -ENOMEM. */
static int fast_record(struct cf_csv *c) {
  if (c->slow_only || c->replay_pos < c->replay.len) return 0;
  const char *p = c->chunk + c->chunk_pos;
  const char *nl = memchr(p, '\n', c->chunk_len - c->chunk_pos);
  if (!nl) return 0;
  size_t n = (size_t)(nl - p) + 1;
  if (n > CSV_RECORD_MAX) return 0;
  /* Unescaped text never outgrows the record; plus one NUL per field,
   * and the 16 bytes copy_plain may write ahead. */
  if (cf_buf_grow(&c->val, 2 * n + 17) < 0) return -ENOMEM;
  char *out = c->val.buf;
  size_t o = 0;
  const char *q = p;
  c->nfields = 0;
  for (;;) {
    if (c->nfields == c->cap_fields) {
      c->val.len = o;
      if (add_field(c) < 0) return -ENOMEM;
      c->nfields--;
    }
    c->offs[c->nfields++] = o;
    if (*q == '"') {
      for (q++;;) {
        const char *e = memchr(q, '"', (size_t)(nl - q));
        if (!e) return 0;                 /* quoted line break: slow path */
        memcpy(out + o, q, (size_t)(e - q));
        o += (size_t)(e - q);
        q = e + 1;
        if (*q != '"') break;
        out[o++] = '"';
        q++;
      }
    }
    for (;;) {                            /* plain text, or after a quote */
      size_t k = copy_plain(out + o, q, nl);
      o += k;
      q += k;
      if (*q != '\r') break;               /* ',' or the '\n' */
      if (q[1] == '\n') {
        q++;
        break;
      }
      out[o++] = *q++;                      /* a lone '\r' is text */
    }
    c->lens[c->nfields - 1] = o - c->offs[c->nfields - 1];
    out[o++] = '\0';
    if (*q == '\n') break;
    q++;                                  /* the ',' */
  }
  if (!utf8_valid((const unsigned char *)p, n, &c->nul)) return 0;
  c->val.len = o - 1;                     /* the last NUL ends the buffer */
  c->chunk_pos += n;
  c->line++;
  if (c->nfields == 1 && c->lens[0] == 0 && *p != '"') return 2;
  return 1;
}

/* Points the caller at the parsed record; returns 1. */
static int hand_out(struct cf_csv *c, const char ***fields,
                    const size_t **lens, size_t *nfields) {
  for (size_t i = 0; i < c->nfields; i++)
    c->ptrs[i] = c->val.buf + c->offs[i];
  *fields = c->ptrs;
  *lens = c->lens;
  *nfields = c->nfields;
  return 1;
}

enum { ST_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE_IN_QUOTED };

int cf_csv_next(struct cf_csv *c, const char ***fields, const size_t **lens,
                size_t *nfields, int64_t *line, char **errmsg) {
  int ret;
  if (errmsg) *errmsg = NULL;
  if (!c->started) {
    c->started = 1;
    /* A UTF-8 BOM is at most 3 bytes at the start of the first chunk. */
    if (peek_byte(c) == 0xEF && c->chunk_len >= 3 &&
        memcmp(c->chunk, "\xEF\xBB\xBF", 3) == 0)
      c->chunk_pos = 3;
  }
restart:
  cf_buf_reset(&c->raw);
  cf_buf_reset(&c->val);
  c->nfields = 0;
  int64_t rec_line = c->line;
  *line = rec_line;
  int st = ST_START;
  if ((ret = peek_byte(c)) == -1) return 0;
  if (ret < -1) {
    read_err(c, errmsg);
    return ret;
  }
  if ((ret = fast_record(c)) == 2) goto restart;
  if (ret < 0) return ret;
  if (ret == 1) return hand_out(c, fields, lens, nfields);
  c->nfields = 0;
  cf_buf_reset(&c->val);
  if ((ret = add_field(c)) < 0) return ret;
  for (;;) {
    int b = peek_byte(c);
    if (b < -1) {
      read_err(c, errmsg);
      return b;
    }
    if (b >= 0) {
      skip_byte(c);
      /* cf_buf may round its limit up; the cap is checked here. */
      if (c->raw.len >= CSV_RECORD_MAX || cf_buf_addch(&c->raw, (char)b) < 0) {
        /* Over the cap: drop the record and find a line start. */
        int quoted = st == ST_QUOTED;
        if (quoted && memchr(c->raw.buf, '\n', c->raw.len))
          ret = resync_after_first_line(c, rec_line);
        else
          ret = skip_line(c);
        if (ret < 0) {                 /* the reason is the read's */
          if (c->failed) read_err(c, errmsg);
          return ret;
        }
        set_err(errmsg, "record over %d bytes", CSV_RECORD_MAX);
        return CF_EDATA;
      }
    }
    if (b == '\n') c->line++;
    switch (st) {
    case ST_START:
    case ST_UNQUOTED:
      if (b == '"' && st == ST_START) { st = ST_QUOTED; continue; }
      if (b == ',' || b == '\n' || b == -1) break;
      if (b == '\r' && peek_byte(c) == '\n') continue;   /* CRLF */
      st = ST_UNQUOTED;
      if (cf_buf_addch(&c->val, (char)b) < 0) goto toobig;
      if (copy_run(c, 0) < 0) goto toobig;
      continue;
    case ST_QUOTED:
      if (b == -1) {
        set_err(errmsg, "unterminated quoted field");
        if ((ret = resync_after_first_line(c, rec_line)) < 0) return ret;
        return CF_EDATA;
      }
      if (b == '"') { st = ST_QUOTE_IN_QUOTED; continue; }
      if (cf_buf_addch(&c->val, (char)b) < 0) goto toobig;
      if (copy_run(c, 1) < 0) goto toobig;
      continue;
    case ST_QUOTE_IN_QUOTED:
      if (b == '"') {                                  /* "" escape */
        st = ST_QUOTED;
        if (cf_buf_addch(&c->val, '"') < 0) goto toobig;
        continue;
      }
      if (b == '\r' && peek_byte(c) == '\n') continue;
      if (b == ',' || b == '\n' || b == -1) break;
      /* Text after a closing quote: keep it, as most readers do. */
      st = ST_UNQUOTED;
      if (cf_buf_addch(&c->val, (char)b) < 0) goto toobig;
      continue;
    }
    /* End of a field (b is ',', '\n' or end of input). */
    if ((ret = end_field(c)) < 0) goto toobig;
    if (b == ',') {
      if ((ret = add_field(c)) < 0) return ret;
      st = ST_START;
      continue;
    }
    break;
  }
  /* Blank lines carry no record. */
  if (c->nfields == 1 && c->lens[0] == 0 && c->raw.len &&
      c->raw.buf[0] != '"')
    goto restart;
  if (!utf8_valid((const unsigned char *)c->raw.buf, c->raw.len, &c->nul)) {
    set_err(errmsg, "invalid UTF-8");
    return CF_EDATA;
  }
  return hand_out(c, fields, lens, nfields);
toobig:
  if ((ret = skip_line(c)) < 0) {
    if (c->failed) read_err(c, errmsg);
    return ret;
  }
  set_err(errmsg, "record over %d bytes", CSV_RECORD_MAX);
  return CF_EDATA;
}
