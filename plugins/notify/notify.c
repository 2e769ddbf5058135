/* notify: sends the run summary to a Slack-style webhook and/or email
 * (SMTP), or by default appends it to $HOME/outbox/notifications.jsonl.
 * Delivery failures are retried, then logged: they never fail the data
 * unless `strict: true`. The webhook URL and passwords are never logged. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "costflow/common.h"
#include "costflow/plugin.h"
#include "gold_plugin.h"
#include "notify_message.h"
#include "notify_send.h"

static const struct cf_param_spec params[] = {
  {"mode", CF_PARAM_STRING, 0, "summary",
   "summary (after a good run) or failure (for a one_failed task)"},
  {"webhook_url", CF_PARAM_STRING, 0, NULL,
   "Slack-style incoming webhook URL (secret: prefer webhook_url_env)"},
  {"webhook_url_env", CF_PARAM_STRING, 0, NULL,
   "name of an environment variable holding the webhook URL"},
  {"smtp_url", CF_PARAM_STRING, 0, NULL,
   "smtp://host:587 (STARTTLS) or smtps://host:465"},
  {"mail_from", CF_PARAM_STRING, 0, NULL, "sender address"},
  {"mail_to", CF_PARAM_LIST, 0, NULL, "recipient addresses"},
  {"smtp_user_env", CF_PARAM_STRING, 0, NULL,
   "environment variable holding the SMTP user name"},
  {"smtp_password_env", CF_PARAM_STRING, 0, NULL,
   "environment variable holding the SMTP password"},
  {"smtp_require_tls", CF_PARAM_BOOL, 0, "true",
   "refuse to send mail without TLS"},
  {"outbox", CF_PARAM_STRING, 0, "outbox/notifications.jsonl",
   "JSON-lines outbox (relative to COSTFLOW_HOME): used when no webhook or "
   "SMTP is set, and for messages whose delivery failed"},
  {"retries", CF_PARAM_INT, 0, "3", "extra attempts after a failed send"},
  {"retry_delay", CF_PARAM_DURATION, 0, "1s",
   "first backoff; doubles after each attempt"},
  {"timeout", CF_PARAM_DURATION, 0, "10s", "per attempt"},
  {"strict", CF_PARAM_BOOL, 0, "false",
   "fail the task when delivery fails (default: warn and succeed)"},
  {"from_task", CF_PARAM_STRING, 0, "load_to_analytics",
   "task whose `partitions` output lists the usage dates of the run"},
  {"report_task", CF_PARAM_STRING, 0, "publish_report",
   "task whose `report` output is the report path"},
  {"warehouse", CF_PARAM_STRING, 0, "warehouse.db",
   "SQLite warehouse, relative to COSTFLOW_HOME unless absolute"},
};

static int param_true(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                      const char *name) {
  const char *v = api->param(ctx, name);
  return v && !strcmp(v, "true");
}

static const char *env_param(struct cf_plugin_ctx *ctx,
                             const struct cf_host_api *api, const char *name) {
  const char *v = api->param(ctx, name);
  return v && *v ? getenv(v) : NULL;
}

/* The outbox record: one JSON object per line. */
static char *outbox_line(struct cf_plugin_ctx *ctx,
                         const struct cf_host_api *api,
                         const struct cfb_summary *s, const char *channel,
                         const char *error) {
  char at[32];
  cf_format_iso_ms(cf_now_ms(), at);
  json_t *o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:s}",
                        "at", at, "dag", api->dag_id(ctx),
                        "run_id", api->run_id(ctx),
                        "logical_date", api->logical_date(ctx),
                        "channel", channel, "subject", s->subject,
                        "text", s->text, "status", error ? "undelivered"
                                                         : "queued");
  if (o && error) json_object_set_new(o, "error", json_string(error));
  char *line = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(o);
  return line;
}

static int to_outbox(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                     const struct cfb_summary *s, const char *channel,
                     const char *error) {
  char *path = cfb_home_path(ctx, api, "outbox", "outbox/notifications.jsonl");
  char *line = outbox_line(ctx, api, s, channel, error), *err = NULL;
  int ret = path && line ? cfb_notify_outbox(path, line, &err) : -ENOMEM;
  if (ret < 0)
    api->log(ctx, CF_LOG_ERROR, "%s", err ? err : "out of memory");
  else
    api->log(ctx, CF_LOG_INFO, "notification appended to %s", path);
  free(line);   /* json_dumps allocates with malloc */
  cf_free(err);
  cf_free(path);
  return ret;
}

static int send_webhook(struct cf_plugin_ctx *ctx,
                        const struct cf_host_api *api,
                        const struct cfb_summary *s, const char *url,
                        const struct cfb_notify_retry *r) {
  json_t *o = json_pack("{s:s}", "text", s->text);
  char *body = o ? json_dumps(o, JSON_COMPACT) : NULL, *err = NULL;
  int tries = 0, ret = body ? cfb_notify_webhook(url, body, r, &tries, &err)
                            : -ENOMEM;
  if (ret < 0) {
    api->log(ctx, CF_LOG_WARN, "webhook delivery failed after %d attempt(s):"
             " %s", tries, err ? err : "out of memory");
    to_outbox(ctx, api, s, "webhook", err ? err : "out of memory");
  } else {
    api->log(ctx, CF_LOG_INFO, "webhook delivered (attempt %d)", tries);
  }
  cf_free(err);
  free(body);
  json_decref(o);
  return ret;
}

static int send_mail(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                     const struct cfb_summary *s,
                     const struct cfb_notify_retry *r) {
  size_t nto = api->param_count(ctx, "mail_to");
  const char **to = cf_calloc(nto ? nto : 1, sizeof *to);
  const char *from = api->param(ctx, "mail_from");
  char *err = NULL;
  int tries = 0, ret = -ENOMEM;
  if (!to) goto done;
  for (size_t i = 0; i < nto; i++) to[i] = api->param_item(ctx, "mail_to", i);
  if (!from || !*from || !nto) {
    err = cf_strdup("smtp_url needs mail_from and mail_to");
    ret = CF_EINVALID;
    goto done;
  }
  struct cfb_smtp sm = {api->param(ctx, "smtp_url"), from, to, nto,
                        env_param(ctx, api, "smtp_user_env"),
                        env_param(ctx, api, "smtp_password_env"),
                        param_true(ctx, api, "smtp_require_tls")};
  ret = cfb_notify_smtp(&sm, s->subject, s->text, r, &tries, &err);
done:
  if (ret < 0) {
    api->log(ctx, CF_LOG_WARN, "email delivery failed after %d attempt(s): "
             "%s", tries, err ? err : "out of memory");
    to_outbox(ctx, api, s, "smtp", err ? err : "out of memory");
  } else {
    api->log(ctx, CF_LOG_INFO, "email sent to %zu recipient(s)", nto);
  }
  cf_free(err);
  cf_free(to);
  return ret;
}

static int64_t duration_param(struct cf_plugin_ctx *ctx,
                              const struct cf_host_api *api, const char *name,
                              int64_t deflt) {
  int64_t ms;
  const char *v = api->param(ctx, name);
  return v && cf_duration_parse(v, &ms) == 0 ? ms : deflt;
}

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  struct cfb_dates dates = {0};
  struct cfb_summary s = {0};
  char *wh = NULL, *store = NULL;
  int failed = 0, result = CF_RESULT_FAIL;
  const char *mode = api->param(ctx, "mode");
  const char *rt = api->param(ctx, "report_task");
  const char *retries = api->param(ctx, "retries");
  struct cfb_notify_retry r = {
      (retries ? atoi(retries) : 3) + 1,
      duration_param(ctx, api, "retry_delay", 1000),
      duration_param(ctx, api, "timeout", 10000)};
  if (r.attempts < 1) r.attempts = 1;
  if (mode && strcmp(mode, "summary") && strcmp(mode, "failure")) {
    api->log(ctx, CF_LOG_ERROR, "mode must be summary or failure");
    return CF_RESULT_FAIL;
  }
  /* Dates are optional here: a failure notice may come before gold. */
  if (cfb_task_dates(ctx, api, "load_to_analytics", "partitions",
                     &dates) < 0)
    cfb_dates_release(&dates);
  wh = cfb_home_path(ctx, api, "warehouse", "warehouse.db");
  store = cfb_home_path(ctx, api, NULL, "costflow.db");
  struct cfb_summary_in in = {
      api->dag_id(ctx), api->run_id(ctx), api->logical_date(ctx), wh, store,
      api->output_get(ctx, rt && *rt ? rt : "publish_report", "report"),
      (const char (*)[11])dates.v, dates.n,
      mode && !strcmp(mode, "failure")};
  if (!wh || !store || cfb_summary_build(&in, &s) < 0) goto done;

  const char *url = api->param(ctx, "webhook_url");
  if (!url || !*url) url = env_param(ctx, api, "webhook_url_env");
  const char *smtp = api->param(ctx, "smtp_url");
  if (url && *url) failed |= send_webhook(ctx, api, &s, url, &r) < 0;
  if (smtp && *smtp) failed |= send_mail(ctx, api, &s, &r) < 0;
  if (!(url && *url) && !(smtp && *smtp))
    failed |= to_outbox(ctx, api, &s, "outbox", NULL) < 0;
  if (failed && param_true(ctx, api, "strict")) goto done;
  if (failed)
    api->log(ctx, CF_LOG_WARN, "notification not delivered; the run's data "
             "is unaffected (set strict: true to fail instead)");
  api->output_set(ctx, "delivered", failed ? "false" : "true");
  result = CF_RESULT_OK;
done:
  cfb_summary_release(&s);
  cf_free(store);
  cf_free(wh);
  cfb_dates_release(&dates);
  return result;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "notify",
  "Send the run summary (spend, anomalies, failures, report) to a webhook, "
  "email, or the outbox file",
  params, sizeof params / sizeof *params, run,
};
CF_PLUGIN_EXPORT(desc)
