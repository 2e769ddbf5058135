/* Task process groups (proc_group.h): start times from /proc, the group
 * mark, and the orphan kill after a driver's crash. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "proc_group.h"

#define MARK "COSTFLOW_TASK_GROUP"

/* Fields 3.. of /proc/PID/stat (after the ")" that ends comm, which may
 * hold spaces) into buf; the pointer at field 3, or NULL. */
static char *stat_fields(int64_t pid, char *buf, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n <= 0) return NULL;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p + 2 : NULL;
}

/* Field k (k >= 3) of the fields stat_fields found. */
static long long field(const char *p, int k) {
  for (int f = 3; f < k && *p; p++)
    if (*p == ' ') f++;
  return strtoll(p, NULL, 10);
}

int64_t cf_proc_start_time(int64_t pid) {
  char buf[1024], *p = stat_fields(pid, buf, sizeof buf);
  return p ? field(p, 22) : 0;
}

void cf_proc_mark_group(void) {
  char v[64];
  snprintf(v, sizeof v, "%lld:%lld", (long long)getpid(),
           (long long)cf_proc_start_time(getpid()));
  setenv(MARK, v, 1);
}

/* Whether /proc/PID's first environment (what it was exec'd with) holds
 * want ("COSTFLOW_TASK_GROUP=pid:start"). */
static int has_mark(const char *pid, const char *want) {
  char path[300], buf[65536];
  snprintf(path, sizeof path, "/proc/%s/environ", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  size_t wl = strlen(want);
  for (char *e = buf; e < buf + n; e += strlen(e) + 1)
    if (!strncmp(e, want, wl) && e[wl] == '\0') return 1;
  return 0;
}

/* The members of group pgid marked as the attempt's, killed one by one. */
static void kill_marked(int64_t pgid, int64_t start) {
  char want[96];
  snprintf(want, sizeof want, MARK "=%lld:%lld", (long long)pgid,
           (long long)start);
  DIR *d = opendir("/proc");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char buf[1024], *p;
    long long pid = atoll(e->d_name);
    if (!(p = stat_fields(pid, buf, sizeof buf)) || field(p, 5) != pgid)
      continue;
    if (has_mark(e->d_name, want)) kill((pid_t)pid, SIGKILL);
  }
  closedir(d);
}

void cf_proc_kill_orphan(int64_t pid, int64_t pid_start) {
  if (pid <= 1 || !pid_start || pid == (int64_t)getpgrp()) return;
  int64_t now_start = cf_proc_start_time(pid);
  if (now_start == pid_start) {          /* the child itself, still there */
    kill(-(pid_t)pid, SIGKILL);
    return;
  }
  if (now_start) return;                 /* the pid names another process */
  char path[64];
  struct stat sb;
  snprintf(path, sizeof path, "/proc/%lld", (long long)pid);
  if (stat(path, &sb) == 0 || errno != ENOENT) return;   /* cannot tell */
  kill_marked(pid, pid_start);
}
