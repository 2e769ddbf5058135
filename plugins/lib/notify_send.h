/* Delivering a notification: Slack-style incoming webhook and SMTP via
 * libcurl with bounded retries, or a local JSON-lines outbox. Error
 * messages never contain the webhook URL or a password. */
#ifndef CFB_NOTIFY_SEND_H
#define CFB_NOTIFY_SEND_H

#include <stdint.h>

struct cfb_notify_retry {
  int attempts;          /* total tries, >= 1 */
  int64_t delay_ms;      /* first backoff; doubles after each failure */
  int64_t timeout_ms;    /* per attempt */
};
#define CFB_NOTIFY_RETRY_DEFAULT {4, 1000, 10000}

/* POSTs `json` (Content-Type: application/json) to url. Retries only on
 * HTTP 429/5xx and connection-level errors. Returns 0 on HTTP 2xx, else
 * a negative error with *errmsg (caller frees); *tries gets the number of
 * attempts made (may be NULL). */
int cfb_notify_webhook(const char *url, const char *json,
                       const struct cfb_notify_retry *r, int *tries,
                       char **errmsg);

struct cfb_smtp {
  const char *url;          /* smtp://host:587 (STARTTLS if offered) or
                               smtps://host:465 */
  const char *from;         /* address, without <> */
  const char *const *to;    /* addresses */
  size_t nto;
  const char *user, *password;  /* may be NULL */
  int require_tls;          /* 1: CURLUSESSL_ALL, else TRY */
};

/* Sends one RFC 5322 message (CRLF lines built here). Retries transient
 * failures. Returns 0 or a negative error with *errmsg. */
int cfb_notify_smtp(const struct cfb_smtp *s, const char *subject,
                    const char *body, const struct cfb_notify_retry *r,
                    int *tries, char **errmsg);

/* Appends `line` plus '\n' to path with one write(), then fsyncs
 * (creating parent folders). Returns 0 or -errno with *errmsg. */
int cfb_notify_outbox(const char *path, const char *line, char **errmsg);

#endif
