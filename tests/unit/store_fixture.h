/* A file store for unit tests: opened at a fresh mkstemp path, and
 * removed with its WAL, shared-memory and reserve files. Used by
 * test-store and test-wal-checkpoint. */
#ifndef CF_STORE_FIXTURE_H
#define CF_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cf_test.h"
#include "costflow/store.h"

/* path is the mkstemp template, e.g. "/tmp/cf-x-XXXXXX". */
static inline struct cf_store *fx_store_open(char *path) {
  int fd = mkstemp(path);
  CF_ASSERT(fd >= 0);
  close(fd);
  unlink(path);
  struct cf_store *st = NULL;
  char *err = NULL;
  CF_ASSERT_EQ(0, cf_store_open(path, &st, &err));
  return st;
}

static inline void fx_store_remove(const char *path) {
  static const char *const suffix[] = {"", "-wal", "-shm", ".reserve"};
  char p[256];
  for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
}

#endif
