/* costflow schedule next: the next fire instants of a cron expression in
 * an IANA zone, one UTC ISO-8601 instant per line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "costflow/common.h"
#include "costflow/cron.h"

#define SCHEDULE_COUNT_DEFAULT 1
#define SCHEDULE_COUNT_MAX 1000

static void schedule_usage(FILE *out) {
  fprintf(out,
          "usage: costflow schedule next --cron EXPR [--tz ZONE] "
          "[--from INSTANT] [--count N]\n\n"
          "Prints the next N fire instants strictly after INSTANT, one per\n"
          "line, as YYYY-MM-DDTHH:MM:SSZ. EXPR is 5-field cron or a macro\n"
          "(@hourly, @daily, ...), matched on the wall clock of ZONE.\n\n"
          "  --cron EXPR     cron expression (required)\n"
          "  --tz ZONE       IANA zone, default UTC\n"
          "  --from INSTANT  YYYY-MM-DDTHH:MM[:SS]Z, ...+HH:MM or YYYY-MM-DD;"
          "\n                  default now\n"
          "  --count N       how many instants, 1-%d, default %d\n\n"
          "Exit status: 0 ok, 1 the expression never fires, 2 bad input.\n",
          SCHEDULE_COUNT_MAX, SCHEDULE_COUNT_DEFAULT);
}

int cmd_schedule(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"cron", required_argument, NULL, 'c'},
    {"tz", required_argument, NULL, 'z'},
    {"from", required_argument, NULL, 'f'},
    {"count", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *expr = NULL, *zone = "UTC", *from = NULL;
  struct cf_cron *cron = NULL;
  struct cf_tz *tz = NULL;
  char *errmsg = NULL;
  long count = SCHEDULE_COUNT_DEFAULT;
  int ret, opt;
  int64_t t;

  optind = 0;                               /* full getopt re-init */
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (opt) {
    case 'c': expr = optarg; break;
    case 'z': zone = optarg; break;
    case 'f': from = optarg; break;
    case 'n': {
      char *end;
      count = strtol(optarg, &end, 10);
      if (!*optarg || *end || count < 1 || count > SCHEDULE_COUNT_MAX)
        return cf_cli_error(CF_EXIT_USAGE, "--count must be 1-%d, not '%s'",
                            SCHEDULE_COUNT_MAX, optarg);
      break;
    }
    case 'h': schedule_usage(stdout); return CF_EXIT_OK;
    case ':':
      return cf_cli_error(CF_EXIT_USAGE, "%s needs a value", argv[optind - 1]);
    default:
      schedule_usage(stderr);
      return cf_cli_error(CF_EXIT_USAGE, "unknown option '%s'",
                          argv[optind - 1]);
    }
  }
  if (optind >= argc || strcmp(argv[optind], "next") || optind + 1 < argc) {
    schedule_usage(stderr);
    return CF_EXIT_USAGE;
  }
  if (!expr) return cf_cli_error(CF_EXIT_USAGE, "--cron EXPR is required");

  if (cf_cron_parse(expr, &cron, &errmsg) < 0) {
    ret = cf_cli_error(CF_EXIT_USAGE, "%s", errmsg ? errmsg : "bad cron");
    goto done;
  }
  if ((ret = cf_tz_load(zone, &tz)) < 0) {
    const char *why = ret == CF_ENOTFOUND  ? "unknown zone"
                      : ret == CF_EINVALID ? "bad zone name or not a TZif file"
                                           : cf_strerror(ret);
    ret = cf_cli_error(CF_EXIT_USAGE, "time zone \"%s\": %s", zone, why);
    goto done;
  }
  if (!from) {
    t = cf_now_ms() / 1000;
  } else if (cf_parse_instant(from, &t) < 0) {
    ret = cf_cli_error(CF_EXIT_USAGE, "--from \"%s\": expected "
                       "YYYY-MM-DDTHH:MM[:SS]Z, YYYY-MM-DDTHH:MM[:SS]+HH:MM "
                       "or YYYY-MM-DD", from);
    goto done;
  }
  ret = CF_EXIT_OK;
  for (long i = 0; i < count; i++) {
    char buf[32];
    int rc = cf_cron_next(cron, tz, t, &t);
    if (rc == CF_ENEVER) {                  /* exit 1 only if none at all */
      if (i == 0) ret = CF_EXIT_FAIL;
      break;
    }
    if (rc < 0) {
      ret = cf_cli_error(CF_EXIT_FAIL, "%s", cf_strerror(rc));
      break;
    }
    cf_format_iso_s(t, buf);
    printf("%.20s\n", buf);
  }
done:
  cf_free(errmsg);
  cf_tz_free(tz);
  cf_cron_free(cron);
  return ret;
}
