/* Shared helpers of the libFuzzer targets (tests/fuzz/fuzz-*.c): a private
 * temp folder per process and "write the input to a file". */
#ifndef CF_FUZZ_UTIL_H
#define CF_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A folder private to this process (under $TMPDIR, else /tmp), removed
 * at exit. */
static char fz_dir[256];

__attribute__((unused)) static void fz_cleanup(void) {
  if (!fz_dir[0]) return;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
  if (system(cmd) != 0) { /* best effort */ }
}

__attribute__((unused)) static const char *fz_path(const char *name) {
  static char path[256];
  if (!fz_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fz_dir, sizeof fz_dir, "%s/cf-fuzz-XXXXXX",
             tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (!mkdtemp(fz_dir)) abort();
    atexit(fz_cleanup);
  }
  snprintf(path, sizeof path, "%s/%s", fz_dir, name);
  return path;
}

/* Writes data to fz_path(name) (truncating) and returns that path. */
__attribute__((unused)) static const char *fz_write(const char *name, const uint8_t *data,
                            size_t size) {
  const char *p = fz_path(name);
  FILE *f = fopen(p, "wb");
  if (!f) {
    fprintf(stderr, "fuzz: cannot create %s: %s\n", p, strerror(errno));
    abort();
  }
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  return p;
}

/* The input as a NUL-terminated string (malloc'd; embedded NULs kept, so
 * the C string ends at the first one). */
__attribute__((unused)) static char *fz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* File descriptor leaks (which LeakSanitizer does not see): the lowest
 * free descriptor after an input must equal the one before it. Measured
 * per input, because libFuzzer itself opens descriptors between inputs
 * (the symbolizer's pipes when it prints NEW_FUNC). */
static int fz_fd_base = -1;

static int fz_lowest_free_fd(void) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "fuzz: open(/dev/null): %s\n", strerror(errno));
    abort();
  }
  close(fd);
  return fd;
}

/* Call at the start of an input. */
__attribute__((unused)) static void fz_fd_mark(void) {
  fz_fd_base = fz_lowest_free_fd();
}

/* Call at the end of an input. */
__attribute__((unused)) static void fz_fd_check(void) {
  int fd = fz_lowest_free_fd();
  if (fz_fd_base >= 0 && fd != fz_fd_base) {
    fprintf(stderr, "fuzz: file descriptor leak: lowest free fd %d, "
            "was %d\n", fd, fz_fd_base);
    abort();
  }
}

#endif
