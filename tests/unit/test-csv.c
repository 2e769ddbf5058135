/* Unit tests for the streaming CSV reader (core/csv.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "cf_test.h"
#include "gzip_fixture.h"
#include "costflow/common.h"
#include "costflow/csv.h"

static char tmpdir[] = "/tmp/cf-test-csv-XXXXXX";
static int tmpdir_made;   /* not "ends in X": mkdtemp may pick an X */

static const char *write_tmp(const char *name, const void *data, size_t n) {
  static char path[512];
  if (!tmpdir_made) {
    if (!mkdtemp(tmpdir)) abort();
    tmpdir_made = 1;
  }
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fwrite(data, 1, n, f);
  fclose(f);
  return path;
}

/* Renders every record of an open reader as "f1|f2\n" (errors as
 * "!ERR@line msg\n") into a malloc'd string; closes the reader. */
static char *dump_reader(struct cf_csv *c, int fast) {
  char *err = NULL;
  cf_csv_set_fast_path(c, fast);
  struct cf_buf out = CF_BUF_INIT(0);
  const char **f;
  const size_t *l;
  size_t n;
  int64_t line;
  int r;
  while ((r = cf_csv_next(c, &f, &l, &n, &line, &err)) != 0) {
    if (r < 0) {
      cf_buf_addf(&out, "!ERR@%lld %s\n", (long long)line, err);
      cf_free(err);
      if (r != CF_EDATA) break;
      continue;
    }
    cf_buf_addf(&out, "%lld:", (long long)line);
    for (size_t i = 0; i < n; i++) {
      if (i) cf_buf_addch(&out, '|');
      CF_ASSERT_EQ(strlen(f[i]), l[i]);
      cf_buf_add(&out, f[i], l[i]);
    }
    cf_buf_addch(&out, '\n');
  }
  cf_csv_close(c);
  return cf_buf_detach(&out, NULL);
}

static char *dump_with(const char *path, int fast) {
  struct cf_csv *c;
  char *err = NULL;
  if (cf_csv_open(path, &c, &err) != 0) {
    char *s = cf_asprintf("OPEN %s", err ? err : "?");
    cf_free(err);
    return s;
  }
  return dump_reader(c, fast);
}

/* The same through cf_csv_open_mem, over an exact-size heap copy so that
 * ASan catches a read past the end. */
static char *dump_mem(const void *data, size_t n, int fast) {
  struct cf_csv *c;
  char *copy = malloc(n ? n : 1);
  if (!copy) abort();
  memcpy(copy, data, n);
  CF_ASSERT_EQ(0, cf_csv_open_mem(copy, n, &c));
  char *s = dump_reader(c, fast);
  free(copy);
  return s;
}

static char *dump(const char *path) { return dump_with(path, 1); }

/* Both readers, both parsers, must render `input` as `expect`. */
static void check_n(const char *input, size_t n, const char *expect) {
  const char *p = write_tmp("t.csv", input, n);
  char *got = dump(p);
  CF_ASSERT_STR(got, expect);
  free(got);
  for (int fast = 0; fast < 2; fast++) {
    got = dump_mem(input, n, fast);
    CF_ASSERT_STR(got, expect);
    free(got);
  }
}

static void check(const char *input, const char *expect) {
  check_n(input, strlen(input), expect);
}

CF_TEST(basic_records) {
  check("a,b,c\n1,2,3\n", "1:a|b|c\n2:1|2|3\n");
  check("a,b\n1,2", "1:a|b\n2:1|2\n");             /* no final newline */
  check("a,,\n", "1:a||\n");
  check("", "");
  check("a\n\n\nb\n", "1:a\n4:b\n");                /* blank lines skipped */
}

CF_TEST(crlf_and_bom) {
  check("\xEF\xBB\xBFx,y\r\n1,2\r\n", "1:x|y\n2:1|2\n");
  check("a\rb,c\r\n", "1:a\rb|c\n");                /* lone CR is data */
}

CF_TEST(quoted_fields) {
  check("\"a,b\",\"say \"\"hi\"\"\",\"l1\nl2\"\nnext,\"\"\n",
        "1:a,b|say \"hi\"|l1\nl2\n3:next|\n");
  check("\"crlf\r\ninside\",x\r\n", "1:crlf\r\ninside|x\n");
  check("\"a\"b,c\n", "1:ab|c\n");                   /* lenient */
  check("[{'k': 'v'}],\"[{'name': 'x', 'amount': -5e-06}]\"\n",
        "1:[{'k': 'v'}]|[{'name': 'x', 'amount': -5e-06}]\n");
}

CF_TEST(unterminated_quote_resyncs) {
  /* The stray quote on line 2 would swallow the rest; only line 2 is lost. */
  check("h1,h2\n1,\"oops\n3,x\n4,y\n",
        "1:h1|h2\n!ERR@2 unterminated quoted field\n3:3|x\n4:4|y\n");
  check("a\n\"never closed", "1:a\n!ERR@2 unterminated quoted field\n");
}

CF_TEST(invalid_utf8) {
  check("a,b\n\xff\xfe,c\nok,\xc3\xa9\n\xc0\xaf,d\n\xed\xa0\x80\n",
        "1:a|b\n!ERR@2 invalid UTF-8\n3:ok|\xc3\xa9\n"
        "!ERR@4 invalid UTF-8\n!ERR@5 invalid UTF-8\n");
}

CF_TEST(record_cap) {
  size_t big = 1100 * 1024;
  char *s = malloc(big + 64);
  strcpy(s, "a,b\n");
  size_t n = 4;
  memset(s + n, 'x', big);
  n += big;
  memcpy(s + n, "\nc,d\n", 5);
  n += 5;
  const char *p = write_tmp("big.csv", s, n);
  char *got = dump(p);
  if (strlen(got) > 200) CF_FAIL_("cap not enforced (%zu)", strlen(got));
  CF_ASSERT_STR(got, "1:a|b\n!ERR@2 record over 1048576 bytes\n3:c|d\n");
  free(got);
  check_n(s, n, "1:a|b\n!ERR@2 record over 1048576 bytes\n3:c|d\n");
  free(s);
}

CF_TEST(chunk_boundaries) {
  /* Many quoted records with embedded quotes/newlines across 64 KiB
   * chunk edges: every record must come back intact. */
  struct cf_buf b = CF_BUF_INIT(0);
  for (int i = 0; i < 20000; i++)
    cf_buf_addf(&b, "%d,\"q\"\"%d\nz\",tail%d\r\n", i, i, i);
  const char *p = write_tmp("many.csv", b.buf, b.len);
  cf_buf_release(&b);
  struct cf_csv *c;
  CF_ASSERT_EQ(0, cf_csv_open(p, &c, NULL));
  const char **f;
  const size_t *l;
  size_t n;
  int64_t line;
  int i = 0;
  char want[64];
  while (cf_csv_next(c, &f, &l, &n, &line, NULL) == 1) {
    CF_ASSERT_EQ(3, n);
    CF_ASSERT_EQ(1 + 2 * i, line);
    snprintf(want, sizeof want, "q\"%d\nz", i);
    CF_ASSERT_STR(f[1], want);
    i++;
  }
  CF_ASSERT_EQ(20000, i);
  cf_csv_close(c);
}

/* The bytes of b, read from a file by the fast and the byte parser and
 * from memory by both: all four dumps must be the same. */
static void readers_agree(const char *name, const struct cf_buf *b) {
  const char *p = write_tmp(name, b->buf, b->len);
  char *slow = dump_with(p, 0), *fast = dump_with(p, 1);
  CF_ASSERT_STR(fast, slow);
  for (int f = 0; f < 2; f++) {
    char *mem = dump_mem(b->buf, b->len, f);
    CF_ASSERT_STR(mem, slow);
    free(mem);
  }
  free(fast);
  free(slow);
}

CF_TEST(plain_runs_across_word_edges) {
  /* Plain fields of every length around the 8-byte steps of the fast
   * path, with a ',' , a lone '\r' or a CRLF at each position: both
   * parsers, file and memory, agree. */
  struct cf_buf b = CF_BUF_INIT(0);
  static const char *const stops[] = {",", "\r", "\r\n", "\"x\"y"};
  for (int len = 0; len < 40; len++)
    for (size_t s = 0; s < sizeof stops / sizeof *stops; s++)
      for (int at = 0; at <= len; at++) {
        for (int i = 0; i < len; i++) {
          if (i == at) cf_buf_adds(&b, stops[s]);
          cf_buf_addch(&b, (char)('a' + (i + len) % 26));
        }
        cf_buf_adds(&b, at == len ? ",tail\n" : "\n");
      }
  readers_agree("runs.csv", &b);
  cf_buf_release(&b);
}

CF_TEST(mem_reader_tell) {
  /* Offsets into the buffer, as for a plain file read from byte 0. */
  static const char in[] = "h1,h2\n\"a\nb\",c\nlast,x";
  struct cf_csv *c;
  const char **f;
  const size_t *l;
  size_t n;
  int64_t line, at;
  CF_ASSERT_EQ(0, cf_csv_open_mem(in, sizeof in - 1, &c));
  CF_ASSERT_EQ(0, cf_csv_tell(c, &at));
  CF_ASSERT_EQ(1, cf_csv_next(c, &f, &l, &n, &line, NULL));
  CF_ASSERT_EQ(6, cf_csv_tell(c, &at));
  CF_ASSERT_EQ(2, at);
  CF_ASSERT_EQ(1, cf_csv_next(c, &f, &l, &n, &line, NULL));
  CF_ASSERT_STR(f[0], "a\nb");
  CF_ASSERT_EQ(14, cf_csv_tell(c, &at));
  CF_ASSERT_EQ(4, at);
  CF_ASSERT_EQ(1, cf_csv_next(c, &f, &l, &n, &line, NULL));
  CF_ASSERT_EQ(0, cf_csv_next(c, &f, &l, &n, &line, NULL));
  CF_ASSERT_EQ((int64_t)sizeof in - 1, cf_csv_tell(c, NULL));
  cf_csv_close(c);
}

CF_TEST(fast_path_matches_byte_parser) {
  /* Random records over the bytes that matter to the state machine: both
   * parsers must produce the same records, lines and errors. */
  static const char *const atoms[] = {"a", "bc", ",", "\"", "\"\"", "\n",
                                      "\r\n", "\r", "\xc3\xa9", "\xff", " "};
  unsigned seed = 12345;
  for (int round = 0; round < 200; round++) {
    struct cf_buf b = CF_BUF_INIT(0);
    int natoms = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 400;
    for (int i = 0; i < natoms; i++) {
      seed = seed * 1103515245u + 12345u;
      cf_buf_adds(&b, atoms[(seed >> 16) % (sizeof atoms / sizeof *atoms)]);
    }
    readers_agree("diff.csv", &b);
    cf_buf_release(&b);
  }
}

CF_TEST(fast_path_matches_byte_parser_long_fields) {
  /* Fields longer than the fast path's 8-byte steps, with the stop bytes
   * at every offset within a word and near the record's end. */
  static const char *const atoms[] = {"abcdefg", "0123456789abcdef", ",",
                                      "\"", "\r", "\r\n", "\n", "x",
                                      "\xc3\xa9\xc3\xa9", "\t", "  "};
  static const size_t alen[] = {7, 16, 1, 1, 1, 2, 1, 1, 4, 1, 2};
  unsigned seed = 4242;
  for (int round = 0; round < 300; round++) {
    struct cf_buf b = CF_BUF_INIT(0);
    int natoms = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 600;
    for (int i = 0; i < natoms; i++) {
      seed = seed * 1103515245u + 12345u;
      unsigned k = (seed >> 16) % 32;
      if (k >= sizeof atoms / sizeof *atoms) k = k % 2 ? 0 : 1;
      if (k == 6 && (seed >> 24) % 3) k = 7;     /* longer records */
      cf_buf_add(&b, atoms[k], alen[k]);
    }
    readers_agree("difflong.csv", &b);
    cf_buf_release(&b);
  }
}

CF_TEST(nul_bytes_flagged_per_record) {
  /* Both parsers flag the record whose field holds a NUL (lens[] then
   * counts past the C string), and only that record. */
  static const char text[] = "a,b\nc\0d,e\n\"f\0\ng\",h\ni,j\n";
  const char *p = write_tmp("nul.csv", text, sizeof text - 1);
  for (int fast = 0; fast < 2; fast++) {
    struct cf_csv *c;
    const char **f;
    const size_t *l;
    size_t n;
    int64_t line;
    CF_ASSERT_EQ(0, cf_csv_open(p, &c, NULL));
    cf_csv_set_fast_path(c, fast);
    static const int want_nul[] = {0, 1, 1, 0};
    static const size_t want_len[] = {1, 3, 4, 1};
    for (int i = 0; i < 4; i++) {
      CF_ASSERT_EQ(1, cf_csv_next(c, &f, &l, &n, &line, NULL));
      CF_ASSERT_EQ(want_nul[i], cf_csv_record_has_nul(c));
      CF_ASSERT_EQ(want_len[i], l[0]);
    }
    CF_ASSERT_EQ(0, cf_csv_next(c, &f, &l, &n, &line, NULL));
    cf_csv_close(c);
  }
}

CF_TEST(open_errors) {
  struct cf_csv *c = NULL;
  char *err = NULL;
  CF_ASSERT(cf_csv_open("/nonexistent/x.csv", &c, &err) < 0);
  CF_ASSERT(c == NULL);
  CF_ASSERT_CONTAINS(err, "x.csv");
  cf_free(err);
  const char *p = write_tmp("notgz.gz", "plain", 5);
  err = NULL;
  /* Not gzip: libarchive's raw format still reads bytes or refuses; either
   * way nothing crashes. */
  if (cf_csv_open(p, &c, &err) == 0) cf_csv_close(c);
  cf_free(err);
}

static const char *cur_gz(void) {
  static char path[1024];
  const char *src = getenv("CF_SOURCE_DIR");
  snprintf(path, sizeof path,
           "%s/../shared/data/koku/aws-cur-s3-layout/my-prefix/my-report/"
           "20180801-20180901/861af42f-713c-4a42-9562-9158a7625630/"
           "my-report-1.csv.gz", src ? src : "..");
  return path;
}

CF_TEST(real_cur_gzip) {
  struct cf_csv *c;
  char *err = NULL;
  int r = cf_csv_open(cur_gz(), &c, &err);
  if (r) CF_FAIL_("open: %s", err);
  const char **f;
  const size_t *l;
  size_t n;
  int64_t line;
  long rows = 0;
  while ((r = cf_csv_next(c, &f, &l, &n, &line, &err)) == 1) {
    CF_ASSERT_EQ(130, n);
    if (rows == 0) CF_ASSERT_STR(f[0], "identity/LineItemId");
    rows++;
  }
  CF_ASSERT_EQ(0, r);
  CF_ASSERT_EQ(6191, rows);                     /* header + 6190 */
  cf_csv_close(c);
}

/* A zip of README.txt, then member (data), then member2 (data) if set. */
static void write_zip2(const char *path, const char *member, const char *data,
                       const char *member2) {
  struct archive *a = archive_write_new();
  archive_write_set_format_zip(a);
  CF_ASSERT_EQ(ARCHIVE_OK, archive_write_open_filename(a, path));
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, "README.txt");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 5);
  archive_write_header(a, e);
  archive_write_data(a, "hello", 5);
  archive_entry_clear(e);
  archive_entry_set_pathname(e, member);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, (la_int64_t)strlen(data));
  archive_write_header(a, e);
  archive_write_data(a, data, strlen(data));
  if (member2) {
    archive_entry_set_pathname(e, member2);
    archive_write_header(a, e);
    archive_write_data(a, data, strlen(data));
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

static void write_zip(const char *path, const char *member, const char *data) {
  write_zip2(path, member, data, NULL);
}

CF_TEST(zip_member) {
  char path[600];
  write_tmp("dummy", "", 0);
  snprintf(path, sizeof path, "%s/report.zip", tmpdir);
  write_zip(path, "dir/report-1.csv", "a,b\n\"x\ny\",2\n");
  char *got = dump(path);
  CF_ASSERT_STR(got, "1:a|b\n2:x\ny|2\n");
  free(got);
}

/* Opening path is refused whole: CF_EDATA, no reader, and why. */
static void expect_refused(const char *path, const char *why) {
  struct cf_csv *c = NULL;
  char *err = NULL;
  CF_ASSERT_EQ(CF_EDATA, cf_csv_open(path, &c, &err));
  CF_ASSERT(c == NULL);
  CF_ASSERT_CONTAINS(err, why);
  free(err);
}

CF_TEST(zip_with_two_csv_members_is_refused_not_half_read) {
  char path[600];
  write_tmp("dummy", "", 0);
  snprintf(path, sizeof path, "%s/two.zip", tmpdir);
  write_zip2(path, "part-1.csv", "a,b\n1,2\n", "part-2.csv");
  expect_refused(path, "more than one csv member (part-1.csv, part-2.csv)");
}

CF_TEST(zip_without_csv_member_is_refused) {
  char path[600];
  write_tmp("dummy", "", 0);
  snprintf(path, sizeof path, "%s/none.zip", tmpdir);
  write_zip(path, "notes.txt", "a,b\n1,2\n");
  expect_refused(path, "zip holds no csv member");
}


CF_TEST(gzip_written_here) {
  char path[600];
  write_tmp("dummy", "", 0);
  snprintf(path, sizeof path, "%s/small.csv.gz", tmpdir);
  const char *body = "\xEF\xBB\xBFk,v\r\n1,\"2\"\r\n";
  fx_write_gzip(path, body, strlen(body));
  char *got = dump(path);
  CF_ASSERT_STR(got, "1:k|v\n2:1|2\n");
  free(got);
}

/* Reads c to its end or first error: the last cf_csv_next result. */
static int drain(struct cf_csv *c, int *rows, char **err) {
  const char **f;
  const size_t *l;
  size_t n;
  int64_t line;
  int r;
  while ((r = cf_csv_next(c, &f, &l, &n, &line, err)) == 1) (*rows)++;
  return r;
}

/* A complete .gz of nothing (an empty export shard) and a 0-byte .gz:
 * no rows and no error, as for an empty .csv. */
CF_TEST(empty_gzip_is_no_rows) {
  char path[600];
  write_tmp("dummy", "", 0);
  for (int zero_bytes = 0; zero_bytes < 2; zero_bytes++) {
    snprintf(path, sizeof path, "%s/empty%d.csv.gz", tmpdir, zero_bytes);
    if (zero_bytes) write_tmp("empty1.csv.gz", "", 0);
    else fx_write_gzip(path, "", 0);
    struct cf_csv *c;
    char *err = NULL;
    int rows = 0;
    CF_ASSERT_EQ(0, cf_csv_open(path, &c, &err));
    CF_ASSERT_EQ(0, drain(c, &rows, &err));
    CF_ASSERT_EQ(0, rows);
    CF_ASSERT(err == NULL);
    cf_csv_close(c);
  }
}

/* A .gz cut short (a delivery still uploading): the records before the
 * cut are handed out, then the read fails with -EIO, not CF_EDATA -- a
 * caller that skips CF_EDATA records and reads on must stop -- and keeps
 * failing the same way instead of reading the broken stream again (which
 * gave a fresh error per call: a reader that went on wrote rejects until
 * the disk was full). */
CF_TEST(truncated_gzip_ends_the_input) {
  char path[600];
  write_tmp("dummy", "", 0);
  snprintf(path, sizeof path, "%s/cut.csv.gz", tmpdir);
  struct cf_buf body = CF_BUF_INIT(0);
  unsigned seed = 1;
  for (int i = 0; i < 40000; i++) {        /* ~1 MB, not very compressible */
    seed = seed * 1103515245u + 12345u;
    cf_buf_addf(&body, "id%d,%u.%u\n", i, seed >> 8, seed);
  }
  fx_write_gzip(path, body.buf, body.len);
  cf_buf_release(&body);
  struct stat st;
  CF_ASSERT_EQ(0, stat(path, &st));
  CF_ASSERT_EQ(0, truncate(path, st.st_size / 2));
  struct cf_csv *c;
  char *err = NULL;
  CF_ASSERT_EQ(0, cf_csv_open(path, &c, &err));
  const char **f;
  const size_t *l;
  size_t n;
  int64_t line;
  int r, rows = 0;
  CF_ASSERT_EQ(-EIO, drain(c, &rows, &err));
  CF_ASSERT_CONTAINS(err, "read error: truncated gzip input");
  cf_free(err);
  CF_ASSERT(rows > 1000 && rows < 40000);
  for (int k = 0; k < 3; k++) {                /* and it stays that way */
    err = NULL;
    CF_ASSERT_EQ(-EIO, drain(c, &rows, &err));
    cf_free(err);
  }
  cf_csv_close(c);
  /* Cut inside the gzip header: -EIO as well, from the open or from the
   * first read. */
  CF_ASSERT_EQ(0, truncate(path, 20));
  err = NULL;
  r = cf_csv_open(path, &c, &err);
  if (r == 0) {
    r = cf_csv_next(c, &f, &l, &n, &line, &err);
    cf_csv_close(c);
  }
  CF_ASSERT_EQ(-EIO, r);
  cf_free(err);
}

CF_TEST_MAIN()
