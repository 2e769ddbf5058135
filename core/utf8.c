/* UTF-8 checks for text that must go out as JSON (web answers, notices):
 * well-formed means no overlong forms, no UTF-16 surrogates, nothing past
 * U+10FFFF. (The CSV reader has its own faster check for whole records.) */
#include <string.h>
#include "costflow/common.h"

size_t cf_utf8_char_len(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = p[0] < 0x80 ? 1 : p[0] < 0xC2 ? 0 : p[0] < 0xE0 ? 2
             : p[0] < 0xF0 ? 3 : p[0] < 0xF5 ? 4 : 0;
  if (n > 2 && ((p[0] == 0xE0 && p[1] < 0xA0) ||     /* overlong */
                (p[0] == 0xED && p[1] > 0x9F) ||     /* surrogate */
                (p[0] == 0xF0 && p[1] < 0x90) ||     /* overlong */
                (p[0] == 0xF4 && p[1] > 0x8F)))      /* > U+10FFFF */
    return 0;
  for (size_t i = 1; i < n; i++)      /* a NUL stops here: not 10xxxxxx */
    if ((p[i] & 0xC0) != 0x80) return 0;
  return n;
}

int cf_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p;
    size_t k = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1
             : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 9;
    if (k == 9 || (size_t)(end - p) <= k) return 0;   /* bad or cut */
    unsigned v = k ? c & (0x3f >> k) : c;
    for (size_t i = 1; i <= k; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
      v = v << 6 | (p[i] & 0x3f);
    }
    /* overlong 3- and 4-byte forms, UTF-16 surrogates, past U+10FFFF */
    if ((k == 2 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
        (k == 3 && (v < 0x10000 || v > 0x10ffff)))
      return 0;
    p += k + 1;
  }
  return 1;
}

void cf_utf8_scrub(char *s) {
  while (*s) {
    size_t k = cf_utf8_char_len(s);
    if (!k) *s++ = '?';
    else s += k;
  }
}
