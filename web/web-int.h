/* Internals shared by the web/ sources: the server, a request, the routes
 * and the response helpers every api_*.c uses. */
#ifndef COSTFLOW_WEB_INT_H
#define COSTFLOW_WEB_INT_H

#include <http_parser.h>
#include <jansson.h>
#include "costflow/common.h"
#include "costflow/dag.h"
#include "web.h"

#define CF_WEB_MAX_HEADER_BYTES (16 * 1024)
#define CF_WEB_MAX_HEADERS 64
#define CF_WEB_MAX_PARAMS 4

struct cf__dag_cache;
struct cf_plugin_registry;

struct cf_web {
  uv_loop_t *loop;
  struct cf_store *st;
  struct cf_web_opts o;           /* copy, defaults filled in */
  char *home, *dags_dir, *landing, *warehouse, *token_path; /* owned */
  char token[65];                 /* "" when no_auth */
  char addr[64];                  /* bound address */
  int loopback;                   /* listening on a loopback address */
  uv_tcp_t server;
  int nconns, closing, handles;   /* handles: open uv handles, for free */
  struct cf__conn *conns;         /* doubly linked list of connections */
  struct cf__dag_cache *dags;
  struct cf_plugin_registry *reg;
  /* counters for /metrics */
  uint64_t http_requests, http_4xx, http_5xx, conns_refused, timeouts;
  uint64_t uploads, upload_bytes;
  int64_t started_ms;
};

struct cf_web_header { char *name, *value; };

struct cf__upload;

/* One HTTP request. Strings are owned by the request and live until the
 * response has been handed to the connection. */
struct cf_web_req {
  struct cf_web *web;
  struct cf__conn *conn;
  int method;                     /* enum http_method */
  struct cf_buf url;              /* raw target, e.g. /api/x?a=b */
  char *path;                     /* percent-decoded path, no query */
  char *query;                    /* raw query (after '?'), or "" */
  struct cf_web_header hdr[CF_WEB_MAX_HEADERS];
  int nhdr;
  struct cf_buf body;             /* buffered body (non-stream routes) */
  char *param[CF_WEB_MAX_PARAMS]; /* ":" captures of the route */
  int nparam;
  const struct cf__route *route;
  struct cf__upload *upload;      /* streaming upload state */
  int responded;
};

/* A route: METHOD + pattern ("/api/dags/:/runs" where ':' captures one
 * path segment). Streaming routes get the body chunk by chunk. */
enum {
  CF_ROUTE_OPEN = 1,              /* never needs a token */
  CF_ROUTE_MUTATE = 2,            /* token + CSRF checks */
  CF_ROUTE_STREAM = 4,            /* body goes to stream callbacks */
};
struct cf__route {
  int method;
  const char *pattern;
  unsigned flags;
  void (*handle)(struct cf_web_req *r);        /* after the whole body */
  /* streaming: begin after headers (may respond to refuse), chunk per
   * body piece (returns 0 or responds and returns < 0), end is handle. */
  int (*begin)(struct cf_web_req *r);
  int (*chunk)(struct cf_web_req *r, const char *p, size_t n);
  void (*abort)(struct cf_web_req *r);         /* connection lost */
};

/* http_server.c: serves an already connected stream socket `fd` (owned
 * on success) as if it had been accepted: the seam the HTTP fuzz target
 * (tests/fuzz/fuzz-http.c) drives through a socketpair. */
int cf__web_serve_fd(struct cf_web *w, uv_os_sock_t fd);

/* router.c */
const struct cf__route *cf__route_find(const char *path, int method,
                                       struct cf_web_req *r,
                                       int *path_matched);
/* The methods the routes matching `path` take, "GET, HEAD, POST", for
 * the Allow header of a 405; "" if none. */
void cf__route_allow(const char *path, char *out, size_t n);
/* 0 if the request may proceed, else responded (401/403). */
int cf__route_authorize(struct cf_web_req *r);

/* http_server.c: responses. Each request gets exactly one response. */
void cf__respond(struct cf_web_req *r, int status, const char *ctype,
                 const void *body, size_t len, const char *extra_headers);
/* Takes a reference to `j` (decref'd here). */
void cf__respond_json(struct cf_web_req *r, int status, json_t *j);
void cf__respond_error(struct cf_web_req *r, int status, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
/* Streams `fd` (owned, closed at the end) from `off` for `len` bytes. */
void cf__respond_file(struct cf_web_req *r, int fd, int64_t off,
                      int64_t len, const char *ctype,
                      const char *extra_headers);
const char *cf__req_header(const struct cf_web_req *r, const char *name);
/* Percent-decoded value of query parameter `name`, malloc'd; NULL if
 * absent. */
char *cf__query_get(const struct cf_web_req *r, const char *name);
/* Integer query parameter clamped to [lo, hi] (def if absent or empty)
 * in *out; 0, or -1 after answering 400 when it is not an integer. */
int cf__query_long(struct cf_web_req *r, const char *name, long def,
                   long lo, long hi, long *out);
/* In-place percent-decoding; returns -1 on bad escapes or NUL bytes. */
int cf__url_decode(char *s, int plus_is_space);
/* Parses the buffered body as a JSON object; responds 400 and returns
 * NULL when it is not one. An empty body is {}. */
json_t *cf__req_json(struct cf_web_req *r);

/* auth.c */
int cf__token_init(struct cf_web *w, FILE *log);
int cf__token_equal(const char *a, const char *b);
int cf__addr_is_loopback(const char *host);

/* dag_cache.c: DAG files of the folder, reloaded when they change. */
struct cf__dag_entry {
  char *path;                     /* file */
  char *id;                       /* dag id, NULL if it failed to load */
  struct cf_dag *dag;             /* NULL if it failed to load */
  char *error;                    /* import errors, NULL if none */
  int64_t mtime_ns, size;
};
int  cf__dag_cache_new(struct cf__dag_cache **out);
void cf__dag_cache_free(struct cf__dag_cache *c);
/* Rescans the folder; returns the entries (owned by the cache, valid
 * until the next refresh). */
int  cf__dag_cache_refresh(struct cf_web *w, struct cf__dag_entry **v,
                           size_t *n);
/* The loaded DAG with this id (refreshing first), or NULL. */
struct cf_dag *cf__dag_cache_get(struct cf_web *w, const char *id);

/* Route handlers (api_*.c). */
void cf__api_dags(struct cf_web_req *r);
void cf__api_dag_pause(struct cf_web_req *r);
void cf__api_dag_unpause(struct cf_web_req *r);
void cf__api_runs(struct cf_web_req *r);
void cf__api_grid(struct cf_web_req *r);
void cf__api_run(struct cf_web_req *r);
void cf__api_run_dq(struct cf_web_req *r);
void cf__api_log(struct cf_web_req *r);
void cf__api_trigger(struct cf_web_req *r);
void cf__api_rerun(struct cf_web_req *r);
void cf__api_backfill(struct cf_web_req *r);
int  cf__upload_begin(struct cf_web_req *r);
int  cf__upload_chunk(struct cf_web_req *r, const char *p, size_t n);
void cf__upload_end(struct cf_web_req *r);
void cf__upload_abort(struct cf_web_req *r);
void cf__api_costs_daily(struct cf_web_req *r);
void cf__api_costs_top(struct cf_web_req *r);
void cf__api_costs_anomalies(struct cf_web_req *r);
void cf__api_costs_zombies(struct cf_web_req *r);
void cf__api_costs_summary(struct cf_web_req *r);
void cf__api_metrics(struct cf_web_req *r);
void cf__api_healthz(struct cf_web_req *r);
void cf__api_asset(struct cf_web_req *r);

/* Shared JSON helpers (api_util.c). */
json_t *cf__json_time(int64_t us);          /* ISO string or null */
json_t *cf__json_col_text(sqlite3_stmt *s, int col);  /* text or null */
json_t *cf__run_json(const struct cf_run_row *run);
/* The run of dag param[0] on date param[1], or responds 400/404. */
int cf__req_run(struct cf_web_req *r, struct cf_run_row *run);

/* Embedded assets (generated). */
struct cf__asset { const char *name, *ctype; const unsigned char *data;
                   size_t len; };
extern const struct cf__asset cf__assets[];
extern const size_t cf__nassets;

#endif
