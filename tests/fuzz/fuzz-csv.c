/* Fuzz target: the streaming RFC 4180 CSV reader over a temp file (plain;
 * a leading "PK" or gzip magic makes libarchive try it as an archive,
 * hence the .csv name: archives are found by name, so the fuzzer also
 * writes a .gz twin when the input starts with the gzip magic). */
#include "fuzz_util.h"
#include "costflow/common.h"
#include "costflow/csv.h"

static void read_all(const char *path) {
  struct cf_csv *c = NULL;
  char *err = NULL;
  if (cf_csv_open(path, &c, &err) < 0) {
    cf_free(err);
    return;
  }
  const char **f;
  const size_t *l;
  size_t nf;
  int64_t line, last = 0;
  for (int guard = 0; guard < 1000000; guard++) {
    err = NULL;
    int r = cf_csv_next(c, &f, &l, &nf, &line, &err);
    if (r == 0) break;
    if (r < 0) {
      if (!err) abort();
      cf_free(err);
      if (r != CF_EDATA) break;
      continue;
    }
    if (line < last || line < 1) abort();   /* lines never go back */
    last = line;
    for (size_t i = 0; i < nf; i++)
      if (f[i][l[i]] != '\0' || strlen(f[i]) > l[i]) abort();
  }
  cf_csv_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_fd_mark();
  read_all(fz_write("in.csv", data, size));
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
    read_all(fz_write("in.csv.gz", data, size));
  if (size >= 2 && data[0] == 'P' && data[1] == 'K')
    read_all(fz_write("in.zip", data, size));
  fz_fd_check();
  return 0;
}
