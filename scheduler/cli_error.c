/* cf_cli_error: the one error line format of both executables (costflow
 * and costflow-task). */
#include <stdarg.h>
#include <stdio.h>
#include "cli.h"

int cf_cli_error(int code, const char *fmt, ...) {
  va_list ap;
  fputs("costflow: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return code;
}
