/* One table of error strings for every costflow error code. */
#include <string.h>
#include "costflow/common.h"

const char *cf_strerror(int err) {
  switch (err) {
  case 0: return "success";
#define CF__ERR_CASE(n, v, msg) case v: return msg;
  CF_ERR_MAP(CF__ERR_CASE)
#undef CF__ERR_CASE
  default: break;
  }
  if (err < 0 && err > -4000) return strerror(-err);
  return "unknown error";
}
