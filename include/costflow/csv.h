/* Streaming RFC 4180 CSV reader over any byte source (plain file, a .gz
 * or the one .csv member of a .zip through libarchive, or the caller's
 * memory). Memory is bounded by the longest
 * record, never by the file. Bad records are reported, not fatal. */
#ifndef COSTFLOW_CSV_H
#define COSTFLOW_CSV_H

#include <stddef.h>
#include <stdint.h>

struct cf_csv;

/* Opens `path`; .gz and .zip are decompressed on the fly through
 * libarchive. A .zip must hold exactly one .csv member (else CF_EDATA
 * naming the members: reading one of several would drop the others); an
 * archive libarchive cannot read is -EIO. A UTF-8 BOM is skipped. */
int  cf_csv_open(const char *path, struct cf_csv **out, char **errmsg);
void cf_csv_close(struct cf_csv *c);

/* Reads the `len` bytes at `data` (e.g. a file mapped with mmap), which
 * must stay valid and unchanged until cf_csv_close: no system call and no
 * copy of the input, same records and errors as cf_csv_open on a file
 * holding those bytes. Returns 0 or -ENOMEM. */
int  cf_csv_open_mem(const void *data, size_t len, struct cf_csv **out);

/* Reads the next record. Returns 1 with fields set, 0 at end of input, or
 * a negative error (CF_EDATA for a malformed record: unterminated quote,
 * invalid UTF-8, record over the size cap; *errmsg says why; the reader
 * resynchronises at the next line so the caller may continue). Any other
 * error (-EIO: a truncated or corrupt .gz/.zip, or a failed read) ends the
 * input: the records after it are unknown, and every later call returns
 * the same error, so a caller must stop rather than count on the rest.
 * Fields point into the reader's buffer and are valid until the next
 * call; they are NUL-terminated. `line` is the 1-based physical line where
 * the record starts. */
int cf_csv_next(struct cf_csv *c, const char ***fields, const size_t **lens,
                size_t *nfields, int64_t *line, char **errmsg);

/* Whether a field of the record cf_csv_next last returned holds a NUL
 * byte: then lens[i] may exceed strlen(fields[i]), and a caller that
 * treats fields as C strings must not take lens[] for their lengths. */
int cf_csv_record_has_nul(const struct cf_csv *c);

/* Plain (uncompressed) files only: opens `path` at byte `offset`, which
 * the caller knows to be a record start on physical line `line`, so byte
 * ranges of one file can be read in parallel. */
int cf_csv_open_at(const char *path, int64_t offset, int64_t line,
                   struct cf_csv **out, char **errmsg);
/* Byte offset just past the records returned so far (plain files and
 * memory), i.e. where the next record starts; -1 for compressed input. *line (if not
 * NULL) gets the physical line there. */
int64_t cf_csv_tell(const struct cf_csv *c, int64_t *line);

/* The reader parses whole in-chunk records in one tight loop and falls
 * back to a byte-at-a-time parser for everything else; both give the same
 * records. Off forces the byte-at-a-time parser (differential tests). */
void cf_csv_set_fast_path(struct cf_csv *c, int on);

#endif
