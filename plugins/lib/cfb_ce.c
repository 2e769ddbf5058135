/* Optional AWS Cost Explorer GetCostAndUsage pull (live mode): SigV4 via
 * libcurl, paged, throttled. The raw pages land in the work area as
 * ce-page-N.json and a daily per-service summary as ce.csv. CE is an
 * aggregate of the same spend the CUR carries, so it is never mixed into
 * silver (that would double count); it is a cross-check only. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include "cfb_plugin.h"

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  struct cf_buf *b = ud;
  return cf_buf_add(b, p, sz * n) == 0 ? sz * n : 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* One signed POST; 0 with *status, or negative. */
static int ce_post(const char *key, const char *secret, const char *token,
                   const char *body, struct cf_buf *resp, long *status) {
  CURL *c = curl_easy_init();
  struct curl_slist *hd = NULL;
  char userpwd[512], tok[2048];
  int ret = CF_EPLUGIN;
  if (!c) return ret;
  snprintf(userpwd, sizeof userpwd, "%s:%s", key, secret);
  hd = curl_slist_append(hd, "Content-Type: application/x-amz-json-1.1");
  hd = curl_slist_append(
      hd, "X-Amz-Target: AWSInsightsIndexService.GetCostAndUsage");
  if (token && *token) {
    snprintf(tok, sizeof tok, "X-Amz-Security-Token: %s", token);
    hd = curl_slist_append(hd, tok);
  }
  curl_easy_setopt(c, CURLOPT_URL, "https://ce.us-east-1.amazonaws.com/");
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:ce");
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    ret = 0;
  }
  curl_slist_free_all(hd);
  curl_easy_cleanup(c);
  return ret;
}

long long cfbp_ce_pull(const struct cfbp *h, const char *work) {
  const char *key = getenv("AWS_ACCESS_KEY_ID");
  const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
  if (!key || !*key || !secret || !*secret) {
    h->api->log(h->ctx, CF_LOG_INFO,
                "ce_live: no AWS credentials in the environment; files only");
    return 0;
  }
  const char *ds = h->api->logical_date(h->ctx);
  cf_date d;
  char end[11];
  if (cf_date_parse(ds, &d) < 0) return CF_EINVALID;
  cf_date_format(d + 1, end);
  long interval = (long)cfbp_int(h, "ce_min_interval_ms", 1000);
  struct cf_buf csv = CF_BUF_INIT(0);
  char *next = NULL;
  long long rows = 0;
  int ret = 0;
  cf_buf_adds(&csv, "date,service,account,unblended_cost,unit,estimated\n");
  for (int page = 1; page <= 100; page++) {
    struct cf_buf body = CF_BUF_INIT(0), resp = CF_BUF_INIT(64 << 20);
    cf_buf_addf(&body,
                "{\"TimePeriod\":{\"Start\":\"%s\",\"End\":\"%s\"},"
                "\"Granularity\":\"DAILY\",\"Metrics\":[\"UnblendedCost\"],"
                "\"GroupBy\":[{\"Type\":\"DIMENSION\",\"Key\":\"SERVICE\"},"
                "{\"Type\":\"DIMENSION\",\"Key\":\"LINKED_ACCOUNT\"}]",
                ds, end);
    if (next) {
      cf_buf_adds(&body, ",\"NextPageToken\":");
      cfb_json_str(&body, next);
    }
    cf_buf_addch(&body, '}');
    long status = 0;
    /* Throttling: back off and try again, a few times. */
    for (int attempt = 0; attempt < 5; attempt++) {
      cf_buf_reset(&resp);
      ret = ce_post(key, secret, getenv("AWS_SESSION_TOKEN"), body.buf,
                    &resp, &status);
      if (ret == 0 && status != 429 &&
          !(status == 400 && strstr(resp.buf, "Throttling")))
        break;
      sleep_ms(interval * (2L << attempt));
    }
    cf_buf_release(&body);
    if (ret == 0 && status != 200) {
      h->api->log(h->ctx, CF_LOG_ERROR, "ce: HTTP %ld: %.300s", status,
                  resp.buf);
      ret = CF_EPLUGIN;
    }
    if (ret < 0) {
      cf_buf_release(&resp);
      break;
    }
    char *pp = cf_asprintf("%s/ce-page-%d.json", work, page);
    if (pp) cf_write_file_atomic(pp, resp.buf, resp.len);
    cf_free(pp);
    /* Amounts are JSON strings in CE responses: no double involved. */
    json_t *o = json_loads(resp.buf, 0, NULL);
    cf_buf_release(&resp);
    size_t i, j;
    json_t *r, *g;
    json_array_foreach(json_object_get(o, "ResultsByTime"), i, r) {
      int est = json_is_true(json_object_get(r, "Estimated"));
      json_array_foreach(json_object_get(r, "Groups"), j, g) {
        json_t *keys = json_object_get(g, "Keys");
        json_t *m = json_object_get(json_object_get(g, "Metrics"),
                                    "UnblendedCost");
        const char *amt = json_string_value(json_object_get(m, "Amount"));
        cf_dec dv;
        if (!amt || cfb_dec_parse_round(amt, &dv) < 0) continue;
        char canon[CF_DEC_MAXSTR];
        cf_dec_format(dv, canon);
        cf_buf_addf(&csv, "%s,", ds);
        cfb_csv_field(&csv, json_string_value(json_array_get(keys, 0)));
        cf_buf_addch(&csv, ',');
        cfb_csv_field(&csv, json_string_value(json_array_get(keys, 1)));
        cf_buf_addf(&csv, ",%s,", canon);
        cfb_csv_field(&csv, json_string_value(json_object_get(m, "Unit")));
        cf_buf_addf(&csv, ",%s\n", est ? "true" : "false");
        rows++;
      }
    }
    const char *tokv = json_string_value(json_object_get(o, "NextPageToken"));
    cf_free(next);
    next = tokv && *tokv ? cf_strdup(tokv) : NULL;
    json_decref(o);
    if (!next) break;
    sleep_ms(interval);            /* stay under the CE request rate */
  }
  if (ret == 0) {
    char *cp = cf_asprintf("%s/ce.csv", work);
    ret = cp ? cf_write_file_atomic(cp, csv.buf, csv.len) : -12;
    cf_free(cp);
    h->api->log(h->ctx, CF_LOG_INFO, "ce: %lld service/account rows", rows);
  }
  cf_free(next);
  cf_buf_release(&csv);
  return ret < 0 ? ret : rows;
}
