/* Fuzz target: the streaming RFC 4180 CSV reader over a temp file (plain;
 * a leading "PK" or gzip magic makes libarchive try it as an archive,
 * hence the .csv name: archives are found by name, so the fuzzer also
 * writes a .gz twin when the input starts with the gzip magic). The plain
 * input is also read from memory (cf_csv_open_mem, over an exact-size
 * copy so that ASan sees a read past the end) and with the byte parser
 * only: all three must give the same records, lines and errors. */
#include "fuzz_util.h"
#include "costflow/common.h"
#include "costflow/csv.h"

/* Reads every record of c (then closes it), checking the invariants, and
 * renders records and errors into out (if not NULL). */
static void read_reader(struct cf_csv *c, struct cf_buf *out) {
  const char **f;
  const size_t *l;
  size_t nf;
  int64_t line, last = 0;
  for (int guard = 0; guard < 1000000; guard++) {
    char *err = NULL;
    int r = cf_csv_next(c, &f, &l, &nf, &line, &err);
    if (r == 0) break;
    if (r < 0) {
      if (!err) abort();
      if (out) cf_buf_addf(out, "!%d@%lld %s\n", r, (long long)line, err);
      cf_free(err);
      if (r != CF_EDATA) break;
      continue;
    }
    if (line < last || line < 1) abort();   /* lines never go back */
    last = line;
    if (out) cf_buf_addf(out, "%lld:%zu:", (long long)line, nf);
    for (size_t i = 0; i < nf; i++) {
      if (f[i][l[i]] != '\0' || strlen(f[i]) > l[i]) abort();
      if (out) {
        cf_buf_addf(out, "%zu|", l[i]);
        cf_buf_add(out, f[i], l[i]);
      }
    }
    if (out) cf_buf_addch(out, '\n');
  }
  cf_csv_close(c);
}

static void read_all(const char *path) {
  struct cf_csv *c = NULL;
  char *err = NULL;
  if (cf_csv_open(path, &c, &err) < 0) {
    cf_free(err);
    return;
  }
  read_reader(c, NULL);
}

/* The plain file read three ways must agree. */
static void read_plain(const char *path, const uint8_t *data, size_t size) {
  struct cf_buf file = CF_BUF_INIT(0), slow = CF_BUF_INIT(0),
                mem = CF_BUF_INIT(0);
  struct cf_csv *c = NULL;
  char *err = NULL;
  if (cf_csv_open(path, &c, &err) < 0) {
    cf_free(err);
    return;
  }
  read_reader(c, &file);
  if (cf_csv_open(path, &c, &err) < 0) abort();
  cf_csv_set_fast_path(c, 0);
  read_reader(c, &slow);
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) abort();
  memcpy(copy, data, size);
  if (cf_csv_open_mem(copy, size, &c) < 0) abort();
  read_reader(c, &mem);
  free(copy);
  if (file.len != slow.len || memcmp(file.buf, slow.buf, file.len) ||
      file.len != mem.len || memcmp(file.buf, mem.buf, file.len))
    abort();
  cf_buf_release(&file);
  cf_buf_release(&slow);
  cf_buf_release(&mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_fd_mark();
  read_plain(fz_write("in.csv", data, size), data, size);
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
    read_all(fz_write("in.csv.gz", data, size));
  if (size >= 2 && data[0] == 'P' && data[1] == 'K')
    read_all(fz_write("in.zip", data, size));
  fz_fd_check();
  return 0;
}
