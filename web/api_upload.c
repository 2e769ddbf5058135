/* POST /api/upload: a billing file streamed into the landing folder.
 * The body (raw, or the first file part of multipart/form-data) goes to a
 * hidden temporary file in the target folder chunk by chunk (each write
 * at most one read buffer, so the loop never stalls long), hashed as it
 * streams; at the end it is fsynced and renamed into place, so the
 * sensor only ever sees complete files. Query: name=FILE (raw bodies, or
 * header X-Filename), dir=SUB/DIR (optional), overwrite=1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "web-int.h"

#define MAX_NAME 200
#define MAX_DEPTH 8
#define MAX_PART_HEADERS 8192

enum { MP_PREAMBLE, MP_HEADERS, MP_DATA, MP_SKIP, MP_END };

#define PUSH_BYTES (8u << 20)

struct cf__upload {
  int fd;
  char *dir, *rel_dir, *tmp, *name;
  EVP_MD_CTX *md;
  uint64_t size, cap;
  uint64_t pushed;             /* bytes whose writeback has been started */
  int overwrite, status;       /* status: HTTP error to answer, or 0 */
  int multipart, mp, got_file;
  char *delim;                 /* "\r\n--BOUNDARY" */
  size_t dlen;
  struct cf_buf hold;          /* unconsumed multipart bytes */
};

/* A file name we accept as is: UTF-8, no traversal, no hidden or partial
 * files, nothing a shell or the sensor would trip on. */
static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_NAME || s[0] == '.' || strstr(s, "..") ||
      !cf_utf8_valid(s, n))
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || strchr("/\\:*?\"<>|", c)) return 0;
  }
  if ((n > 5 && !strcmp(s + n - 5, ".part")) ||
      (n > 4 && !strcmp(s + n - 4, ".tmp")))
    return 0;
  return 1;
}

/* dir=aws/year=2025/month=01: components of [A-Za-z0-9_=.-], none
 * hidden, at most MAX_DEPTH. */
static int dir_ok(const char *s) {
  int depth = 0;
  const char *p = s;
  while (*p) {
    size_t n = strcspn(p, "/");
    if (n == 0 || p[0] == '.' || ++depth > MAX_DEPTH) return 0;
    for (size_t i = 0; i < n; i++)
      if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_=.-", p[i]))
        return 0;
    p += n;
    if (*p == '/') p++;
  }
  return depth > 0 && s[strlen(s) - 1] != '/';
}

static void up_free(struct cf__upload *u) {
  if (u->fd >= 0) close(u->fd);
  if (u->tmp) unlink(u->tmp);
  EVP_MD_CTX_free(u->md);
  cf_free(u->dir);
  cf_free(u->rel_dir);
  cf_free(u->tmp);
  cf_free(u->name);
  cf_free(u->delim);
  cf_buf_release(&u->hold);
  cf_free(u);
}

void cf__upload_abort(struct cf_web_req *r) {
  if (!r->upload) return;
  up_free(r->upload);
  r->upload = NULL;
}

static int fail(struct cf_web_req *r, int status, const char *msg) {
  cf__respond_error(r, status, "%s", msg);
  return -1;
}

/* multipart/form-data; boundary="x" -> "\r\n--x" */
static char *boundary_delim(const char *ct) {
  const char *b = strcasestr(ct, "boundary=");
  if (!b) return NULL;
  b += 9;
  size_t n;
  if (*b == '"') {
    b++;
    n = strcspn(b, "\"");
  } else {
    n = strcspn(b, "; \t");
  }
  if (n == 0 || n > 70) return NULL;   /* RFC 2046 limit */
  return cf_asprintf("\r\n--%.*s", (int)n, b);
}

int cf__upload_begin(struct cf_web_req *r) {
  struct cf_web *w = r->web;
  struct cf__upload *u = cf_calloc(1, sizeof *u);
  char *q = NULL;
  if (!u) return fail(r, 500, "out of memory");
  u->fd = -1;
  cf_buf_init(&u->hold, 2 * 65536 + MAX_PART_HEADERS);
  r->upload = u;
  u->cap = w->o.max_upload;
  const char *cl = cf__req_header(r, "Content-Length");
  if (cl && strtoull(cl, NULL, 10) > u->cap + 65536)
    return fail(r, 413, "upload larger than the configured cap");
  const char *ct = cf__req_header(r, "Content-Type");
  if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
    u->multipart = 1;
    if (!(u->delim = boundary_delim(ct)))
      return fail(r, 400, "multipart body without a usable boundary");
    u->dlen = strlen(u->delim);
    /* the first boundary has no leading CRLF: pretend it had one */
    cf_buf_add(&u->hold, "\r\n", 2);
  } else {
    q = cf__query_get(r, "name");
    const char *h = cf__req_header(r, "X-Filename");
    u->name = q ? q : cf_strdup(h);
    q = NULL;
    if (!u->name)
      return fail(r, 400, "raw upload needs ?name=FILE or X-Filename");
    if (!name_ok(u->name))
      return fail(r, 400, "file name refused: no paths, no leading dot, "
                  "no '..', no .part/.tmp, at most 200 characters");
  }
  q = cf__query_get(r, "dir");
  if (q && *q && !dir_ok(q)) {
    cf_free(q);
    return fail(r, 400, "dir refused: relative components of "
                "[A-Za-z0-9_=.-], none hidden, at most 8 deep");
  }
  u->rel_dir = q && *q ? q : NULL;
  if (q && !*q) cf_free(q);
  q = cf__query_get(r, "overwrite");
  u->overwrite = q && (!strcmp(q, "1") || !strcmp(q, "true"));
  cf_free(q);
  u->dir = u->rel_dir ? cf_asprintf("%s/%s", w->landing, u->rel_dir)
                      : cf_strdup(w->landing);
  if (!u->dir || cf_mkdir_p(u->dir, 0755) < 0)
    return fail(r, 500, "cannot create the landing folder");
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    return fail(r, 500, "no randomness");
  /* hidden and .part: the sensor ignores it until the rename */
  u->tmp = cf_asprintf("%s/.upload-%02x%02x%02x%02x%02x%02x%02x%02x.part",
                       u->dir, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                       rnd[5], rnd[6], rnd[7]);
  if (!u->tmp) return fail(r, 500, "out of memory");
  u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (u->fd < 0) {
    cf_free(u->tmp);
    u->tmp = NULL;
    return fail(r, 500, "cannot create the temporary file");
  }
  u->md = EVP_MD_CTX_new();
  if (!u->md || !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL))
    return fail(r, 500, "no sha256");
  return 0;
}

static int emit(struct cf_web_req *r, const char *p, size_t n) {
  struct cf__upload *u = r->upload;
  if (!n) return 0;
  u->size += n;
  if (u->size > u->cap) return fail(r, 413, "upload larger than the cap");
  EVP_DigestUpdate(u->md, p, n);
  while (n) {
    ssize_t k = write(u->fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0)
      return fail(r, errno == ENOSPC ? 507 : 500,
                  errno == ENOSPC ? "disk full" : "write failed");
    p += k;
    n -= (size_t)k;
  }
  /* The final fsync runs on the loop (a handler answers at once): start
   * the disk writing as the bytes come, so that it finds little left. */
  if (u->size - u->pushed >= PUSH_BYTES) {
    sync_file_range(u->fd, (off_t)u->pushed, (off_t)(u->size - u->pushed),
                    SYNC_FILE_RANGE_WRITE);
    u->pushed = u->size;
  }
  return 0;
}

/* filename="..." of a part's headers, malloc'd, or NULL. */
static char *part_filename(const char *h, size_t n) {
  char *copy = cf_strndup(h, n), *out = NULL;
  if (!copy) return NULL;
  for (char *line = copy; line && *line;) {
    char *eol = strstr(line, "\r\n");
    if (eol) *eol = '\0';
    if (!strncasecmp(line, "Content-Disposition:", 20)) {
      char *f = strcasestr(line, "filename=\"");
      if (f) {
        f += 10;
        char *e = strchr(f, '"');
        if (e) out = cf_strndup(f, (size_t)(e - f));
      }
    }
    line = eol ? eol + 2 : NULL;
  }
  cf_free(copy);
  return out;
}

/* Consumes as much of u->hold as the state machine can. */
static int mp_run(struct cf_web_req *r) {
  struct cf__upload *u = r->upload;
  for (;;) {
    char *b = u->hold.buf;
    size_t n = u->hold.len, used = 0;
    if (u->mp == MP_END) {
      cf_buf_reset(&u->hold);    /* epilogue: ignored */
      return 0;
    }
    if (u->mp == MP_HEADERS) {
      char *e = memmem(b, n, "\r\n\r\n", 4);
      if (!e) {
        if (n > MAX_PART_HEADERS) return fail(r, 400, "part headers too big");
        return 0;
      }
      char *fn = part_filename(b, (size_t)(e - b));
      if (fn && !u->got_file) {
        u->got_file = 1;
        u->name = fn;
        u->mp = MP_DATA;
        if (!name_ok(fn))
          return fail(r, 400, "file name refused: no paths, no leading "
                      "dot, no '..', no .part/.tmp, at most 200 "
                      "characters");
      } else {
        cf_free(fn);
        u->mp = MP_SKIP;
      }
      used = (size_t)(e - b) + 4;
    } else {
      /* PREAMBLE, DATA, SKIP: look for the next delimiter */
      char *d = memmem(b, n, u->delim, u->dlen);
      if (!d) {
        size_t keep = u->dlen + 1;
        if (n <= keep) return 0;
        used = n - keep;
        if (u->mp == MP_DATA && emit(r, b, used) < 0) return -1;
      } else {
        size_t at = (size_t)(d - b);
        if (n < at + u->dlen + 2) return 0;   /* need the 2 bytes after */
        if (u->mp == MP_DATA && emit(r, b, at) < 0) return -1;
        const char *after = d + u->dlen;
        if (!memcmp(after, "--", 2)) u->mp = MP_END;
        else if (!memcmp(after, "\r\n", 2)) u->mp = MP_HEADERS;
        else return fail(r, 400, "malformed multipart boundary");
        used = at + u->dlen + 2;
      }
    }
    memmove(u->hold.buf, u->hold.buf + used, n - used);
    u->hold.len = n - used;
    u->hold.buf[u->hold.len] = '\0';
  }
}

int cf__upload_chunk(struct cf_web_req *r, const char *p, size_t n) {
  struct cf__upload *u = r->upload;
  if (!u) return -1;
  if (!u->multipart) return emit(r, p, n);
  while (n) {
    /* feed in bounded slices so `hold` never outgrows its cap */
    size_t k = n > 65536 ? 65536 : n;
    if (cf_buf_add(&u->hold, p, k) < 0) return fail(r, 400, "bad body");
    if (mp_run(r) < 0) return -1;
    p += k;
    n -= k;
  }
  return 0;
}

void cf__upload_end(struct cf_web_req *r) {
  struct cf__upload *u = r->upload;
  unsigned char dig[32];
  unsigned int dl = 0;
  char hex[65];
  if (!u) {
    cf__respond_error(r, 400, "no upload");
    return;
  }
  if (u->multipart && (u->mp != MP_END || !u->got_file)) {
    cf__respond_error(r, 400, u->got_file ? "multipart body ended early"
                                          : "no file part in the body");
    goto out;
  }
  EVP_DigestFinal_ex(u->md, dig, &dl);
  for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dig[i]);
  char *final = cf_asprintf("%s/%s", u->dir, u->name);
  if (!final) {
    cf__respond_error(r, 500, "out of memory");
    goto out;
  }
  if (fsync(u->fd) < 0) {
    cf__respond_error(r, errno == ENOSPC ? 507 : 500, "fsync failed");
    cf_free(final);
    goto out;
  }
  close(u->fd);
  u->fd = -1;
  /* RENAME_NOREPLACE: never clobber a file the sensor may be reading,
   * unless asked to */
  int rc = u->overwrite ? rename(u->tmp, final)
                        : renameat2(AT_FDCWD, u->tmp, AT_FDCWD, final,
                                    RENAME_NOREPLACE);
  if (rc < 0) {
    int e = errno;
    cf_free(final);
    if (e == EEXIST)
      cf__respond_error(r, 409, "%s already exists (overwrite=1 replaces "
                        "it)", u->name);
    else
      cf__respond_error(r, 500, "rename failed: %s", strerror(e));
    goto out;
  }
  cf_free(u->tmp);
  u->tmp = NULL;
  cf_fsync_dir(u->dir);
  r->web->uploads++;
  r->web->upload_bytes += u->size;
  char *rel = u->rel_dir ? cf_asprintf("%s/%s", u->rel_dir, u->name)
                         : cf_strdup(u->name);
  cf__respond_json(r, 201, json_pack("{s:s, s:s?, s:I, s:s}", "path", final,
                                     "relative_path", rel, "size",
                                     (json_int_t)u->size, "sha256", hex));
  cf_free(rel);
  cf_free(final);
out:
  cf__upload_abort(r);
}
