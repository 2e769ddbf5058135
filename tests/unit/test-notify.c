/* Notification delivery: a loopback HTTP sink that answers 500 then 200
 * (retried), 404 (not retried), a closed port (connection errors are
 * retried), the outbox default, and the summary text. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "cf_test.h"
#include "gold_fixture.h"
#include "gold_warehouse.h"
#include "notify_message.h"
#include "notify_send.h"

/* Listens on 127.0.0.1:0; returns the fd and sets *port. */
static int listen_any(int *port) {
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CF_ASSERT_EQ(0, bind(fd, (struct sockaddr *)&a, sizeof a));
  CF_ASSERT_EQ(0, listen(fd, 8));
  CF_ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&a, &len));
  *port = ntohs(a.sin_port);
  return fd;
}

/* Child: serves one request per status in `codes`, appending each body
 * plus "\n" to `log`, then exits. */
static pid_t sink(int fd, const int *codes, int n, const char *log) {
  pid_t pid = fork();
  if (pid) return pid;
  for (int i = 0; i < n; i++) {
    int c = accept(fd, NULL, NULL);
    char buf[8192];
    size_t len = 0;
    ssize_t r;
    char *body = NULL;
    long clen = 0;
    while ((r = read(c, buf + len, sizeof buf - 1 - len)) > 0) {
      len += (size_t)r;
      buf[len] = '\0';
      char *h = strstr(buf, "\r\n\r\n");
      char *cl = strcasestr(buf, "Content-Length:");
      if (h && cl) clen = atol(cl + 15);
      if (h && (size_t)(h + 4 - buf) + (size_t)clen <= len) {
        body = h + 4;
        break;
      }
    }
    FILE *f = fopen(log, "a");
    fprintf(f, "%.*s\n", (int)clen, body ? body : "");
    fclose(f);
    dprintf(c, "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close"
            "\r\n\r\nok", codes[i]);
    close(c);
  }
  _exit(0);
}

static char *slurp(const char *path) {
  struct cf_buf b = CF_BUF_INIT(0);
  cf_buf_read_file(&b, path);
  return cf_buf_detach(&b, NULL);
}

CF_TEST(notify_webhook_retries_500_then_200) {
  const char *home = fx_home();
  char *log = cf_asprintf("%s/sink.log", home), *err = NULL, *url;
  int port, tries = 0, codes[] = {500, 200};
  int fd = listen_any(&port);
  pid_t pid = sink(fd, codes, 2, log);
  struct cfb_notify_retry r = {4, 10, 5000};
  url = cf_asprintf("http://127.0.0.1:%d/services/T0/B0/SECRET", port);
  CF_ASSERT_EQ(0, cfb_notify_webhook(url, "{\"text\":\"hi\"}", &r, &tries,
                                     &err));
  CF_ASSERT_EQ(2, tries);
  int st;
  waitpid(pid, &st, 0);
  char *got = slurp(log);
  CF_ASSERT_STR("{\"text\":\"hi\"}\n{\"text\":\"hi\"}\n", got);
  cf_free(got);
  cf_free(url);
  cf_free(log);
  fx_rm(home);
}

CF_TEST(notify_webhook_404_not_retried_no_url_in_error) {
  const char *home = fx_home();
  char *log = cf_asprintf("%s/sink.log", home), *err = NULL, *url;
  int port, tries = 0, codes[] = {404};
  int fd = listen_any(&port);
  pid_t pid = sink(fd, codes, 1, log);
  struct cfb_notify_retry r = {4, 10, 5000};
  url = cf_asprintf("http://127.0.0.1:%d/services/SECRET", port);
  CF_ASSERT(cfb_notify_webhook(url, "{}", &r, &tries, &err) < 0);
  CF_ASSERT_EQ(1, tries);
  CF_ASSERT_CONTAINS(err, "HTTP 404");
  CF_ASSERT(!strstr(err, "SECRET"));
  int st;
  waitpid(pid, &st, 0);
  cf_free(err);
  cf_free(url);
  cf_free(log);
  fx_rm(home);
}

CF_TEST(notify_webhook_connection_refused_retried) {
  int port, tries = 0;
  char *err = NULL;
  int fd = listen_any(&port);
  close(fd);                     /* nothing listens there now */
  char *url = cf_asprintf("http://127.0.0.1:%d/SECRET", port);
  struct cfb_notify_retry r = {3, 5, 2000};
  CF_ASSERT(cfb_notify_webhook(url, "{}", &r, &tries, &err) < 0);
  CF_ASSERT_EQ(3, tries);
  CF_ASSERT(!strstr(err, "SECRET"));
  cf_free(err);
  cf_free(url);
}

CF_TEST(notify_outbox_appends_lines) {
  const char *home = fx_home();
  char *path = cf_asprintf("%s/outbox/notifications.jsonl", home);
  char *err = NULL;
  CF_ASSERT_EQ(0, cfb_notify_outbox(path, "{\"a\":1}", &err));
  CF_ASSERT_EQ(0, cfb_notify_outbox(path, "{\"a\":2}", &err));
  char *got = slurp(path);
  CF_ASSERT_STR("{\"a\":1}\n{\"a\":2}\n", got);
  cf_free(got);
  cf_free(path);
  fx_rm(home);
}

CF_TEST(notify_summary_text) {
  const char *home = fx_home();
  char *wh = cf_asprintf("%s/warehouse.db", home), *err = NULL;
  char *silver = fx_silver(home);
  sqlite3 *db = NULL;
  struct cfb_gold_part p;
  const char *dates[] = {"2025-01-02"};
  static const char run_dates[1][11] = {"2025-01-02"};
  struct fx_day d;
  FILE *f = fx_begin(&d);
  fx_row(f, "2025-01-02", "1", "AWS", "EC2", "r", "", "Usage", "1.10", "1");
  fx_row(f, "2025-01-02", "1", "AWS", "S3", "r", "", "Usage", "2.2", "1");
  fx_row(f, "2025-01-02", "p", "GCP", "GCE", "r", "", "Usage", "0.5", "1");
  fx_end(&d, home, "2025-01-02", 1);
  CF_ASSERT_EQ(0, cfb_gold_open(wh, &db, &err));
  CF_ASSERT_EQ(0, cfb_gold_load(db, silver, dates, 1, NULL, &p, &err));
  sqlite3_close(db);
  struct cfb_summary_in in = {"billing", "r1", "2025-01-03", wh,
                              "/nonexistent.db", "/x/report.html",
                              run_dates, 1, 0};
  struct cfb_summary s;
  CF_ASSERT_EQ(0, cfb_summary_build(&in, &s));
  CF_ASSERT_CONTAINS(s.text, "billing 2025-01-03: success");
  CF_ASSERT_CONTAINS(s.text, "AWS    USD 3.3\n");
  CF_ASSERT_CONTAINS(s.text, "GCP    USD 0.5\n");
  CF_ASSERT_CONTAINS(s.text, "Anomalies: 0, zombie resources: 0");
  CF_ASSERT_CONTAINS(s.text, "Report: /x/report.html");
  CF_ASSERT_CONTAINS(s.text, "Failed tasks: unknown");
  CF_ASSERT_EQ(-1, s.nfailed);
  cfb_summary_release(&s);
  in.failure = 1;
  in.warehouse = "/nonexistent/warehouse.db";
  CF_ASSERT_EQ(0, cfb_summary_build(&in, &s));
  CF_ASSERT_CONTAINS(s.subject, "FAILED");
  CF_ASSERT_CONTAINS(s.text, "Spend: unknown");
  cfb_summary_release(&s);
  cf_free(silver);
  cf_free(wh);
  fx_rm(home);
}

/* Child: a minimal SMTP server. The first connection is refused with a
 * temporary 421; the second takes one message and appends the DATA part
 * (and the envelope) to `log`. */
static pid_t smtp_sink(int fd, const char *log) {
  pid_t pid = fork();
  if (pid) return pid;
  int c = accept(fd, NULL, NULL);
  dprintf(c, "421 try later\r\n");
  close(c);
  c = accept(fd, NULL, NULL);
  FILE *in = fdopen(c, "r"), *out = fopen(log, "w");
  char line[1024];
  int data = 0;
  dprintf(c, "220 sink ESMTP\r\n");
  while (fgets(line, sizeof line, in)) {
    if (data) {
      if (!strcmp(line, ".\r\n")) {
        data = 0;
        dprintf(c, "250 queued\r\n");
      } else {
        fputs(line, out);
      }
      continue;
    }
    if (!strncmp(line, "EHLO", 4) || !strncmp(line, "HELO", 4)) {
      dprintf(c, "250 sink\r\n");
    } else if (!strncmp(line, "MAIL FROM", 9) ||
               !strncmp(line, "RCPT TO", 7)) {
      fprintf(out, "%s", line);
      dprintf(c, "250 ok\r\n");
    } else if (!strncmp(line, "DATA", 4)) {
      data = 1;
      dprintf(c, "354 go\r\n");
    } else if (!strncmp(line, "QUIT", 4)) {
      dprintf(c, "221 bye\r\n");
      break;
    } else {
      dprintf(c, "502 no\r\n");
    }
  }
  fclose(out);
  _exit(0);
}

CF_TEST(notify_smtp_retries_then_sends) {
  const char *home = fx_home();
  char *log = cf_asprintf("%s/smtp.log", home), *err = NULL, *url;
  int port, tries = 0;
  int fd = listen_any(&port);
  pid_t pid = smtp_sink(fd, log);
  const char *to[] = {"a@example.com", "b@example.com"};
  url = cf_asprintf("smtp://127.0.0.1:%d", port);
  struct cfb_smtp sm = {url, "costflow@example.com", to, 2, NULL, NULL, 0};
  struct cfb_notify_retry r = {3, 10, 5000};
  CF_ASSERT_EQ(0, cfb_notify_smtp(&sm, "[costflow] run ok",
                                  "line 1\n.\nlast line\n", &r, &tries,
                                  &err));
  CF_ASSERT_EQ(2, tries);
  int st;
  waitpid(pid, &st, 0);
  char *got = slurp(log);
  CF_ASSERT_CONTAINS(got, "MAIL FROM:<costflow@example.com>");
  CF_ASSERT_CONTAINS(got, "RCPT TO:<a@example.com>");
  CF_ASSERT_CONTAINS(got, "RCPT TO:<b@example.com>");
  CF_ASSERT_CONTAINS(got, "Subject: [costflow] run ok\r\n");
  /* the body may carry UTF-8 (failure reasons): say it is 8-bit */
  CF_ASSERT_CONTAINS(got, "Content-Transfer-Encoding: 8bit\r\n");
  CF_ASSERT_CONTAINS(got, "\r\n\r\nline 1\r\n..\r\nlast line\r\n");
  cf_free(got);
  cf_free(url);
  cf_free(log);
  fx_rm(home);
}

/* Child: an SMTP server that refuses every recipient for good (550),
 * on as many connections as it gets; each connection appends "conn\n"
 * to `log`. The parent kills it. */
static pid_t smtp_reject_sink(int fd, const char *log) {
  pid_t pid = fork();
  if (pid) return pid;
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) _exit(1);
    FILE *in = fdopen(c, "r"), *out = fopen(log, "a");
    char line[1024];
    fputs("conn\n", out);
    fclose(out);
    dprintf(c, "220 sink ESMTP\r\n");
    while (fgets(line, sizeof line, in)) {
      if (!strncmp(line, "EHLO", 4) || !strncmp(line, "HELO", 4) ||
          !strncmp(line, "MAIL FROM", 9) || !strncmp(line, "RSET", 4))
        dprintf(c, "250 ok\r\n");
      else if (!strncmp(line, "RCPT TO", 7))
        dprintf(c, "550 5.1.1 no such user\r\n");
      else if (!strncmp(line, "QUIT", 4)) {
        dprintf(c, "221 bye\r\n");
        break;
      } else
        dprintf(c, "502 no\r\n");
    }
    fclose(in);
  }
}

/* A permanent (5xx) refusal of a recipient is not retried. */
CF_TEST(notify_smtp_rejected_recipient_not_retried) {
  const char *home = fx_home();
  char *log = cf_asprintf("%s/smtp.log", home), *err = NULL, *url;
  int port, tries = 0, st;
  int fd = listen_any(&port);
  pid_t pid = smtp_reject_sink(fd, log);
  const char *to[] = {"nobody@example.com"};
  url = cf_asprintf("smtp://127.0.0.1:%d", port);
  struct cfb_smtp sm = {url, "costflow@example.com", to, 1, NULL, NULL, 0};
  struct cfb_notify_retry r = {3, 10, 2000};
  CF_ASSERT(cfb_notify_smtp(&sm, "s", "body\n", &r, &tries, &err) < 0);
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  CF_ASSERT_EQ(1, tries);
  CF_ASSERT_CONTAINS(err, "reply 550");
  char *got = slurp(log);
  CF_ASSERT_STR("conn\n", got);
  cf_free(got);
  cf_free(err);
  cf_free(url);
  cf_free(log);
  fx_rm(home);
}

/* 1 if s is well-formed UTF-8 (what JSON encoders insist on). */
static int utf8_ok(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
            : (*p & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) return 0;
    p++;
    while (n--)
      if ((*p++ & 0xC0) != 0x80) return 0;
  }
  return 1;
}

/* A failure reason is cut to 200 bytes; a cut inside a multi-byte
 * character (or a reason that is not UTF-8 at all) must not leave bytes
 * that make the webhook JSON and the outbox line impossible to encode. */
CF_TEST(notify_summary_failure_reason_stays_utf8) {
  const char *home = fx_home();
  char *store = cf_asprintf("%s/costflow.db", home), reason[256];
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  memset(reason, 'x', 199);
  strcpy(reason + 199, "\xc3\xa9t\xc3\xa9");   /* byte 200 splits 'é' */
  CF_ASSERT_EQ(0, sqlite3_open(store, &db));
  CF_ASSERT_EQ(0, sqlite3_exec(db, "CREATE TABLE runs(id INTEGER PRIMARY"
                               " KEY, dag_id, logical_date);"
                               "CREATE TABLE task_instances(run_pk, task_id,"
                               " state, reason);"
                               "INSERT INTO runs VALUES(1,'billing',"
                               "'2025-01-03');", NULL, NULL, NULL));
  CF_ASSERT_EQ(0, sqlite3_prepare_v2(db, "INSERT INTO task_instances"
                                     " VALUES(1,?1,'failed',?2)", -1, &st,
                                     NULL));
  sqlite3_bind_text(st, 1, "extract_aws", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
  CF_ASSERT_EQ(SQLITE_DONE, sqlite3_step(st));
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, "extract_gcp", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, "bad \xff\xfe file \xe9.csv", -1, SQLITE_STATIC);
  CF_ASSERT_EQ(SQLITE_DONE, sqlite3_step(st));
  sqlite3_finalize(st);
  sqlite3_close(db);
  struct cfb_summary_in in = {"billing", "r1", "2025-01-03", NULL, store,
                              NULL, NULL, 0, 1};
  struct cfb_summary s;
  CF_ASSERT_EQ(0, cfb_summary_build(&in, &s));
  CF_ASSERT_EQ(2, s.nfailed);
  CF_ASSERT_CONTAINS(s.text, "extract_aws: failed - xxx");
  CF_ASSERT_CONTAINS(s.text, "extract_gcp: failed - bad ");
  CF_ASSERT(utf8_ok(s.text));
  cfb_summary_release(&s);
  cf_free(store);
  fx_rm(home);
}

CF_TEST_MAIN()
