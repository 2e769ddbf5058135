/* Allocation wrappers with a fail-the-Nth-allocation test hook. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"

/* < 0: hook disabled. Atomic: plugins allocate from several threads. */
static atomic_long fail_countdown = -1;

void cf_alloc_fail_after(long n) { atomic_store(&fail_countdown, n); }

static int should_fail(void) {
  long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
  if (n < 0) return 0;
  if (n == 0) return 1;
  atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
  return 0;
}

void *cf_malloc(size_t n) {
  if (should_fail()) return NULL;
  return malloc(n ? n : 1);
}

void *cf_calloc(size_t n, size_t size) {
  if (should_fail()) return NULL;
  return calloc(n ? n : 1, size ? size : 1);
}

void *cf_realloc(void *p, size_t n) {
  if (should_fail()) return NULL;
  return realloc(p, n ? n : 1);
}

int cf_grow(void *v_ptr, size_t *cap, size_t need, size_t size,
            size_t first) {
  if (need <= *cap) return 0;
  size_t max = size ? SIZE_MAX / size : SIZE_MAX;   /* elements size_t fits */
  if (need > max) return -ENOMEM;
  size_t nc = !*cap ? first : *cap <= max / 2 ? *cap * 2 : max;
  if (nc < need) nc = need;
  if (nc > max) nc = max;
  void *old, *p;
  memcpy(&old, v_ptr, sizeof old);    /* v_ptr is a T **, not a void ** */
  if (!(p = cf_realloc(old, nc * size))) return -ENOMEM;
  memcpy(v_ptr, &p, sizeof p);
  *cap = nc;
  return 0;
}

void cf_free(void *p) { free(p); }

char *cf_strdup(const char *s) {
  if (!s) return NULL;
  return cf_strndup(s, strlen(s));
}

char *cf_strndup(const char *s, size_t n) {
  char *r = cf_malloc(n + 1);
  if (!r) return NULL;
  memcpy(r, s, n);
  r[n] = '\0';
  return r;
}

char *cf_asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *r = cf_malloc((size_t)n + 1);
  if (!r) return NULL;
  va_start(ap, fmt);
  vsnprintf(r, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return r;
}
