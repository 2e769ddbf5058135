/* A fast 64-bit hash of bytes, for in-memory sets and fingerprints of ids
 * (silver's dedupe index, the ServiceCategory lookup, validate's
 * unique_key, the file sensor's candidates by path). Not cryptographic: the inputs are billing ids, and a
 * collision only costs a false "duplicate" warning (validate) or an extra
 * key comparison (the tables). */
#ifndef COSTFLOW_HASH_H
#define COSTFLOW_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Multiply-mix over 8-byte words (each step is a bijection of the state),
 * then the splitmix64 finalizer so every input bit reaches every output
 * bit: the top bits serve as tags and fingerprints, not only the low
 * bits a table index uses. */
static inline uint64_t cf_hash64(const void *data, size_t n) {
  const char *p = data;
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  h = (h ^ w) * 0x94D049BB133111EBULL;
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBULL;
  return h ^ (h >> 31);
}

#endif
