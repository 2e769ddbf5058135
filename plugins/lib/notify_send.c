/* Notification delivery: webhook and SMTP through libcurl, outbox file. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "costflow/common.h"
#include "notify_send.h"

static void sleep_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Once per process, whichever thread sends first: for the notify
 * plugin's task process (the daemon initialises libcurl itself before any
 * thread starts, since older libcurl's init is not thread-safe). */
static void curl_init_once(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, curl_init);
}

/* Connection-level failures worth another try. */
static int curl_transient(CURLcode c) {
  switch (c) {
  case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE: case CURLE_SSL_CONNECT_ERROR:
    return 1;
  default:
    return 0;
  }
}

/* Discards the reply body (we keep at most a short snippet). */
static size_t sink_body(char *p, size_t sz, size_t n, void *data) {
  struct cf_buf *b = data;
  size_t len = sz * n;
  if (b->len < 200) cf_buf_add(b, p, len < 200 ? len : 200);
  return len;
}

int cfb_notify_webhook(const char *url, const char *json,
                       const struct cfb_notify_retry *r, int *tries,
                       char **errmsg) {
  struct cfb_notify_retry def = CFB_NOTIFY_RETRY_DEFAULT;
  struct curl_slist *hdr = NULL;
  CURL *c = NULL;
  int ret = CF_EINVALID, attempt = 0;
  int64_t delay;
  if (!r) r = &def;
  delay = r->delay_ms;
  curl_init_once();
  if (!(c = curl_easy_init()) ||
      !(hdr = curl_slist_append(NULL, "Content-Type: application/json"))) {
    ret = -ENOMEM;
    goto done;
  }
  for (attempt = 1; attempt <= (r->attempts > 0 ? r->attempts : 1);
       attempt++) {
    struct cf_buf reply = CF_BUF_INIT(4096);
    long status = 0;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int retry;
    cf_free(*errmsg);
    *errmsg = NULL;
    if (cc == CURLE_OK && status >= 200 && status < 300) {
      cf_buf_release(&reply);
      ret = 0;
      break;
    }
    if (cc != CURLE_OK) {
      /* curl_easy_strerror never echoes the URL (which is a secret). */
      *errmsg = cf_asprintf("webhook: %s", curl_easy_strerror(cc));
      retry = curl_transient(cc);
      ret = CF_EBUSY;
    } else {
      *errmsg = cf_asprintf("webhook: HTTP %ld: %.100s", status, reply.buf);
      retry = status == 429 || status >= 500;
      ret = retry ? CF_EBUSY : CF_EINVALID;
    }
    cf_buf_release(&reply);
    if (!retry || attempt == r->attempts) break;
    sleep_ms(delay);
    delay *= 2;
  }
done:
  if (tries) *tries = attempt > r->attempts ? r->attempts : attempt;
  curl_slist_free_all(hdr);
  if (c) curl_easy_cleanup(c);
  return ret;
}

struct smtp_src { const char *p; size_t left; };

static size_t smtp_read(char *out, size_t sz, size_t n, void *data) {
  struct smtp_src *s = data;
  size_t len = sz * n < s->left ? sz * n : s->left;
  memcpy(out, s->p, len);
  s->p += len;
  s->left -= len;
  return len;
}

/* RFC 5322 message with CRLF line ends; libcurl dot-stuffs the body. */
static char *smtp_message(const struct cfb_smtp *s, const char *subject,
                          const char *body) {
  struct cf_buf b = CF_BUF_INIT(0);
  char date[64], host[128] = "localhost";
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  gethostname(host, sizeof host - 1);
  int bad = cf_buf_addf(&b, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, s->from);
  for (size_t i = 0; i < s->nto; i++)
    bad |= cf_buf_addf(&b, "%s<%s>", i ? ", " : "", s->to[i]);
  bad |= cf_buf_addf(&b, "\r\nMessage-ID: <costflow.%lld.%d@%s>\r\n"
                     "Subject: %s\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n",
                     (long long)cf_now_ms(), (int)getpid(), host, subject);
  for (const char *p = body; *p; p++) {
    if (*p == '\n' && (p == body || p[-1] != '\r'))
      bad |= cf_buf_addch(&b, '\r');
    bad |= cf_buf_addch(&b, *p);
  }
  bad |= cf_buf_adds(&b, "\r\n");
  if (bad < 0) {
    cf_buf_release(&b);
    return NULL;
  }
  return cf_buf_detach(&b, NULL);
}

int cfb_notify_smtp(const struct cfb_smtp *s, const char *subject,
                    const char *body, const struct cfb_notify_retry *r,
                    int *tries, char **errmsg) {
  struct cfb_notify_retry def = CFB_NOTIFY_RETRY_DEFAULT;
  struct curl_slist *rcpt = NULL;
  CURL *c = NULL;
  char *msg = NULL, *from = NULL;
  int ret = -ENOMEM, attempt = 0;
  int64_t delay;
  if (!r) r = &def;
  delay = r->delay_ms;
  curl_init_once();
  if (!(c = curl_easy_init()) || !(msg = smtp_message(s, subject, body)) ||
      !(from = cf_asprintf("<%s>", s->from)))
    goto done;
  for (size_t i = 0; i < s->nto; i++) {
    char *t = cf_asprintf("<%s>", s->to[i]);
    struct curl_slist *n = t ? curl_slist_append(rcpt, t) : NULL;
    cf_free(t);
    if (!n) goto done;
    rcpt = n;
  }
  for (attempt = 1; attempt <= (r->attempts > 0 ? r->attempts : 1);
       attempt++) {
    struct smtp_src src = {msg, strlen(msg)};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL, s->require_tls ? (long)CURLUSESSL_ALL
                                                        : (long)CURLUSESSL_TRY);
    if (s->user) curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
    if (s->password) curl_easy_setopt(c, CURLOPT_PASSWORD, s->password);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &src);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    cf_free(*errmsg);
    *errmsg = NULL;
    if (cc == CURLE_OK) {
      ret = 0;
      break;
    }
    *errmsg = cf_asprintf("smtp: %s (reply %ld)", curl_easy_strerror(cc),
                          code);
    ret = CF_EBUSY;
    /* 4xx replies are temporary in SMTP; 5xx and bad logins are not.
     * libcurl reports a refused RCPT as CURLE_SEND_ERROR, so the reply
     * code decides before the CURLcode does. */
    int retry = code >= 500 ? 0
                : curl_transient(cc) || (code >= 400 && code < 500);
    if (!retry || attempt == r->attempts) break;
    sleep_ms(delay);
    delay *= 2;
  }
done:
  if (ret == -ENOMEM && !*errmsg) *errmsg = cf_strdup("out of memory");
  if (tries) *tries = attempt > r->attempts ? r->attempts : attempt;
  curl_slist_free_all(rcpt);
  if (c) curl_easy_cleanup(c);
  cf_free(from);
  cf_free(msg);
  return ret;
}

int cfb_notify_outbox(const char *path, const char *line, char **errmsg) {
  char *dir = cf_strdup(path), *slash;
  int fd = -1, ret = 0;
  size_t n = strlen(line);
  char *rec = cf_malloc(n + 2);
  if (!dir || !rec) {
    ret = -ENOMEM;
    goto done;
  }
  if ((slash = strrchr(dir, '/')) && slash != dir) {
    *slash = '\0';
    if ((ret = cf_mkdir_p(dir, 0755)) < 0) goto fail;
  }
  memcpy(rec, line, n);
  rec[n] = '\n';
  /* O_APPEND + one write: concurrent writers never interleave a line. */
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, rec, n + 1) != (ssize_t)(n + 1) || fsync(fd) < 0) {
    ret = errno ? -errno : -EIO;
    goto fail;
  }
  goto done;
fail:
  *errmsg = cf_asprintf("outbox %s: %s", path, cf_strerror(ret));
done:
  if (fd >= 0) close(fd);
  cf_free(rec);
  cf_free(dir);
  return ret;
}
