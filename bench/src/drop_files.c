/* drop_files: deliver N files into a watched landing folder, one logical
 * date each, the way a careful uploader does (write a dot-file, then
 * rename(2) it into place), and print "date,rename_us" for each (wall
 * clock microseconds, the clock of the store's spawn_us).
 *   drop_files DIR N INTERVAL_MS */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int mkdirs(char *p) {
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return -1;
    *s = '/';
  }
  return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: drop_files DIR N INTERVAL_MS\n");
    return 2;
  }
  const char *dir = argv[1];
  int n = atoi(argv[2]), ms = atoi(argv[3]);
  time_t base = 1735689600; /* 2025-01-01T00:00:00Z */
  for (int i = 0; i < n; i++) {
    time_t t = base + (time_t)i * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    char folder[4096], tmp[4200], dst[4200], date[16];
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    snprintf(folder, sizeof folder, "%s/year=%04d/month=%02d/day=%02d", dir,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (mkdirs(folder) < 0) { perror(folder); return 1; }
    snprintf(tmp, sizeof tmp, "%s/.delivery.tmp", folder);
    snprintf(dst, sizeof dst, "%s/delivery-%d.csv", folder, i);
    FILE *f = fopen(tmp, "w");
    if (!f) { perror(tmp); return 1; }
    fprintf(f, "id,cost\n%d,1.%d\n", i, i);
    if (fclose(f) != 0) { perror(tmp); return 1; }
    usleep(50 * 1000);   /* the dot-file's own events are over */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (rename(tmp, dst) < 0) { perror(dst); return 1; }
    printf("%s,%lld\n", date, (long long)tv.tv_sec * 1000000 + tv.tv_usec);
    fflush(stdout);
    usleep((useconds_t)ms * 1000);
  }
  return 0;
}
