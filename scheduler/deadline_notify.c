/* Deadline misses reach the DAG's notify targets, through the same
 * delivery code as the `notify` plugin (plugins/lib/notify_send.c): the
 * webhook of the first notify task that has one (`webhook_url`, or the
 * environment variable named by `webhook_url_env`), and the mail settings
 * of the first notify task that has them (`smtp_url`, `mail_from`,
 * `mail_to`, credentials from the variables named by `smtp_user_env` /
 * `smtp_password_env`). Each channel is one job on the libuv thread pool,
 * so the loop never waits on the network; URLs and passwords are never
 * logged. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"
#include "notify_send.h"

/* Fewer and shorter tries than a notify task's: a pool thread, shared
 * with folder scans and file hashing, is held while they run (at most
 * ~18 s a channel). */
static const struct cfb_notify_retry deadline_retry = {3, 1000, 5000};

struct notify_job {
  uv_work_t req;
  struct cf_daemon *d;
  char *dag_id, *text, *subject;
  char *url;                     /* a webhook job: its URL */
  struct cfb_smtp smtp;          /* a mail job: .url set */
  char **to;
  char *err;                     /* delivery error, for the log */
  int ret;
};

static void job_free(struct notify_job *j) {
  cf_free(j->dag_id);
  cf_free(j->text);
  cf_free(j->subject);
  cf_free(j->url);
  cf_free((char *)j->smtp.url);
  cf_free((char *)j->smtp.from);
  cf_free((char *)j->smtp.user);
  cf_free((char *)j->smtp.password);
  for (size_t i = 0; j->to && i < j->smtp.nto; i++) cf_free(j->to[i]);
  cf_free(j->to);
  cf_free(j->err);
  cf_free(j);
}

static void send_work(uv_work_t *req) {
  struct notify_job *j = req->data;
  if (j->url) {
    json_t *o = json_pack("{s:s}", "text", j->text);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    j->ret = body ? cfb_notify_webhook(j->url, body, &deadline_retry, NULL,
                                       &j->err)
                  : -ENOMEM;
    free(body);
    json_decref(o);
  } else {
    j->ret = cfb_notify_smtp(&j->smtp, j->subject, j->text, &deadline_retry,
                             NULL, &j->err);
  }
}

static void send_done(uv_work_t *req, int status) {
  struct notify_job *j = req->data;
  (void)status;
  const char *what = j->url ? "sent to the DAG's webhook" : "mailed";
  if (j->ret == 0)
    cf__dlog(j->d, "info", j->dag_id, 0, NULL, 0, "deadline miss %s%s",
             what, j->url ? "" : " to the DAG's recipients");
  else
    cf__dlog(j->d, "warn", j->dag_id, 0, NULL, 0, "deadline miss: %s "
             "delivery failed (%s); the outbox has it",
             j->url ? "webhook" : "email",
             j->err ? j->err : cf_strerror(j->ret));
  job_free(j);
}

/* v, or NULL when unset, empty or still a template (the daemon renders
 * no templates: it is not a run). */
static const char *usable(const char *v) {
  return v && *v && !strstr(v, "{{") ? v : NULL;
}

/* A string parameter of task t, if usable. */
static const char *param_str(const struct cf_task *t, const char *name) {
  return usable(json_string_value(json_object_get(t->params, name)));
}

/* The value of the environment variable a `*_env` parameter names. */
static const char *param_env(const struct cf_task *t, const char *name) {
  const char *var = param_str(t, name);
  const char *v = var ? getenv(var) : NULL;
  return v && *v ? v : NULL;
}

/* The webhook URL of notify task t, or NULL: `webhook_url`, else the
 * variable `webhook_url_env` names, as the notify plugin picks it. */
static const char *webhook_of(const struct cf_task *t) {
  const char *url = param_str(t, "webhook_url");
  return url ? url : param_env(t, "webhook_url_env");
}

/* Whether notify task t can send mail: a server, a sender, and at least
 * one recipient that is not a template. */
static int mails(const struct cf_task *t) {
  json_t *to = json_object_get(t->params, "mail_to"), *a;
  size_t i;
  if (!param_str(t, "smtp_url") || !param_str(t, "mail_from")) return 0;
  json_array_foreach(to, i, a)
    if (usable(json_string_value(a))) return 1;
  return 0;
}

/* Fills a mail job's settings from notify task t (mails(t) holds). */
static int smtp_of(const struct cf_task *t, struct notify_job *j) {
  json_t *to = json_object_get(t->params, "mail_to"), *a;
  size_t i;
  if (!(j->to = cf_calloc(json_array_size(to), sizeof *j->to)))
    return -ENOMEM;
  json_array_foreach(to, i, a) {
    const char *s = usable(json_string_value(a));
    if (!s) continue;
    if (!(j->to[j->smtp.nto] = cf_strdup(s))) return -ENOMEM;
    j->smtp.nto++;
  }
  j->smtp.to = (const char *const *)j->to;
  /* smtp_require_tls defaults to true; only an explicit false relaxes. */
  j->smtp.require_tls =
      !json_is_false(json_object_get(t->params, "smtp_require_tls"));
  const char *user = param_env(t, "smtp_user_env"),
             *pass = param_env(t, "smtp_password_env");
  if (!(j->smtp.url = cf_strdup(param_str(t, "smtp_url"))) ||
      !(j->smtp.from = cf_strdup(param_str(t, "mail_from"))) ||
      (user && !(j->smtp.user = cf_strdup(user))) ||
      (pass && !(j->smtp.password = cf_strdup(pass))))
    return -ENOMEM;
  return 0;
}

/* Queues one channel's job: the webhook of t (hook) or its mail. */
static void queue(struct cf_daemon *d, const struct cf_dag *dag,
                  const struct cf_task *t, int hook, const char *text) {
  struct notify_job *j = cf_calloc(1, sizeof *j);
  if (!j) return;
  j->d = d;
  j->dag_id = cf_strdup(dag->id);
  j->text = cf_strdup(text);
  j->req.data = j;
  int bad = !j->dag_id || !j->text ||
            (hook ? !(j->url = cf_strdup(webhook_of(t)))
                  : !(j->subject = cf_asprintf("[costflow] %s: deadline "
                                               "missed", dag->id)) ||
                        smtp_of(t, j) < 0);
  if (bad || uv_queue_work(&d->loop, &j->req, send_work, send_done) != 0)
    job_free(j);
}

void cf__deadline_notify(struct cf_daemon *d, const struct cf_dag *dag,
                         const char *text) {
  const struct cf_task *hook = NULL, *mail = NULL;
  for (size_t i = 0; i < dag->ntasks; i++) {
    const struct cf_task *t = &dag->tasks[i];
    if (strcmp(t->plugin, "notify")) continue;
    if (!hook && webhook_of(t)) hook = t;
    if (!mail && mails(t)) mail = t;
  }
  if (hook) queue(d, dag, hook, 1, text);
  if (mail) queue(d, dag, mail, 0, text);
}
