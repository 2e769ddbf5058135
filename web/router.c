/* The route table, path matching, auth/CSRF checks and the small request
 * helpers (query string, JSON body) every handler uses.
 *
 * How to add an endpoint: write the handler in the api_*.c of its
 * resource, declare it in web-int.h, add a row below, document it in
 * docs/web.md and cover it in tests/integration/test-web-api.sh. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "web-int.h"

#define GET HTTP_GET
#define POST HTTP_POST
#define M CF_ROUTE_MUTATE
#define O CF_ROUTE_OPEN

static const struct cf__route routes[] = {
  {GET, "/healthz", O, cf__api_healthz, 0, 0, 0},
  {GET, "/metrics", 0, cf__api_metrics, 0, 0, 0},
  {GET, "/api/dags", 0, cf__api_dags, 0, 0, 0},
  {POST, "/api/dags/:/pause", M, cf__api_dag_pause, 0, 0, 0},
  {POST, "/api/dags/:/unpause", M, cf__api_dag_unpause, 0, 0, 0},
  {GET, "/api/dags/:/runs", 0, cf__api_runs, 0, 0, 0},
  {POST, "/api/dags/:/runs", M, cf__api_trigger, 0, 0, 0},
  {GET, "/api/dags/:/grid", 0, cf__api_grid, 0, 0, 0},
  {POST, "/api/dags/:/backfill", M, cf__api_backfill, 0, 0, 0},
  {GET, "/api/dags/:/runs/:", 0, cf__api_run, 0, 0, 0},
  {POST, "/api/dags/:/runs/:/rerun", M, cf__api_rerun, 0, 0, 0},
  {GET, "/api/dags/:/runs/:/dq", 0, cf__api_run_dq, 0, 0, 0},
  {GET, "/api/dags/:/runs/:/tasks/:/log", 0, cf__api_log, 0, 0, 0},
  {POST, "/api/upload", M | CF_ROUTE_STREAM, cf__upload_end,
   cf__upload_begin, cf__upload_chunk, cf__upload_abort},
  {GET, "/api/costs/summary", 0, cf__api_costs_summary, 0, 0, 0},
  {GET, "/api/costs/daily", 0, cf__api_costs_daily, 0, 0, 0},
  {GET, "/api/costs/top-services", 0, cf__api_costs_top, 0, 0, 0},
  {GET, "/api/costs/anomalies", 0, cf__api_costs_anomalies, 0, 0, 0},
  {GET, "/api/costs/zombies", 0, cf__api_costs_zombies, 0, 0, 0},
  {GET, "/", O, cf__api_asset, 0, 0, 0},
  {GET, "/assets/:", O, cf__api_asset, 0, 0, 0},
};

/* Matches `path` against `pat`; captures ':' segments into r->param. */
static int match(const char *pat, const char *path, struct cf_web_req *r) {
  int np = 0;
  char *caps[CF_WEB_MAX_PARAMS];
  while (*pat && *path) {
    if (*pat == ':') {
      const char *end = strchr(path, '/');
      size_t n = end ? (size_t)(end - path) : strlen(path);
      if (n == 0 || np == CF_WEB_MAX_PARAMS) goto no;
      caps[np] = cf_strndup(path, n);
      if (!caps[np]) goto no;
      np++;
      pat++;
      path += n;
      continue;
    }
    if (*pat != *path) goto no;
    pat++;
    path++;
  }
  if (*pat || *path) goto no;
  for (int i = 0; i < np; i++) r->param[r->nparam++] = caps[i];
  return 1;
no:
  for (int i = 0; i < np; i++) cf_free(caps[i]);
  return 0;
}

const struct cf__route *cf__route_find(const char *path, int method,
                                       struct cf_web_req *r,
                                       int *path_matched) {
  *path_matched = 0;
  for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
    struct cf_web_req probe = {0};
    if (!match(routes[i].pattern, path, &probe)) continue;
    for (int k = 0; k < probe.nparam; k++) cf_free(probe.param[k]);
    *path_matched = 1;
    if (routes[i].method != method) continue;
    match(routes[i].pattern, path, r);
    return &routes[i];
  }
  return NULL;
}

void cf__route_allow(const char *path, char *out, size_t n) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
    struct cf_web_req probe = {0};
    if (!match(routes[i].pattern, path, &probe)) continue;
    for (int k = 0; k < probe.nparam; k++) cf_free(probe.param[k]);
    int m = snprintf(out + len, n - len, "%s%s", len ? ", " : "",
                     routes[i].method == HTTP_GET ? "GET, HEAD"
                     : http_method_str(routes[i].method));
    if (m < 0 || (size_t)m >= n - len) break;
    len += (size_t)m;
  }
}

/* Same-origin check for browsers: an Origin header, when sent, must
 * name this very host. Bearer tokens are never sent automatically by a
 * browser, so a cross-site form cannot carry one: the token header is
 * the CSRF defence; the Origin check is belt and braces. */
static int same_origin(const struct cf_web_req *r) {
  const char *origin = cf__req_header(r, "Origin");
  const char *host = cf__req_header(r, "Host");
  if (!origin) return 1;
  if (!host) return 0;
  const char *p = strstr(origin, "://");
  if (!p) return 0;
  return !strcmp(p + 3, host);
}

/* DNS rebinding: a page of evil.example whose name the attacker points
 * at 127.0.0.1 sends Host and Origin both naming evil.example, so the
 * origin check passes. A loopback server therefore answers what it
 * serves without a token only to a Host that names a loopback address. */
static int host_is_loopback(const char *name) {
  unsigned char a[16];
  if (inet_pton(AF_INET, name, a) == 1) return a[0] == 127;
  if (inet_pton(AF_INET6, name, a) == 1)
    return !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
  return !strcasecmp(name, "localhost");
}

/* The Host header's name, without port or IPv6 brackets, into out (cap
 * bytes); 0 if there is none or it does not fit. */
static int host_name(const struct cf_web_req *r, char *out, size_t cap) {
  const char *h = cf__req_header(r, "Host");
  size_t n;
  if (!h) return 0;
  if (h[0] == '[') {                              /* [::1]:8080 */
    const char *e = strchr(h, ']');
    if (!e || (e[1] && e[1] != ':')) return 0;
    h++;
    n = (size_t)(e - h);
  } else {
    n = strcspn(h, ":");
  }
  if (n == 0 || n >= cap) return 0;
  memcpy(out, h, n);
  out[n] = '\0';
  return 1;
}

int cf_web_hosts_valid(const char *s) {
  if (!s || !*s) return 0;
  for (const char *p = s; *p;) {
    size_t m = strcspn(p, ",");
    if (m == 0) return 0;
    for (size_t i = 0; i < m; i++)
      if (!isalnum((unsigned char)p[i]) && !strchr("-.[]:", p[i])) return 0;
    p += m + (p[m] == ',');
  }
  return 1;
}

/* name is one of the operator's --allowed-host names (brackets of an IPv6
 * literal in the list ignored). */
static int host_allowed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list ? list : ""; *p;) {
    size_t m = strcspn(p, ",");
    const char *q = p;
    size_t k = m;
    if (k >= 2 && q[0] == '[' && q[k - 1] == ']') {
      q++;
      k -= 2;
    }
    if (k == n && !strncasecmp(q, name, n)) return 1;
    p += m + (p[m] == ',');
  }
  return 0;
}

/* The request carries this server's token. */
static int bearer_ok(const struct cf_web_req *r) {
  const char *a = cf__req_header(r, "Authorization");
  return !r->web->o.no_auth && a && !strncasecmp(a, "Bearer ", 7) &&
         cf__token_equal(a + 7, r->web->token);
}

int cf__route_authorize(struct cf_web_req *r) {
  const struct cf__route *rt = r->route;
  struct cf_web *w = r->web;
  int mutate = (rt->flags & CF_ROUTE_MUTATE) != 0;
  if (rt->flags & CF_ROUTE_OPEN) return 0;
  if (mutate && !same_origin(r)) {
    cf__respond_error(r, 403, "cross-origin request refused");
    return -1;
  }
  if (w->o.no_auth || (!mutate && !w->o.auth_reads)) {
    char name[256];
    int known = host_name(r, name, sizeof name) &&
                (host_is_loopback(name) || host_allowed(w->o.allowed_hosts,
                                                        name));
    if (w->loopback && !known && !bearer_ok(r)) {
      cf__respond_error(r, 403, "this server listens on a loopback address; "
                        "without a token it answers only Host: localhost, "
                        "127.0.0.1, [::1] or an --allowed-host name");
      return -1;
    }
    return 0;
  }
  const char *a = cf__req_header(r, "Authorization");
  if (!a || !*a) {
    cf__respond_error(r, 401, "this endpoint needs 'Authorization: Bearer "
                      "<token>' (see %s)", w->token_path);
    return -1;
  }
  if (!bearer_ok(r)) {
    cf__respond_error(r, 403, "wrong token");
    return -1;
  }
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int cf__url_decode(char *s, int plus_is_space) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (*p == '%') {
      int hi = hexval((unsigned char)p[1]);
      int lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
      if (lo < 0 || (hi == 0 && lo == 0)) return -1;
      *o++ = (char)(hi * 16 + lo);
      p += 2;
    } else if (*p == '+' && plus_is_space) {
      *o++ = ' ';
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return 0;
}

char *cf__query_get(const struct cf_web_req *r, const char *name) {
  size_t nl = strlen(name);
  const char *p = r->query;
  while (p && *p) {
    const char *amp = strchr(p, '&');
    size_t n = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', n);
    size_t kl = eq ? (size_t)(eq - p) : n;
    if (kl == nl && !memcmp(p, name, nl)) {
      char *v = eq ? cf_strndup(eq + 1, n - kl - 1) : cf_strdup("");
      if (v && cf__url_decode(v, 1) < 0) {
        cf_free(v);
        return NULL;
      }
      return v;
    }
    p = amp ? amp + 1 : NULL;
  }
  return NULL;
}

int cf__query_long(struct cf_web_req *r, const char *name, long def,
                   long lo, long hi, long *out) {
  char *v = cf__query_get(r, name), *end = NULL;
  long x = def;
  if (v && *v) {
    x = strtol(v, &end, 10);   /* out of range: LONG_MIN/MAX, clamped */
    if (*end) {
      cf__respond_error(r, 400, "'%s' must be an integer", name);
      cf_free(v);
      return -1;
    }
  }
  cf_free(v);
  *out = x < lo ? lo : x > hi ? hi : x;
  return 0;
}

json_t *cf__req_json(struct cf_web_req *r) {
  if (r->body.len == 0) return json_object();
  json_error_t err;
  json_t *j = json_loadb(r->body.buf, r->body.len, JSON_REJECT_DUPLICATES,
                         &err);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    cf__respond_error(r, 400, "body must be a JSON object%s%s",
                      j ? "" : ": ", j ? "" : err.text);
    return NULL;
  }
  return j;
}
