/* Atomic partition publishing: write a new version folder, fsync it, then
 * swap the `current` symlink with rename(2). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "cfb_partition.h"
#include "costflow/common.h"

int64_t cfb_partition_current(const char *dir) {
  char *link = cf_asprintf("%s/current", dir);
  char target[64];
  ssize_t n = link ? readlink(link, target, sizeof target - 1) : -1;
  cf_free(link);
  if (n <= 1 || target[0] != 'v') return 0;
  target[n] = '\0';
  return strtoll(target + 1, NULL, 10);
}

/* Highest vNNNNNN folder present (even if never made current). */
static int64_t max_version(const char *dir) {
  DIR *d = opendir(dir);
  int64_t max = 0;
  struct dirent *e;
  if (!d) return 0;
  while ((e = readdir(d))) {
    char *end;
    if (e->d_name[0] != 'v') continue;
    long long v = strtoll(e->d_name + 1, &end, 10);
    if (*end == '\0' && v > max) max = v;
  }
  closedir(d);
  return max;
}

/* Writes the iovecs to a new file and fsyncs it. */
static int write_synced(const char *path, const struct iovec *iov,
                        size_t niov) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  struct iovec win[64];
  size_t next = 0, skip = 0;       /* skip: bytes of iov[next] written */
  int ret = 0;
  while (!ret && next < niov) {
    size_t n = 0;
    for (size_t i = next; i < niov && n < 64; i++) win[n++] = iov[i];
    win[0].iov_base = (char *)win[0].iov_base + skip;
    win[0].iov_len -= skip;
    ssize_t w = writev(fd, win, (int)n);
    if (w < 0) {
      if (errno != EINTR) ret = -errno;
      continue;
    }
    size_t done = (size_t)w + skip;
    while (next < niov && done >= iov[next].iov_len) done -= iov[next++].iov_len;
    skip = done;
  }
  if (!ret && fsync(fd) < 0) ret = -errno;
  if (close(fd) < 0 && !ret) ret = -errno;
  return ret;
}

static int rm_tree_shallow(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  if (!d) return -errno;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *p = cf_asprintf("%s/%s", dir, e->d_name);
    if (p) unlink(p);
    cf_free(p);
  }
  closedir(d);
  return rmdir(dir) < 0 ? -errno : 0;
}

/* True if the live version already holds these bytes and inputs. */
static int same_as_live(const char *dir, int64_t live, const char *sum,
                        const char *inputs_json) {
  if (live <= 0) return 0;
  char *mp = cf_asprintf("%s/v%06lld/_manifest.json", dir, (long long)live);
  struct cf_buf b = CF_BUF_INIT(1 << 24);
  int same = mp && cf_buf_read_file(&b, mp) == 0 && strstr(b.buf, sum) &&
             strstr(b.buf, inputs_json);
  cf_free(mp);
  cf_buf_release(&b);
  return same;
}

int cfb_partition_publish(const char *dir, const char *dataset,
                          const char *partition, const struct iovec *iov,
                          size_t niov, int64_t rows, const char *inputs_json,
                          int keep, struct cfb_published *out,
                          char **errmsg) {
  char *vdir = NULL, *path = NULL, *tmp_link = NULL, *link = NULL;
  char *manifest = NULL, vname[32];
  const char *what = "mkdir";
  int ret = cf_mkdir_p(dir, 0755);
  if (ret < 0) goto done;
  what = "checksum";
  if ((ret = cf_sha256_iov(iov, niov, out->checksum)) < 0) goto done;
  int64_t live = cfb_partition_current(dir);
  out->version = live;
  out->changed = 0;
  if (same_as_live(dir, live, out->checksum, inputs_json)) goto done;
  int64_t v = max_version(dir) + 1;
  snprintf(vname, sizeof vname, "v%06lld", (long long)v);
  vdir = cf_asprintf("%s/%s", dir, vname);
  ret = -ENOMEM;
  if (!vdir) goto done;
  /* A leftover folder from a crashed attempt is never live: replace it. */
  if (mkdir(vdir, 0755) < 0) {
    ret = -errno;
    goto done;
  }
  what = "write data.csv";
  if (!(path = cf_asprintf("%s/data.csv", vdir))) goto nomem;
  if ((ret = write_synced(path, iov, niov)) < 0) goto done;
  manifest = cf_asprintf(
      "{\"dataset\":\"%s\",\"partition\":\"%s\",\"version\":%lld,"
      "\"row_count\":%lld,\"checksum\":\"%s\",\"inputs\":%s}\n",
      dataset, partition, (long long)v, (long long)rows, out->checksum,
      inputs_json);
  cf_free(path);
  if (!manifest || !(path = cf_asprintf("%s/_manifest.json", vdir)))
    goto nomem;
  what = "write manifest";
  struct iovec mi = {manifest, strlen(manifest)};
  if ((ret = write_synced(path, &mi, 1)) < 0) goto done;
  what = "fsync";
  if ((ret = cf_fsync_dir(vdir)) < 0 || (ret = cf_fsync_dir(dir)) < 0)
    goto done;
  /* The swap: a fresh symlink renamed over `current` is atomic. */
  what = "swap current";
  tmp_link = cf_asprintf("%s/.current.tmp.%ld", dir, (long)getpid());
  link = cf_asprintf("%s/current", dir);
  if (!tmp_link || !link) goto nomem;
  unlink(tmp_link);
  if (symlink(vname, tmp_link) < 0 || rename(tmp_link, link) < 0) {
    ret = -errno;
    unlink(tmp_link);
    goto done;
  }
  if ((ret = cf_fsync_dir(dir)) < 0) goto done;
  out->version = v;
  out->changed = 1;
  /* Old versions beyond `keep` go; a reader still holding one open keeps
   * its file (unlink semantics). */
  for (int64_t old = v - keep; keep > 0 && old > 0; old--) {
    char *od = cf_asprintf("%s/v%06lld", dir, (long long)old);
    struct stat st;
    int gone = !od || stat(od, &st) < 0;
    if (od && !gone) rm_tree_shallow(od);
    cf_free(od);
    if (gone) break;
  }
  ret = 0;
  goto done;
nomem:
  ret = -ENOMEM;
done:
  if (ret < 0 && errmsg)
    *errmsg = cf_asprintf("publish %s/%s: %s: %s", dir,
                          vdir ? vname : "", what, cf_strerror(ret));
  cf_free(vdir);
  cf_free(path);
  cf_free(tmp_link);
  cf_free(link);
  cf_free(manifest);
  return ret;
}
