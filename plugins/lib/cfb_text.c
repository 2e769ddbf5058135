/* Text helpers shared by the billing readers: lenient-precision decimals,
 * timestamps, number-safe JSON, CSV/JSON writing and the rejects file. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfb.h"

int cfb_dec_parse_round(const char *s, cf_dec *out) {
  size_t n = strlen(s);
  if (cf_dec_parse(s, n, out) == 0) return 0;
  /* Re-write as plain digits with the point placed, then round at 18
   * fractional digits. Only well-formed numbers get here successfully. */
  size_t i = 0;
  int neg = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  char dig[128];
  size_t nd = 0;
  long point = -1;                       /* digits before the point */
  for (; i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'); i++) {
    if (s[i] == '.') {
      if (point >= 0) return CF_EINVALID;
      point = (long)nd;
      continue;
    }
    if (nd == 0 && s[i] == '0' && point < 0) continue;   /* lead zeros */
    if (nd >= sizeof dig - 2) return CF_EINVALID;
    dig[nd++] = s[i];
  }
  if (point < 0) point = (long)nd;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    char *end;
    errno = 0;
    long e = strtol(s + i + 1, &end, 10);
    if (end == s + i + 1 || *end || errno || e > 100 || e < -100)
      return CF_EINVALID;
    point += e;
    i = n;
  }
  if (i != n || nd == 0) return CF_EINVALID;
  /* Keep digits up to position point + 18; round on the next one. */
  long keep = point + CF_DEC_SCALE;
  if (keep < 0) { *out = CF_DEC_ZERO; return 0; }
  if (keep >= (long)nd) return CF_EINVALID;     /* exact parse failed */
  int up = dig[keep] >= '5';
  nd = (size_t)keep;
  char plain[192];
  size_t p = 0;
  if (neg) plain[p++] = '-';
  if (up) {                                      /* carry into dig[] */
    long k = (long)nd - 1;
    while (k >= 0 && dig[k] == '9') dig[k--] = '0';
    if (k >= 0) {
      dig[k]++;
    } else {
      memmove(dig + 1, dig, nd);
      dig[0] = '1';
      nd++;
      point++;
    }
  }
  /* Emit 0.000ddd or ddd.ddd from (dig, nd, point). */
  if (point <= 0) {
    plain[p++] = '0';
    plain[p++] = '.';
    for (long z = 0; z < -point; z++) plain[p++] = '0';
    memcpy(plain + p, dig, nd);
    p += nd;
  } else {
    for (long k = 0; k < point; k++)
      plain[p++] = k < (long)nd ? dig[k] : '0';
    if ((long)nd > point) {
      plain[p++] = '.';
      memcpy(plain + p, dig + point, nd - (size_t)point);
      p += nd - (size_t)point;
    }
  }
  if (p == (size_t)neg) plain[p++] = '0';
  return cf_dec_parse(plain, p, out);
}

static int num(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int cfb_time_parse(const char *s, int64_t *epoch_s) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  size_t n = strlen(s);
  if (n < 10 || num(s, 4, &y) || s[4] != '-' || num(s + 5, 2, &mo) ||
      s[7] != '-' || num(s + 8, 2, &d))
    return CF_EINVALID;
  if (mo < 1 || mo > 12 || d < 1 || d > cf_days_in_month(y, mo))
    return CF_EINVALID;
  const char *p = s + 10;
  long off = 0;
  if (*p == 'T' || *p == ' ') {
    p++;
    if (num(p, 2, &h) || p[2] != ':' || num(p + 3, 2, &mi))
      return CF_EINVALID;
    p += 5;
    if (*p == ':') {
      if (num(p + 1, 2, &se)) return CF_EINVALID;
      p += 3;
      if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return CF_EINVALID;
        while (isdigit((unsigned char)*p)) p++;
      }
    }
    if (h > 23 || mi > 59 || se > 60) return CF_EINVALID;
    if (*p == ' ') p++;
    if (*p == 'Z' && !p[1]) {
      p++;
    } else if (!strcmp(p, "UTC")) {
      p += 3;
    } else if (*p == '+' || *p == '-') {
      int oh, om;
      int sign = *p == '-' ? -1 : 1;
      p++;
      if (num(p, 2, &oh)) return CF_EINVALID;
      p += 2;
      if (*p == ':') p++;
      if (num(p, 2, &om)) return CF_EINVALID;
      p += 2;
      off = sign * (oh * 3600L + om * 60L);
    }
  }
  if (*p) return CF_EINVALID;
  *epoch_s = (int64_t)cf_date_from_ymd(y, mo, d) * 86400 + h * 3600 +
             mi * 60 + se - off;
  return 0;
}

char *cfb_json_quote_numbers(const char *s) {
  struct cf_buf b = CF_BUF_INIT(0);
  int ok = 1;
  for (size_t i = 0; s[i] && ok;) {
    char c = s[i];
    if (c == '\'' || c == '"') {           /* string: re-emit JSON-quoted */
      char q = c;
      ok &= cf_buf_addch(&b, '"') == 0;
      for (i++; s[i] && s[i] != q; i++) {
        if (s[i] == '\\' && s[i + 1]) {
          if (s[i + 1] == '\'') {          /* \' is plain ' in JSON */
            ok &= cf_buf_addch(&b, '\'') == 0;
          } else {
            ok &= cf_buf_add(&b, s + i, 2) == 0;
          }
          i++;
        } else if (s[i] == '"') {
          ok &= cf_buf_adds(&b, "\\\"") == 0;
        } else {
          ok &= cf_buf_addch(&b, s[i]) == 0;
        }
      }
      if (s[i]) i++;
      ok &= cf_buf_addch(&b, '"') == 0;
    } else if (c == '-' || isdigit((unsigned char)c)) {
      size_t j = i + 1;
      while (s[j] && (isalnum((unsigned char)s[j]) || s[j] == '.' ||
                      s[j] == '+' || s[j] == '-'))
        j++;
      ok &= cf_buf_addch(&b, '"') == 0 && cf_buf_add(&b, s + i, j - i) == 0 &&
            cf_buf_addch(&b, '"') == 0;
      i = j;
    } else if (!strncmp(s + i, "None", 4)) {
      ok &= cf_buf_adds(&b, "null") == 0;
      i += 4;
    } else if (!strncmp(s + i, "True", 4)) {
      ok &= cf_buf_adds(&b, "true") == 0;
      i += 4;
    } else if (!strncmp(s + i, "False", 5)) {
      ok &= cf_buf_adds(&b, "false") == 0;
      i += 5;
    } else {
      ok &= cf_buf_addch(&b, c) == 0;
      i++;
    }
  }
  if (!ok) {
    cf_buf_release(&b);
    return NULL;
  }
  if (!b.alloc) return cf_strdup("");
  return cf_buf_detach(&b, NULL);
}

int cfb_csv_field(struct cf_buf *b, const char *s) {
  if (!s) s = "";
  if (!s[strcspn(s, ",\"\r\n")]) return cf_buf_adds(b, s);
  int r = cf_buf_addch(b, '"');
  while (r == 0 && *s) {              /* runs between quotes in one go */
    const char *q = strchr(s, '"');
    size_t n = q ? (size_t)(q - s) : strlen(s);
    r = cf_buf_add(b, s, n);
    s += n;
    if (r == 0 && q) {
      r = cf_buf_add(b, "\"\"", 2);
      s++;
    }
  }
  return r ? r : cf_buf_addch(b, '"');
}

/* Whether the 8 bytes in w hold ',', '"', '\r' or '\n'. A byte equal to
 * c gives (w ^ c) a zero byte, and ((x - 0x01..) & ~x & 0x80..) is
 * non-zero iff x has one; all four are below 0x2d, which most text bytes
 * are not, so that is tested first. */
static int word_needs_quotes(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
  if (!((w - ones * 0x2d) & ~w & high)) return 0;
  uint64_t a = w ^ (ones * ','), q = w ^ (ones * '"');
  uint64_t r = w ^ (ones * '\r'), l = w ^ (ones * '\n');
  return ((((a - ones) & ~a) | ((q - ones) & ~q) | ((r - ones) & ~r) |
           ((l - ones) & ~l)) & high) != 0;
}

static uint64_t load8(const char *s) {
  uint64_t w;
  memcpy(&w, s, 8);
  return w;
}

static void store8(char *out, uint64_t w) { memcpy(out, &w, 8); }

/* Copies a field of n bytes to out a word at a time, unless a word holds
 * a byte that needs quotes: returns 0 copied, 1 needs quotes (out then
 * holds a partial copy). The last word overlaps the one before rather
 * than reading past the field. */
static int copy_unquoted(char *out, const char *s, size_t n) {
  if (n >= 8) {
    uint64_t w;
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (word_needs_quotes(w = load8(s + i))) return 1;
      store8(out + i, w);
    }
    if (word_needs_quotes(w = load8(s + n - 8))) return 1;
    store8(out + n - 8, w);
    return 0;
  }
  if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    if (word_needs_quotes((uint64_t)a << 32 | b)) return 1;
    memcpy(out, &a, 4);
    memcpy(out + n - 4, &b, 4);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') return 1;
    out[i] = s[i];
  }
  return 0;
}

/* Writes s[0..n) quoted, '"' doubled, at out; returns the end. Words
 * without a '"' are copied whole. Room for 2n + 2 bytes is the caller's
 * (a whole-word store at field offset i lands below 2i + 9 <= 2n + 2). */
static char *put_quoted(char *out, const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
  size_t i = 0;
  *out++ = '"';
  while (i + 8 <= n) {
    uint64_t w = load8(s + i), x = w ^ (ones * '"');
    if (!((x - ones) & ~x & high)) {
      store8(out, w);
      out += 8;
      i += 8;
      continue;
    }
    for (size_t end = i + 8; i < end; i++)
      if ((*out++ = s[i]) == '"') *out++ = '"';
  }
  for (; i < n; i++)
    if ((*out++ = s[i]) == '"') *out++ = '"';
  *out++ = '"';
  return out;
}

/* Bytes field s[0..n) takes in a row: as is, or quoted, '"' doubled. */
static size_t field_size(const char *s, size_t n) {
  size_t quotes = 0;
  int quote = 0;
  for (size_t i = 0; i < n; i++) {
    quotes += s[i] == '"';
    quote |= s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
  }
  return quote ? n + 2 + quotes : n;
}

int cfb_row_csv_len(struct cf_buf *b, const char *const col[CFB_NCOLS],
                    const size_t len[CFB_NCOLS]) {
  size_t need = 3 * CFB_NCOLS;          /* worst: quotes, commas, '\n' */
  for (int i = 0; i < CFB_NCOLS; i++) need += 2 * len[i];
  /* A capped buffer may hold the row though not the worst case: size it
   * exactly (the writers below store nothing past a field's final
   * bytes). Growth is then all or nothing, so a row over the cap leaves
   * the buffer as it was. */
  if (b->max && b->len + need > b->max) {
    need = CFB_NCOLS;                   /* commas and '\n' */
    for (int i = 0; i < CFB_NCOLS; i++) need += field_size(col[i], len[i]);
  }
  if (b->len + need + 1 > b->alloc) {
    int g = cf_buf_grow(b, need);
    if (g < 0) return g;
  }
  char *out = b->buf + b->len;
  for (int i = 0; i < CFB_NCOLS; i++) {
    if (!copy_unquoted(out, col[i], len[i])) out += len[i];
    else out = put_quoted(out, col[i], len[i]);
    *out++ = i + 1 < CFB_NCOLS ? ',' : '\n';
  }
  b->len = (size_t)(out - b->buf);
  *out = '\0';
  return 0;
}

int cfb_json_str(struct cf_buf *b, const char *s) {
  int r = cf_buf_addch(b, '"');
  for (; s && *s && r == 0; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') r = cf_buf_addf(b, "\\%c", c);
    else if (c < 0x20) r = cf_buf_addf(b, "\\u%04x", c);
    else r = cf_buf_addch(b, (char)c);
  }
  return r ? r : cf_buf_addch(b, '"');
}

int cfb_rejects_open(struct cfb_rejects *r, const char *path) {
  r->count = 0;
  r->f = fopen(path, "we");
  if (!r->f) return -errno;
  fputs("file,line,reason\n", r->f);
  return 0;
}

int cfb_rejects_add(struct cfb_rejects *r, const char *file, int64_t line,
                    const char *reason) {
  struct cf_buf b = CF_BUF_INIT(0);
  int ret = cfb_csv_field(&b, file);
  if (!ret) ret = cf_buf_addf(&b, ",%lld,", (long long)line);
  if (!ret) ret = cfb_csv_field(&b, reason);
  if (!ret) ret = cf_buf_addch(&b, '\n');
  if (!ret && r->f && fwrite(b.buf, 1, b.len, r->f) != b.len) ret = -EIO;
  cf_buf_release(&b);
  if (!ret) r->count++;
  return ret;
}

int cfb_rejects_append(struct cfb_rejects *r, FILE *part, int64_t count) {
  char buf[65536];
  size_t n;
  rewind(part);
  while ((n = fread(buf, 1, sizeof buf, part)) > 0)
    if (r->f && fwrite(buf, 1, n, r->f) != n) return -EIO;
  if (ferror(part)) return -EIO;
  r->count += count;
  return 0;
}

int cfb_rejects_close(struct cfb_rejects *r) {
  if (!r->f) return 0;
  int ret = 0;
  if (fflush(r->f) || fsync(fileno(r->f))) ret = -errno;
  if (fclose(r->f) && !ret) ret = -errno;
  r->f = NULL;
  return ret;
}

void cfb_rowbuf_init(struct cfb_rowbuf *rb) {
  cf_buf_init(&rb->arena, 0);
  cfb_rowbuf_reset(rb);
}

void cfb_rowbuf_release(struct cfb_rowbuf *rb) { cf_buf_release(&rb->arena); }

/* Offset 0 of the arena is always an empty string ("" for unset). */
void cfb_rowbuf_reset(struct cfb_rowbuf *rb) {
  cf_buf_reset(&rb->arena);
  cf_buf_addch(&rb->arena, '\0');
  memset(rb->off, 0, sizeof rb->off);
  memset(rb->len, 0, sizeof rb->len);
  memset(rb->ref, 0, sizeof rb->ref);
}

int cfb_rowbuf_setn(struct cfb_rowbuf *rb, enum cfb_col c, const char *s,
                    size_t n) {
  struct cf_buf *a = &rb->arena;
  rb->ref[c] = NULL;
  if (!n) {
    rb->off[c] = rb->len[c] = 0;
    return 0;
  }
  /* The arena is reused row after row: growing is rare, so it is done
   * here rather than through cf_buf_add per value. */
  if (a->len + n + 2 > a->alloc) {
    int r = cf_buf_grow(a, n + 1);
    if (r < 0) return r;
  }
  memcpy(a->buf + a->len, s, n);
  a->buf[a->len + n] = '\0';
  rb->off[c] = a->len;
  rb->len[c] = n;
  a->len += n + 1;
  a->buf[a->len] = '\0';               /* cf_buf's invariant */
  return 0;
}

void cfb_rowbuf_ref(struct cfb_rowbuf *rb, enum cfb_col c, const char *s,
                    size_t n) {
  rb->ref[c] = n ? s : NULL;
  rb->off[c] = 0;
  rb->len[c] = n;
}

int cfb_rowbuf_set(struct cfb_rowbuf *rb, enum cfb_col c, const char *s) {
  return cfb_rowbuf_setn(rb, c, s ? s : "", s ? strlen(s) : 0);
}

int cfb_rowbuf_dec(struct cfb_rowbuf *rb, enum cfb_col c, cf_dec d) {
  char t[CF_DEC_MAXSTR];
  return cfb_rowbuf_setn(rb, c, t, cf_dec_format(d, t));
}

/* cf_format_iso_s's text, "YYYY-MM-DDTHH:MM:SSZ": 20 bytes (printf-free
 * for years 0..9999; cfb_time_parse's forms give years -1..10000, also
 * 20 bytes), 21 only for a five-character year, which it leaves
 * unterminated. */
int cfb_rowbuf_time(struct cfb_rowbuf *rb, enum cfb_col c, int64_t t) {
  char s[32];
  cf_format_iso_s(t, s);
  return cfb_rowbuf_setn(rb, c, s, s[20] ? 21 : 20);
}

int cfb_rowbuf_time_text(struct cfb_rowbuf *rb, enum cfb_col c,
                         const char *s, size_t n, int64_t t) {
  /* Of the forms cfb_time_parse takes, only "YYYY-MM-DDTHH:MM:SSZ" has
   * 20 bytes, a 'T' and a final 'Z'; a second of 60 parses as the next
   * minute, so that one is formatted. */
  if (n == 20 && s[10] == 'T' && s[19] == 'Z' && s[17] < '6')
    return cfb_rowbuf_setn(rb, c, s, n);
  return cfb_rowbuf_time(rb, c, t);
}

void cfb_rowbuf_finish(struct cfb_rowbuf *rb, struct cfb_cost *out) {
  for (int i = 0; i < CFB_NCOLS; i++) {
    out->col[i] = rb->ref[i] ? rb->ref[i] : rb->arena.buf + rb->off[i];
    out->len[i] = rb->len[i];
  }
}
