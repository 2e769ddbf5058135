/* The bearer token: created at first start (0600, printed once), read on
 * later starts; compared in constant time. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "web-int.h"

static int token_read(struct cf_web *w, FILE *log) {
  struct stat sb;
  int fd = open(w->token_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -errno;
  int rc = 0;
  char buf[256];
  ssize_t n = 0;
  if (fstat(fd, &sb) < 0) {
    rc = -errno;
    goto done;
  }
  /* like ssh: a secret others can read is no secret */
  if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
    fprintf(log, "costflow: token file %s must be a regular file with mode "
            "0600 (chmod 600 it)\n", w->token_path);
    rc = CF_EINVALID;
    goto done;
  }
  n = read(fd, buf, sizeof buf - 1);
  if (n < 0) {
    rc = -errno;
    goto done;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                   buf[n - 1] == ' '))
    n--;
  buf[n] = '\0';
  if (n < 16 || n > 64 || strspn(buf, "0123456789abcdefABCDEF-_"
      "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") != (size_t)n) {
    fprintf(log, "costflow: token file %s must hold 16-64 characters of "
            "[A-Za-z0-9_-]\n", w->token_path);
    rc = CF_EINVALID;
    goto done;
  }
  memcpy(w->token, buf, (size_t)n + 1);
done:
  close(fd);
  return rc;
}

static int token_create(struct cf_web *w, FILE *log) {
  unsigned char raw[32];
  if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return -errno;
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf(w->token + 2 * i, 3, "%02x", raw[i]);
  char *dir = cf_strdup(w->token_path);
  if (!dir) return -ENOMEM;
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    cf_mkdir_p(dir, 0755);
  }
  cf_free(dir);
  int fd = open(w->token_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                0600);
  if (fd < 0) return -errno;
  char line[80];
  int n = snprintf(line, sizeof line, "%s\n", w->token);
  int rc = write(fd, line, (size_t)n) == n && fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  if (rc < 0) return rc;
  fprintf(log, "costflow: created web API token in %s (shown once):\n"
          "  %s\nsend it as 'Authorization: Bearer <token>'\n",
          w->token_path, w->token);
  return 0;
}

int cf__token_init(struct cf_web *w, FILE *log) {
  int rc = token_read(w, log);
  if (rc == -ENOENT) rc = token_create(w, log);
  if (rc == -EEXIST) rc = token_read(w, log);   /* lost a creation race */
  if (rc < 0 && rc != CF_EINVALID)
    fprintf(log, "costflow: token file %s: %s\n", w->token_path,
            cf_strerror(rc));
  return rc;
}

int cf__token_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char d = (unsigned char)(la != lb);
  for (size_t i = 0; i < lb; i++)
    d |= (unsigned char)((i < la ? a[i] : 0) ^ b[i]);
  return d == 0 && lb > 0;
}

int cf__addr_is_loopback(const char *host) {
  return !strncmp(host, "127.", 4) || !strcmp(host, "::1") ||
         !strcmp(host, "localhost");
}
