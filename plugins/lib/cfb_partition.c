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

/* Writes the iovecs to a new file and asks the disk to start writing it
 * now, so the later fsync (cfb_partition_commit) finds little to wait for. */
static int write_file(const char *path, const struct iovec *iov,
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
  if (!ret) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
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

void cfb_staged_release(struct cfb_staged *st) {
  cf_free(st->dir);
  cf_free(st->vdir);
  memset(st, 0, sizeof *st);
}

int cfb_partition_stage(const char *dir, const char *dataset,
                        const char *partition, const struct iovec *iov,
                        size_t niov, int64_t rows, const char *inputs_json,
                        struct cfb_staged *st, char **errmsg) {
  char *path = NULL, *manifest = NULL;
  const char *what = "mkdir";
  int made = 0;                      /* st->vdir is ours to remove */
  memset(st, 0, sizeof *st);
  int ret = -ENOMEM;
  if (!(st->dir = cf_strdup(dir))) goto done;
  if ((ret = cf_mkdir_p(dir, 0755)) < 0) goto done;
  what = "checksum";
  if ((ret = cf_sha256_iov(iov, niov, st->checksum)) < 0) goto done;
  st->live = cfb_partition_current(dir);
  if (same_as_live(dir, st->live, st->checksum, inputs_json)) {
    st->unchanged = 1;
    goto done;
  }
  st->version = max_version(dir) + 1;
  snprintf(st->vname, sizeof st->vname, "v%06lld", (long long)st->version);
  ret = -ENOMEM;
  if (!(st->vdir = cf_asprintf("%s/%s", dir, st->vname))) goto done;
  /* A leftover folder of a crashed attempt is never live; max_version()
   * counts it, so it is skipped, never reused. */
  if (mkdir(st->vdir, 0755) < 0) {
    ret = -errno;
    goto done;
  }
  made = 1;
  what = "write data.csv";
  ret = -ENOMEM;
  if (!(path = cf_asprintf("%s/data.csv", st->vdir))) goto done;
  if ((ret = write_file(path, iov, niov)) < 0) goto done;
  manifest = cf_asprintf(
      "{\"dataset\":\"%s\",\"partition\":\"%s\",\"version\":%lld,"
      "\"row_count\":%lld,\"checksum\":\"%s\",\"inputs\":%s}\n",
      dataset, partition, (long long)st->version, (long long)rows,
      st->checksum, inputs_json);
  cf_free(path);
  path = NULL;                   /* freed again below if manifest failed */
  ret = -ENOMEM;
  if (!manifest || !(path = cf_asprintf("%s/_manifest.json", st->vdir)))
    goto done;
  what = "write manifest";
  struct iovec mi = {manifest, strlen(manifest)};
  ret = write_file(path, &mi, 1);
done:
  if (ret < 0 && errmsg)
    *errmsg = cf_asprintf("publish %s/%s: %s: %s", dir, st->vname, what,
                          cf_strerror(ret));
  if (ret < 0 && made) rm_tree_shallow(st->vdir);   /* never half there */
  if (ret < 0) cfb_staged_release(st);
  cf_free(path);
  cf_free(manifest);
  return ret < 0 ? ret : 0;
}

int cfb_partition_commit(struct cfb_staged *st, int keep,
                         struct cfb_published *out, char **errmsg) {
  char *data = NULL, *mf = NULL, *tmp_link = NULL, *link = NULL;
  const char *what = "fsync";
  int live = 0;                      /* st->vdir is current */
  memcpy(out->checksum, st->checksum, sizeof out->checksum);
  out->version = st->live;
  out->changed = 0;
  if (st->unchanged) return 0;
  int ret = -ENOMEM;
  data = cf_asprintf("%s/data.csv", st->vdir);
  mf = cf_asprintf("%s/_manifest.json", st->vdir);
  tmp_link = cf_asprintf("%s/.current.tmp.%ld", st->dir, (long)getpid());
  link = cf_asprintf("%s/current", st->dir);
  if (!data || !mf || !tmp_link || !link) goto done;
  if ((ret = cf_fsync_path(data)) < 0 || (ret = cf_fsync_path(mf)) < 0 ||
      (ret = cf_fsync_dir(st->vdir)) < 0 || (ret = cf_fsync_dir(st->dir)) < 0)
    goto done;
  /* The swap: a fresh symlink renamed over `current` is atomic. */
  what = "swap current";
  unlink(tmp_link);
  if (symlink(st->vname, tmp_link) < 0 || rename(tmp_link, link) < 0) {
    ret = -errno;
    unlink(tmp_link);
    goto done;
  }
  live = 1;
  what = "fsync";
  if ((ret = cf_fsync_dir(st->dir)) < 0) goto done;
  out->version = st->version;
  out->changed = 1;
  /* Old versions beyond `keep` go; a reader still holding one open keeps
   * its file (unlink semantics). */
  for (int64_t old = st->version - keep; keep > 0 && old > 0; old--) {
    char *od = cf_asprintf("%s/v%06lld", st->dir, (long long)old);
    struct stat sb;
    int gone = !od || stat(od, &sb) < 0;
    if (od && !gone) rm_tree_shallow(od);
    cf_free(od);
    if (gone) break;
  }
done:
  if (ret < 0 && errmsg)
    *errmsg = cf_asprintf("publish %s/%s: %s: %s", st->dir, st->vname, what,
                          cf_strerror(ret));
  /* A version that failed before the swap goes: its number is free again,
   * so the lake's versions stay the store's (partition_record). */
  if (ret < 0 && !live && st->vdir) rm_tree_shallow(st->vdir);
  cf_free(data);
  cf_free(mf);
  cf_free(tmp_link);
  cf_free(link);
  return ret < 0 ? ret : 0;
}
