/* `costflow scheduler`: the daemon's command line. Takes the single-
 * instance lock $HOME/scheduler.lock (flock, held for the daemon's life;
 * the file holds its pid), then runs the daemon (daemon.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "costflow/cron.h"
#include "daemon.h"
#include "web.h"

static const char usage[] =
    "usage: costflow scheduler [--dags DIR] [--home DIR] [--grace DUR]\n"
    "         [--retention DAYS] [--rescan DUR] [--once] [--now INSTANT]\n"
    "         [--speed N] [--web ADDR:PORT] [--landing DIR]\n"
    "  Runs the scheduler daemon: cron ticks with catch-up, file sensors,\n"
    "  hand-off of run/backfill/rerun, deadlines, retention. Logs JSON\n"
    "  lines on stderr. SIGTERM/SIGINT: stop starting work, let running\n"
    "  attempts finish for --grace (default 30s), exit 0. SIGHUP: reload.\n"
    "  --retention DAYS  prune finished runs older than this (default 30,\n"
    "                    0 = keep everything)\n"
    "  --rescan DUR      sensor fallback rescan period (default 30s)\n"
    "  --once            evaluate ticks and sensors, drive what is due, and\n"
    "                    exit when it has finished\n"
    "  --now INSTANT     start the clock at INSTANT (2025-03-09T06:00:00Z);\n"
    "                    also $COSTFLOW_FAKE_NOW (tests)\n"
    "  --speed N         fake clock runs N times faster (tests; also\n"
    "                    $COSTFLOW_FAKE_SPEED)\n"
    "  --web ADDR:PORT   also serve the web UI and JSON API on this loop\n"
    "                    (e.g. 127.0.0.1:8080; see docs/web.md)\n"
    "  --landing DIR     where web uploads land\n"
    "                    (default $COSTFLOW_HOME/landing)\n"
    "  --web-allowed-host NAME[,NAME...]  Host names the loopback web\n"
    "                    server also answers without a token (a reverse\n"
    "                    proxy's public name; see docs/web.md)\n";

/* Returns the lock fd, or -1 after printing who holds it. */
static int take_lock(const char *home) {
  char *path = cf_asprintf("%s/scheduler.lock", home);
  int fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (fd < 0) {
    cf_cli_error(CF_EXIT_FAIL, "cannot open %s: %s", path ? path : "lock",
                 strerror(errno));
    cf_free(path);
    return -1;
  }
  cf_free(path);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    cf_cli_error(CF_EXIT_FAIL, "scheduler already running in %s, pid %ld",
                 home, strtol(buf, NULL, 10));
    return -1;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    /* the lock still holds; only the pid hint is missing */
  }
  return fd;
}

int cmd_scheduler(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"once", no_argument, 0, 'o'}, {"now", required_argument, 0, 'n'},
    {"speed", required_argument, 0, 's'},
    {"grace", required_argument, 0, 'g'},
    {"retention", required_argument, 0, 'r'},
    {"rescan", required_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
    {"web", required_argument, 0, 'w'},
    {"landing", required_argument, 0, 'L'},
    {"web-allowed-host", required_argument, 0, 'A'},
    {0, 0, 0, 0}};
  struct cf_daemon_opts o = {0};
  const char *now = getenv("COSTFLOW_FAKE_NOW");
  const char *speed = getenv("COSTFLOW_FAKE_SPEED");
  o.grace_ms = 30000;
  o.retention_days = 30;
  o.rescan_ms = 30000;
  int c;
  char *end;
  while ((c = getopt_long(argc, argv, "on:s:g:r:R:hw:L:A:", opts, NULL)) !=
         -1) {
    switch (c) {
    case 'A':
      if (!cf_web_hosts_valid(optarg))
        return cf_cli_error(CF_EXIT_USAGE, "--web-allowed-host: '%s' is not "
                            "a comma list of host names", optarg);
      o.web_allowed_hosts = optarg;
      break;
    case 'o': o.once = 1; break;
    case 'w': o.web_listen = optarg; break;
    case 'L': o.web_landing = optarg; break;
    case 'n': now = optarg; break;
    case 's': speed = optarg; break;
    case 'g':
      if (cf_duration_parse(optarg, &o.grace_ms) < 0)
        return cf_cli_error(CF_EXIT_USAGE, "--grace: bad duration '%s'",
                            optarg);
      break;
    case 'r':
      o.retention_days = (int)strtol(optarg, &end, 10);
      if (*end || o.retention_days < 0)
        return cf_cli_error(CF_EXIT_USAGE, "--retention wants days >= 0");
      break;
    case 'R':
      if (cf_duration_parse(optarg, &o.rescan_ms) < 0)
        return cf_cli_error(CF_EXIT_USAGE, "--rescan: bad duration '%s'",
                            optarg);
      break;
    case 'h': fputs(usage, stdout); return CF_EXIT_OK;
    default: fputs(usage, stderr); return CF_EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fputs(usage, stderr);
    return CF_EXIT_USAGE;
  }
  if (now && *now) {
    int64_t t;
    if (cf_parse_instant(now, &t) < 0)
      return cf_cli_error(CF_EXIT_USAGE, "--now: want 2025-03-09T06:00:00Z,"
                          " got '%s'", now);
    o.fake_now_ms = t * 1000;
    o.speed = 1.0;
    if (speed && *speed) {
      o.speed = strtod(speed, &end);
      if (*end || o.speed < 1.0)
        return cf_cli_error(CF_EXIT_USAGE, "--speed wants a number >= 1");
    }
  }
  int rc = cf_mkdir_p(cli->home, 0755);
  if (rc < 0)
    return cf_cli_error(CF_EXIT_FAIL, "cannot create home %s: %s",
                        cli->home, cf_strerror(rc));
  int lock = take_lock(cli->home);
  if (lock < 0) return CF_EXIT_FAIL;
  int code = cf_daemon_main(cli, &o);
  close(lock);
  return code;
}
