/* costflow common definitions: error codes, allocation, growable buffer.
 * Every costflow library function returns 0 on success and a negative
 * int on failure: -errno for OS errors, CF_E* (<= -4000) for our own. */
#ifndef COSTFLOW_COMMON_H
#define COSTFLOW_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define CF_ERR_MAP(X)                                              \
  X(INVALID,  -4000, "invalid input")                              \
  X(DAGCYCLE, -4001, "dag has a cycle")                            \
  X(ABI,      -4002, "plugin ABI mismatch")                        \
  X(TOOBIG,   -4003, "size limit reached")                         \
  X(NOTFOUND, -4004, "not found")                                  \
  X(EXISTS,   -4005, "already exists")                             \
  X(STORE,    -4006, "store (SQLite) error")                       \
  X(PLUGIN,   -4007, "plugin error")                               \
  X(NEVER,    -4008, "schedule never fires")                       \
  X(BUSY,     -4009, "resource busy")                              \
  X(STATE,    -4010, "operation not allowed in this state")        \
  X(DATA,     -4011, "bad data")

#define CF__ERR_ENUM(n, v, msg) CF_E##n = v,
enum cf_err { CF_OK = 0, CF_ERR_MAP(CF__ERR_ENUM) };
#undef CF__ERR_ENUM

/* A static string describing err (ours or -errno); never NULL. */
const char *cf_strerror(int err);

/* Allocation. Abort on out-of-memory is NOT done here: callers check.
 * cf_alloc_fail_after(n) makes the n-th allocation from now fail (test
 * hook for out-of-memory paths); n < 0 disables it. */
void *cf_malloc(size_t n);
void *cf_calloc(size_t n, size_t size);
void *cf_realloc(void *p, size_t n);
/* Makes room for at least `need` elements of `size` bytes in *v (capacity
 * *cap), through cf_realloc: the first growth makes `first` (or `need` if
 * more), each later one doubles (or makes `need` if more). v_ptr is the
 * address of the array pointer (a T **). Returns 0 (nothing allocated when
 * need <= *cap), or -ENOMEM, also when need * size would overflow; *v and
 * *cap are unchanged on failure. Hot loops test `n == cap` inline first. */
int   cf_grow(void *v_ptr, size_t *cap, size_t need, size_t size,
              size_t first);
void  cf_free(void *p);
char *cf_strdup(const char *s);                 /* NULL if s is NULL */
char *cf_strndup(const char *s, size_t n);
char *cf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void  cf_alloc_fail_after(long n);

/* Growable byte buffer.
 * buf is never NULL and always NUL-terminated; growth stops at max
 * (0 = unlimited) with CF_ETOOBIG, leaving the contents unchanged. */
struct cf_buf { char *buf; size_t len, alloc, max; };
extern char cf_buf_empty[];
#define CF_BUF_INIT(m) { cf_buf_empty, 0, 0, (m) }
void  cf_buf_init(struct cf_buf *b, size_t max);
void  cf_buf_release(struct cf_buf *b);                  /* frees contents */
void  cf_buf_reset(struct cf_buf *b);                    /* len = 0 */
int   cf_buf_grow(struct cf_buf *b, size_t extra);
int   cf_buf_add(struct cf_buf *b, const void *p, size_t n);
int   cf_buf_adds(struct cf_buf *b, const char *s);
int   cf_buf_addch(struct cf_buf *b, char c);
int   cf_buf_addf(struct cf_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
int   cf_buf_vaddf(struct cf_buf *b, const char *fmt, va_list ap);
char *cf_buf_detach(struct cf_buf *b, size_t *len);      /* caller frees */
/* Reads a whole file; CF_ETOOBIG if it is larger than b->max. */
int   cf_buf_read_file(struct cf_buf *b, const char *path);

/* Writes all len bytes (retrying short writes and EINTR); 0 or -errno. */
int cf_write_all(int fd, const void *data, size_t len);
/* A file mapped read-only, its page tables filled in one call
 * (MAP_POPULATE) rather than one fault per page: bytes are read where the
 * page cache holds them, never copied into fresh memory. An empty file
 * maps to {NULL, 0}. The file must not shrink while mapped. */
struct cf_mapped { const char *p; size_t n; };
int  cf_map_file(const char *path, struct cf_mapped *m);
void cf_unmap_file(struct cf_mapped *m);
/* Files. cf_write_file_atomic writes to PATH.tmp.<pid>, fsyncs, renames over
 * path and fsyncs the directory: readers see the old or the new bytes. */
int cf_write_file_atomic(const char *path, const void *data, size_t len);
/* Like mkdir -p: 0 once path is a folder; "": -ENOENT; a file (not a
 * folder) at path or on the way: -ENOTDIR. */
int cf_mkdir_p(const char *path, int mode);

/* UTF-8 (core/utf8.c): well-formed = no overlongs, surrogates or code
 * points past U+10FFFF. */
/* Bytes of the well-formed character at NUL-terminated s (1..4), 0 if
 * none starts there. */
size_t cf_utf8_char_len(const char *s);
/* 1 if s[0..n) is well-formed UTF-8, else 0. */
int cf_utf8_valid(const char *s, size_t n);
/* Replaces, in place, every byte of s that does not start a well-formed
 * character with '?' (JSON strings must be UTF-8). */
void cf_utf8_scrub(char *s);
int cf_fsync_dir(const char *dir);
int cf_fsync_path(const char *path);   /* a file written earlier */

/* SHA-256 of a file or of memory, as 64 lowercase hex chars + NUL. */
int cf_sha256_file(const char *path, char hex[65]);
void cf_sha256_mem(const void *p, size_t n, char hex[65]);
/* SHA-256 of the concatenated pieces, without joining them. 0 or -ENOMEM. */
struct iovec;
int cf_sha256_iov(const struct iovec *iov, size_t niov, char hex[65]);
/* SHA-256 fed piece by piece, for bytes hashed while they are used (one
 * pass over memory, not two): new (NULL when out of memory), updates,
 * then end, which writes the hex (unless hex is NULL) and frees: 0, or
 * -ENOMEM if the digest could not be finished (hex not written). */
struct cf_sha256;
struct cf_sha256 *cf_sha256_new(void);
void cf_sha256_update(struct cf_sha256 *s, const void *p, size_t n);
int  cf_sha256_end(struct cf_sha256 *s, char hex[65]);

/* Time. */
int64_t cf_now_ms(void);                 /* wall clock, ms since epoch UTC */
int64_t cf_mono_ms(void);                /* monotonic clock, ms */
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (ms) into out[32]. */
void cf_format_iso_ms(int64_t epoch_ms, char out[32]);
/* "YYYY-MM-DDTHH:MM:SSZ" into out[32]. */
void cf_format_iso_s(int64_t epoch_s, char out[32]);

/* Logical dates are civil days since 1970-01-01 (proleptic Gregorian). */
typedef int32_t cf_date;
int  cf_date_parse(const char *s, cf_date *out);   /* strict YYYY-MM-DD */
void cf_date_format(cf_date d, char out[11]);       /* YYYY-MM-DD */
cf_date cf_date_from_ymd(int y, int m, int d);
void cf_date_to_ymd(cf_date d, int *y, int *m, int *dd);
int  cf_days_in_month(int y, int m);
int  cf_is_leap(int y);

/* The per-run lock $home/locks/DAG__DATE.lock (flock, non-blocking): one
 * driver per run. Returns the fd to keep (close to release), or -1 if
 * another process holds it. */
int cf_run_lock(const char *home, const char *dag_id, cf_date d);

/* Durations: "30s", "5m", "1h", "2d", "250ms", or a bare integer of seconds.
 * Combined forms like "1h30m" are accepted. */
int cf_duration_parse(const char *s, int64_t *ms);

#endif
