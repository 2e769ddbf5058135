/* io_fault.so: an LD_PRELOAD shim for tests that fails chosen I/O calls
 * with EIO, so the durability error paths run on real files. Used by
 * tests/integration/test-io-faults.sh. Environment:
 *   CF_FAULT_FSYNC   globs: fsync/fdatasync of a file whose path (read from
 *                    /proc/self/fd/N) matches fail
 *   CF_FAULT_RENAME  globs: rename/renameat/renameat2 whose target (made
 *                    absolute) matches fail, nothing renamed
 *   CF_FAULT_LOG     if set, each injected failure appends "fsync PATH" or
 *                    "rename PATH" to this file, so a test can tell that
 *                    its fault fired
 * Globs are fnmatch(3) patterns without FNM_PATHNAME ('*' spans '/'),
 * several separated by ':'. Any other call goes to the real function
 * (dlsym RTLD_NEXT). No allocation: safe to preload ahead of anything. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);

__attribute__((constructor)) static void io_fault_init(void) {
  real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT,
                                                           "rename");
  real_renameat = (int (*)(int, const char *, int, const char *))dlsym(
      RTLD_NEXT, "renameat");
  real_renameat2 = (int (*)(int, const char *, int, const char *,
                            unsigned))dlsym(RTLD_NEXT, "renameat2");
}

/* True if path matches one of the ':'-separated globs in $var. */
static int io_fault_match(const char *var, const char *path) {
  const char *globs = getenv(var);
  char one[PATH_MAX];
  while (globs && *globs) {
    size_t n = strcspn(globs, ":");
    if (n < sizeof one) {
      memcpy(one, globs, n);
      one[n] = '\0';
      if (fnmatch(one, path, 0) == 0) return 1;
    }
    globs += n + (globs[n] == ':');
  }
  return 0;
}

/* The path fd was opened as; 0 or -1. */
static int fd_path(int fd, char *out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, size - 1);
  if (n < 0) return -1;
  out[n] = '\0';
  return 0;
}

/* name relative to dirfd (or the working folder) as an absolute path. */
static int at_path(int dirfd, const char *name, char *out, size_t size) {
  char dir[PATH_MAX] = "";
  if (name[0] != '/' && (dirfd == AT_FDCWD ? !getcwd(dir, sizeof dir)
                                           : fd_path(dirfd, dir, sizeof dir)))
    return -1;
  int n = snprintf(out, size, "%s%s%s", dir, *dir ? "/" : "", name);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Records the fault (CF_FAULT_LOG) and fails the call with EIO. */
static int io_fault_fail(const char *what, const char *path) {
  const char *log = getenv("CF_FAULT_LOG");
  int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)
               : -1;
  if (fd >= 0) {
    dprintf(fd, "%s %s\n", what, path);
    close(fd);
  }
  errno = EIO;
  return -1;
}

static int fsync_fault(int fd) {
  char path[PATH_MAX];
  if (!getenv("CF_FAULT_FSYNC") || fd_path(fd, path, sizeof path) < 0 ||
      !io_fault_match("CF_FAULT_FSYNC", path))
    return 0;
  return io_fault_fail("fsync", path);
}

static int rename_fault(int dirfd, const char *to) {
  char path[PATH_MAX];
  if (!getenv("CF_FAULT_RENAME") || at_path(dirfd, to, path, sizeof path) < 0
      || !io_fault_match("CF_FAULT_RENAME", path))
    return 0;
  return io_fault_fail("rename", path);
}

int fsync(int fd) { return fsync_fault(fd) ? -1 : real_fsync(fd); }

int fdatasync(int fd) { return fsync_fault(fd) ? -1 : real_fdatasync(fd); }

int rename(const char *from, const char *to) {
  return rename_fault(AT_FDCWD, to) ? -1 : real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to) {
  return rename_fault(tofd, to) ? -1 : real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to,
              unsigned flags) {
  return rename_fault(tofd, to) ? -1
                                : real_renameat2(fromfd, from, tofd, to,
                                                 flags);
}
