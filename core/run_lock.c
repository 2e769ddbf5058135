/* The per-run lock: one driver per (dag, logical date) at a time, shared
 * by the CLI, the web server and the scheduler daemon. */
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include "costflow/common.h"

int cf_run_lock(const char *home, const char *dag_id, cf_date d) {
  char ds[11];
  cf_date_format(d, ds);
  char *dir = cf_asprintf("%s/locks", home);
  char *path = cf_asprintf("%s/%s__%s.lock", dir, dag_id, ds);
  int fd = -1;
  if (dir && path && cf_mkdir_p(dir, 0755) == 0) {
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
      close(fd);
      fd = -1;
    }
  }
  cf_free(dir);
  cf_free(path);
  return fd;
}
