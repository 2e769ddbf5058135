/* measure: run a command, print its wall time, CPU time and peak RSS.
 *   measure [-o OUT] -- CMD ARGS...
 * Peak RSS is wait4()'s ru_maxrss: the largest of the command and every
 * descendant it waited for (e.g. costflow's task children). One JSON line
 * on stdout (the command's stdout goes to OUT, default /dev/null; its
 * stderr is kept); exit status is the command's. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *out = "/dev/null";
  int i = 1;
  if (i + 1 < argc && !strcmp(argv[i], "-o")) { out = argv[i + 1]; i += 2; }
  if (i < argc && !strcmp(argv[i], "--")) i++;
  if (i >= argc) {
    fprintf(stderr, "usage: measure [-o OUT] -- CMD ARGS...\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 1; }
  if (pid == 0) {
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0) { perror(out); _exit(127); }
    close(fd);
    execvp(argv[i], argv + i);
    perror(argv[i]);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) < 0) { perror("wait4"); return 1; }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (double)(t1.tv_sec - t0.tv_sec) +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  printf("{\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,\"maxrss_kb\":%ld,"
         "\"rc\":%d}\n",
         wall, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
         ru.ru_maxrss, rc);
  return rc;
}
