/* Deadline misses reach the DAG's notify target: the webhook of its task
 * that uses the `notify` plugin (`webhook_url`, or the environment variable
 * named by `webhook_url_env`). The POST runs on the libuv thread pool so
 * the loop never waits on the network; the URL is never logged. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon.h"

struct hook_job {
  uv_work_t req;
  struct cf_daemon *d;
  char *dag_id, *url, *body;
  long status;                 /* last HTTP status, 0 = none */
  int ok;
};

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* Up to 3 tries, retrying only 429, 5xx and connection errors. */
static void post_work(uv_work_t *req) {
  struct hook_job *j = req->data;
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL,
                                           "Content-Type: application/json");
  for (int i = 0; c && h && i < 3 && !j->ok; i++) {
    if (i) sleep((unsigned)i);
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    j->status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j->status);
      j->ok = j->status >= 200 && j->status < 300;
      if (!j->ok && j->status != 429 && j->status < 500) break;
    }
  }
  curl_slist_free_all(h);
  if (c) curl_easy_cleanup(c);
}

static void post_done(uv_work_t *req, int status) {
  struct hook_job *j = req->data;
  (void)status;
  if (j->ok)
    cf__dlog(j->d, "info", j->dag_id, 0, NULL, 0,
             "deadline miss sent to the DAG's webhook");
  else
    cf__dlog(j->d, "warn", j->dag_id, 0, NULL, 0, "deadline miss: webhook "
             "delivery failed (HTTP %ld); the outbox has it", j->status);
  cf_free(j->dag_id);
  cf_free(j->url);
  cf_free(j->body);
  cf_free(j);
}

/* The webhook URL of the DAG's notify task, or NULL. */
static char *webhook_of(const struct cf_dag *dag) {
  for (size_t i = 0; i < dag->ntasks; i++) {
    const struct cf_task *t = &dag->tasks[i];
    if (strcmp(t->plugin, "notify")) continue;
    const char *url = json_string_value(json_object_get(t->params,
                                                        "webhook_url"));
    const char *env = json_string_value(json_object_get(t->params,
                                                        "webhook_url_env"));
    if (env && getenv(env)) url = getenv(env);
    if (url && *url && !strstr(url, "{{")) return cf_strdup(url);
  }
  return NULL;
}

void cf__deadline_webhook(struct cf_daemon *d, const struct cf_dag *dag,
                          const char *text) {
  char *url = webhook_of(dag);
  if (!url) return;
  struct hook_job *j = cf_calloc(1, sizeof *j);
  json_t *o = json_pack("{s:s}", "text", text);
  char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!j || !body) goto fail;
  j->d = d;
  j->url = url;
  j->dag_id = cf_strdup(dag->id);
  j->body = cf_strdup(body);
  free(body);
  j->req.data = j;
  if (uv_queue_work(&d->loop, &j->req, post_work, post_done) == 0) return;
  cf_free(j->dag_id);
  cf_free(j->body);
  url = j->url;
  body = NULL;
fail:
  free(body);
  cf_free(url);
  cf_free(j);
}
