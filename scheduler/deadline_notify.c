/* Deadline misses reach the DAG's notify target: the task that uses the
 * `notify` plugin, through the same delivery code as that plugin
 * (plugins/lib/notify_send.c) -- its webhook (`webhook_url`, or the
 * environment variable named by `webhook_url_env`) and its SMTP settings
 * (`smtp_url`, `mail_from`, `mail_to`, credentials from the variables
 * named by `smtp_user_env` / `smtp_password_env`). Delivery runs on the
 * libuv thread pool so the loop never waits on the network; URLs and
 * passwords are never logged. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"
#include "notify_send.h"

/* Fewer and shorter tries than a notify task's: a pool thread is held
 * while they run. */
static const struct cfb_notify_retry deadline_retry = {3, 1000, 10000};

struct notify_job {
  uv_work_t req;
  struct cf_daemon *d;
  char *dag_id, *text, *subject;
  char *url;                     /* webhook, or NULL */
  struct cfb_smtp smtp;          /* .url NULL: no mail */
  char **to;
  char *hook_err, *mail_err;     /* delivery errors, for the log */
  int hook_ret, mail_ret;
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
  cf_free(j->hook_err);
  cf_free(j->mail_err);
  cf_free(j);
}

static void send_work(uv_work_t *req) {
  struct notify_job *j = req->data;
  if (j->url) {
    json_t *o = json_pack("{s:s}", "text", j->text);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    j->hook_ret = body ? cfb_notify_webhook(j->url, body, &deadline_retry,
                                            NULL, &j->hook_err)
                       : -ENOMEM;
    free(body);
    json_decref(o);
  }
  if (j->smtp.url)
    j->mail_ret = cfb_notify_smtp(&j->smtp, j->subject, j->text,
                                  &deadline_retry, NULL, &j->mail_err);
}

static void send_done(uv_work_t *req, int status) {
  struct notify_job *j = req->data;
  (void)status;
  if (j->url && j->hook_ret == 0)
    cf__dlog(j->d, "info", j->dag_id, 0, NULL, 0,
             "deadline miss sent to the DAG's webhook");
  else if (j->url)
    cf__dlog(j->d, "warn", j->dag_id, 0, NULL, 0, "deadline miss: webhook "
             "delivery failed (%s); the outbox has it",
             j->hook_err ? j->hook_err : cf_strerror(j->hook_ret));
  if (j->smtp.url && j->mail_ret == 0)
    cf__dlog(j->d, "info", j->dag_id, 0, NULL, 0,
             "deadline miss mailed to %zu recipient(s)", j->smtp.nto);
  else if (j->smtp.url)
    cf__dlog(j->d, "warn", j->dag_id, 0, NULL, 0, "deadline miss: email "
             "delivery failed (%s); the outbox has it",
             j->mail_err ? j->mail_err : cf_strerror(j->mail_ret));
  job_free(j);
}

/* A string parameter of the notify task, or NULL when unset, empty or
 * still a template (the daemon renders no templates: it is not a run). */
static const char *param_str(const struct cf_task *t, const char *name) {
  const char *v = json_string_value(json_object_get(t->params, name));
  return v && *v && !strstr(v, "{{") ? v : NULL;
}

/* The value of the environment variable a `*_env` parameter names. */
static const char *param_env(const struct cf_task *t, const char *name) {
  const char *var = param_str(t, name);
  const char *v = var ? getenv(var) : NULL;
  return v && *v ? v : NULL;
}

static char *dup_or_null(const char *s) { return s ? cf_strdup(s) : NULL; }

/* The webhook URL of notify task t, or NULL. */
static char *webhook_of(const struct cf_task *t) {
  const char *url = param_env(t, "webhook_url_env");
  return dup_or_null(url ? url : param_str(t, "webhook_url"));
}

/* Fills j->smtp from notify task t's mail settings; 0 when t sends no
 * mail (or names no sender or recipient, which the task itself reports
 * at run time), 1 when set, -ENOMEM. */
static int smtp_of(const struct cf_task *t, struct notify_job *j) {
  const char *url = param_str(t, "smtp_url"), *from = param_str(t,
                                                                "mail_from");
  json_t *to = json_object_get(t->params, "mail_to");
  size_t nto = json_is_array(to) ? json_array_size(to) : 0;
  if (!url || !from || !nto) return 0;
  if (!(j->to = cf_calloc(nto, sizeof *j->to))) return -ENOMEM;
  for (size_t i = 0; i < nto; i++) {
    const char *a = json_string_value(json_array_get(to, i));
    if (!a || !*a) return 0;
    if (!(j->to[i] = cf_strdup(a))) return -ENOMEM;
    j->smtp.nto = i + 1;
  }
  j->smtp.to = (const char *const *)j->to;
  /* smtp_require_tls defaults to true; only an explicit false relaxes. */
  j->smtp.require_tls =
      !json_is_false(json_object_get(t->params, "smtp_require_tls"));
  const char *user = param_env(t, "smtp_user_env"),
             *pass = param_env(t, "smtp_password_env");
  if (!(j->smtp.url = cf_strdup(url)) || !(j->smtp.from = cf_strdup(from)) ||
      (user && !(j->smtp.user = cf_strdup(user))) ||
      (pass && !(j->smtp.password = cf_strdup(pass))))
    return -ENOMEM;
  return 1;
}

void cf__deadline_notify(struct cf_daemon *d, const struct cf_dag *dag,
                         const char *text) {
  const struct cf_task *t = NULL;
  for (size_t i = 0; i < dag->ntasks && !t; i++)
    if (!strcmp(dag->tasks[i].plugin, "notify")) t = &dag->tasks[i];
  if (!t) return;
  struct notify_job *j = cf_calloc(1, sizeof *j);
  if (!j) return;
  j->d = d;
  j->url = webhook_of(t);
  int mail = smtp_of(t, j);
  if (mail == 0) {                      /* a partial setting sends nothing */
    for (size_t i = 0; j->to && i < j->smtp.nto; i++) cf_free(j->to[i]);
    cf_free(j->to);
    j->to = NULL;
    j->smtp = (struct cfb_smtp){0};
  }
  j->dag_id = cf_strdup(dag->id);
  j->text = cf_strdup(text);
  j->subject = cf_asprintf("[costflow] %s: deadline missed", dag->id);
  j->req.data = j;
  if (mail < 0 || !j->dag_id || !j->text || !j->subject ||
      (!j->url && !j->smtp.url) ||
      uv_queue_work(&d->loop, &j->req, send_work, send_done) != 0)
    job_free(j);
}
