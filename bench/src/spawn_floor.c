/* spawn_floor: the machine's floor for process-isolated tasks.
 * Runs posix_spawn + waitpid of /bin/true N times, one at a time and then
 * with P in flight, and prints one JSON line with the rates.
 *
 *   spawn_floor [N] [P]          (defaults 2000, 2) */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int spawn_true(pid_t *pid) {
  char *argv[] = {"/bin/true", NULL};
  return posix_spawn(pid, "/bin/true", NULL, NULL, argv, environ);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000;
  long par = argc > 2 ? atol(argv[2]) : 2;
  if (n <= 0 || par <= 0) return 2;
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    pid_t pid;
    int st;
    if (spawn_true(&pid) != 0) { perror("posix_spawn"); return 1; }
    if (waitpid(pid, &st, 0) < 0) { perror("waitpid"); return 1; }
  }
  double serial = (double)n / (now_s() - t0);
  t0 = now_s();
  long started = 0, done = 0, running = 0;
  while (done < n) {
    while (running < par && started < n) {
      pid_t pid;
      if (spawn_true(&pid) != 0) { perror("posix_spawn"); return 1; }
      started++;
      running++;
    }
    int st;
    if (wait(&st) < 0) { perror("wait"); return 1; }
    running--;
    done++;
  }
  double parallel = (double)n / (now_s() - t0);
  printf("{\"serial_per_s\":%.1f,\"parallel_per_s\":%.1f,\"parallel\":%ld}\n",
         serial, parallel, par);
  return 0;
}
