/* Durable file helpers: atomic replace, mkdir -p, directory fsync, SHA-256. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "costflow/common.h"

static int fsync_open(const char *path, int flags) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return -errno;
  int r = fsync(fd) < 0 ? -errno : 0;
  close(fd);
  return r;
}

int cf_fsync_dir(const char *dir) { return fsync_open(dir, O_DIRECTORY); }
int cf_fsync_path(const char *path) { return fsync_open(path, 0); }

/* 0 if path is a folder (or a link to one), else -ENOTDIR or stat's error. */
static int is_dir(const char *path) {
  struct stat sb;
  if (stat(path, &sb) < 0) return -errno;
  return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

int cf_mkdir_p(const char *path, int mode) {
  if (!*path) return -ENOENT;
  /* Usually only the last level is missing (or none): one mkdir then. */
  if (mkdir(path, (mode_t)mode) == 0) return 0;
  if (errno == EEXIST) return is_dir(path);
  if (errno != ENOENT) return -errno;
  char *p = cf_strdup(path);
  if (!p) return -ENOMEM;
  int ret = 0;
  for (char *s = p + 1; ; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
        ret = -errno;
        break;
      }
      *s = c;
      if (c == '\0') {
        ret = is_dir(path);          /* a file of that name is not a folder */
        break;
      }
    }
  }
  cf_free(p);
  return ret;
}

int cf_write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int cf_map_file(const char *path, struct cf_mapped *m) {
  struct stat st;
  int ret = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
  *m = (struct cf_mapped){NULL, 0};
  if (fd < 0) return -errno;
  if (fstat(fd, &st) < 0) {
    ret = -errno;
  } else if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ,
                   MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) ret = -errno;
    else *m = (struct cf_mapped){p, (size_t)st.st_size};
  }
  close(fd);
  return ret;
}

void cf_unmap_file(struct cf_mapped *m) {
  if (m->p) munmap((void *)m->p, m->n);
  *m = (struct cf_mapped){NULL, 0};
}

int cf_write_file_atomic(const char *path, const void *data, size_t len) {
  char *tmp = cf_asprintf("%s.tmp.%ld", path, (long)getpid());
  char *dir = cf_strdup(path);
  int fd = -1, ret = -ENOMEM;
  if (!tmp || !dir) goto done;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) { ret = -errno; goto done; }
  if ((ret = cf_write_all(fd, data, len)) < 0) goto done;
  if (fsync(fd) < 0) { ret = -errno; goto done; }
  if (close(fd) < 0) { fd = -1; ret = -errno; goto done; }
  fd = -1;
  if (rename(tmp, path) < 0) { ret = -errno; goto done; }
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = '\0';
    ret = cf_fsync_dir(slash == dir ? "/" : dir);
  } else {
    ret = cf_fsync_dir(".");
  }
done:
  if (fd >= 0) close(fd);
  if (ret < 0 && tmp) unlink(tmp);
  cf_free(tmp);
  cf_free(dir);
  return ret;
}

static void to_hex(const unsigned char *d, unsigned n, char *hex) {
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[2 * n] = '\0';
}

void cf_sha256_mem(const void *p, size_t n, char hex[65]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned dl = 0;
  EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
  to_hex(d, dl, hex);
}

/* The handle is the OpenSSL context itself. */
struct cf_sha256 *cf_sha256_new(void) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx && !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
    EVP_MD_CTX_free(ctx);
    ctx = NULL;
  }
  return (struct cf_sha256 *)ctx;
}

void cf_sha256_update(struct cf_sha256 *s, const void *p, size_t n) {
  EVP_DigestUpdate((EVP_MD_CTX *)s, p, n);
}

int cf_sha256_end(struct cf_sha256 *s, char hex[65]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned dl = 0;
  int ret = 0;
  if (!s) return 0;
  if (hex) {
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)s, d, &dl)) to_hex(d, dl, hex);
    else ret = -ENOMEM;
  }
  EVP_MD_CTX_free((EVP_MD_CTX *)s);
  return ret;
}

int cf_sha256_file(const char *path, char hex[65]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct cf_sha256 *sha = cf_sha256_new();
  int ret = sha ? 0 : -ENOMEM;
  static __thread unsigned char chunk[1 << 16];
  while (ret == 0) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ret = -errno;
    else if (n == 0) break;
    else cf_sha256_update(sha, chunk, (size_t)n);
  }
  int end = cf_sha256_end(sha, ret == 0 ? hex : NULL);
  close(fd);
  return ret < 0 ? ret : end;
}

int cf_sha256_iov(const struct iovec *iov, size_t niov, char hex[65]) {
  struct cf_sha256 *sha = cf_sha256_new();
  if (!sha) return -ENOMEM;
  for (size_t i = 0; i < niov; i++)
    cf_sha256_update(sha, iov[i].iov_base, iov[i].iov_len);
  return cf_sha256_end(sha, hex);
}

