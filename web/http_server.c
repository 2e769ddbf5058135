/* The HTTP/1.1 server: libuv TCP, http_parser for the wire format,
 * keep-alive and pipelining, size limits, slowloris timeouts and a
 * connection cap. One request is handled at a time per connection: while
 * its response is being written, reading stops and any pipelined bytes
 * wait in `pending` (that is also the back-pressure). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "costflow/plugin_host.h"
#include "web-int.h"

enum { ST_IDLE, ST_HEADERS, ST_BODY, ST_BUSY, ST_DRAIN };

#define READ_CHUNK 65536
#define FILE_CHUNK 65536
#define WRITE_TIMEOUT_MS 60000
#define DRAIN_MS 2000

struct cf__conn {
  struct cf_web *web;
  struct cf__conn *prev, *next;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shut;
  http_parser parser;
  int state;
  int handles;                 /* open uv handles of this connection */
  int closing;                 /* uv_close called */
  int close_after;             /* close once the response is written */
  int keep_alive;              /* of the current request */
  int head_only;               /* HEAD: no body in the response */
  int writes;                  /* uv_write requests in flight */
  int err_status;              /* status a parser callback asked for */
  struct cf_web_req *req;
  struct cf_buf hname, hval;   /* header being assembled */
  int in_value;
  size_t header_bytes;
  struct cf_buf pending;       /* bytes read but not yet parsed */
  int file_fd;                 /* file being streamed, or -1 */
  int64_t file_off, file_left;
};

struct cf__write {
  uv_write_t w;
  struct cf__conn *c;
  char *data;
};

static void conn_close(struct cf__conn *c);
static void conn_process(struct cf__conn *c, const char *p, size_t n);
static void response_maybe_done(struct cf__conn *c);
static const http_parser_settings settings;

static void web_free(struct cf_web *w) {
  cf__dag_cache_free(w->dags);
  cf_registry_free(w->reg);
  cf_free(w->home);
  cf_free(w->dags_dir);
  cf_free(w->landing);
  cf_free(w->warehouse);
  cf_free(w->token_path);
  cf_free(w);
}

static void web_unref(struct cf_web *w) {
  if (--w->handles == 0 && w->closing) web_free(w);
}

/* ---- requests -------------------------------------------------------- */

static void req_free(struct cf_web_req *r) {
  if (!r) return;
  if (r->upload) cf__upload_abort(r);
  cf_buf_release(&r->url);
  cf_buf_release(&r->body);
  cf_free(r->path);
  cf_free(r->query);
  for (int i = 0; i < r->nhdr; i++) {
    cf_free(r->hdr[i].name);
    cf_free(r->hdr[i].value);
  }
  for (int i = 0; i < r->nparam; i++) cf_free(r->param[i]);
  cf_free(r);
}

const char *cf__req_header(const struct cf_web_req *r, const char *name) {
  for (int i = 0; i < r->nhdr; i++)
    if (!strcasecmp(r->hdr[i].name, name)) return r->hdr[i].value;
  return NULL;
}

/* ---- responses ------------------------------------------------------- */

static const char *status_text(int s) {
  switch (s) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Entity";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  case 507: return "Insufficient Storage";
  default: return "Status";
  }
}

static void on_write(uv_write_t *w, int status);

/* Queues `data` (malloc'd, taken) for writing. */
static int conn_write(struct cf__conn *c, char *data, size_t len) {
  struct cf__write *wr = cf_malloc(sizeof *wr);
  if (!wr || c->closing) {
    cf_free(wr);
    cf_free(data);
    return -ENOMEM;
  }
  wr->c = c;
  wr->data = data;
  uv_buf_t b = uv_buf_init(data, (unsigned)len);
  int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc < 0) {
    cf_free(data);
    cf_free(wr);
    return rc;
  }
  c->writes++;
  return 0;
}

static void file_next(struct cf__conn *c) {
  size_t want = c->file_left > FILE_CHUNK ? FILE_CHUNK
                                          : (size_t)c->file_left;
  char *buf = want ? cf_malloc(want) : NULL;
  ssize_t got = buf ? pread(c->file_fd, buf, want, c->file_off) : -1;
  if (got <= 0) {
    /* file shrank or failed: the length is already promised, so the only
     * honest thing left is to close the connection */
    cf_free(buf);
    close(c->file_fd);
    c->file_fd = -1;
    c->file_left = 0;
    c->close_after = 1;
    if (!c->writes) conn_close(c);
    return;
  }
  c->file_off += got;
  c->file_left -= got;
  if (conn_write(c, buf, (size_t)got) < 0) conn_close(c);
}

static void on_write(uv_write_t *w, int status) {
  struct cf__write *wr = (struct cf__write *)w;
  struct cf__conn *c = wr->c;
  cf_free(wr->data);
  cf_free(wr);
  c->writes--;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->state == ST_BUSY)
    uv_timer_again(&c->timer);   /* the client is still reading */
  if (c->file_fd >= 0 && c->file_left > 0) {
    if (c->writes == 0) file_next(c);
    return;
  }
  response_maybe_done(c);
}

static char *response_head(struct cf__conn *c, int status, const char *ctype,
                           uint64_t len, const char *extra, size_t *hlen) {
  struct cf_buf b = CF_BUF_INIT(0);
  int keep = c->keep_alive && !c->close_after && !c->web->closing;
  cf_buf_addf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
              "Content-Length: %llu\r\nConnection: %s\r\n"
              "Cache-Control: no-store\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"
              "Content-Security-Policy: default-src 'self'; "
              "img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
              "frame-ancestors 'none'\r\n%s\r\n",
              status, status_text(status), ctype, (unsigned long long)len,
              keep ? "keep-alive" : "close", extra ? extra : "");
  if (!keep) c->close_after = 1;
  return cf_buf_detach(&b, hlen);
}

static void count_status(struct cf_web *w, int status) {
  w->http_requests++;
  if (status >= 500) w->http_5xx++;
  else if (status >= 400) w->http_4xx++;
}

void cf__respond(struct cf_web_req *r, int status, const char *ctype,
                 const void *body, size_t len, const char *extra) {
  struct cf__conn *c = r->conn;
  if (r->responded || !c) return;
  r->responded = 1;
  count_status(r->web, status);
  size_t hlen = 0;
  char *head = response_head(c, status, ctype, len, extra, &hlen);
  if (!head) {
    conn_close(c);
    return;
  }
  if (!c->head_only && len) {
    char *all = cf_realloc(head, hlen + len);
    if (!all) {
      cf_free(head);
      conn_close(c);
      return;
    }
    memcpy(all + hlen, body, len);
    head = all;
    hlen += len;
  }
  if (conn_write(c, head, hlen) < 0) conn_close(c);
}

static void respond_json(struct cf_web_req *r, int status, json_t *j,
                         const char *extra) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!s) {
    static const char oom[] = "{\"error\":\"out of memory\"}";
    cf__respond(r, 500, "application/json", oom, sizeof oom - 1, NULL);
    return;
  }
  size_t n = strlen(s);
  s[n] = '\0';
  /* a trailing newline keeps `curl` output tidy */
  char *t = realloc(s, n + 2);
  if (t) {
    s = t;
    s[n++] = '\n';
  }
  cf__respond(r, status, "application/json", s, n, extra);
  free(s);
}

void cf__respond_json(struct cf_web_req *r, int status, json_t *j) {
  respond_json(r, status, j,
               status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL);
}

void cf__respond_error(struct cf_web_req *r, int status, const char *fmt,
                       ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cf_utf8_scrub(msg);   /* echoed input, or a character cut at the end */
  cf__respond_json(r, status, json_pack("{s:s}", "error", msg));
}

void cf__respond_file(struct cf_web_req *r, int fd, int64_t off,
                      int64_t len, const char *ctype, const char *extra) {
  struct cf__conn *c = r->conn;
  if (r->responded || !c) {
    close(fd);
    return;
  }
  r->responded = 1;
  count_status(r->web, 200);
  size_t hlen = 0;
  char *head = response_head(c, 200, ctype, (uint64_t)len, extra, &hlen);
  if (!head || conn_write(c, head, hlen) < 0) {
    close(fd);
    conn_close(c);
    return;
  }
  if (c->head_only || len == 0) {
    close(fd);
    return;
  }
  c->file_fd = fd;
  c->file_off = off;
  c->file_left = len;
}

/* ---- connection lifecycle ------------------------------------------- */

static void on_conn_closed(uv_handle_t *h) {
  struct cf__conn *c = h->data;
  if (--c->handles > 0) return;
  struct cf_web *w = c->web;
  if (c->prev) c->prev->next = c->next;
  else w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  w->nconns--;
  req_free(c->req);
  cf_buf_release(&c->hname);
  cf_buf_release(&c->hval);
  cf_buf_release(&c->pending);
  if (c->file_fd >= 0) close(c->file_fd);
  cf_free(c);
  web_unref(w);
}

static void conn_close(struct cf__conn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->req && c->req->upload) cf__upload_abort(c->req);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_timer(uv_timer_t *t) {
  struct cf__conn *c = t->data;
  switch (c->state) {
  case ST_HEADERS:
  case ST_BODY:
    /* slowloris: headers or body too slow; answer and hang up */
    c->web->timeouts++;
    if (c->req && !c->req->responded) {
      c->close_after = 1;
      c->state = ST_BUSY;
      uv_read_stop((uv_stream_t *)&c->tcp);
      uv_timer_start(&c->timer, on_timer, WRITE_TIMEOUT_MS,
                     WRITE_TIMEOUT_MS);
      cf__respond_error(c->req, 408, "request timed out");
    } else {
      conn_close(c);
    }
    break;
  default:
    conn_close(c);   /* idle keep-alive, drain done, or write stalled */
  }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)h;
  (void)hint;
  b->base = cf_malloc(READ_CHUNK);
  b->len = b->base ? READ_CHUNK : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct cf__conn *c = s->data;
  if (n > 0 && !c->closing) {
    if (c->state == ST_DRAIN) {
      /* discarding what the client still sends after our final answer */
    } else if (c->state == ST_BUSY) {
      if (cf_buf_add(&c->pending, b->base, (size_t)n) < 0) conn_close(c);
    } else {
      conn_process(c, b->base, (size_t)n);
    }
  } else if (n < 0 && !c->closing) {
    /* EOF or error: finish the answer in flight, if any, then close */
    if (c->state == ST_BUSY && n == UV_EOF) {
      c->close_after = 1;
      uv_read_stop(s);
    } else {
      conn_close(c);
    }
  }
  cf_free(b->base);
}

static void on_shutdown(uv_shutdown_t *sh, int status) {
  struct cf__conn *c = sh->data;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  /* lingering close: read and drop what the client is still sending so
   * its kernel does not reset the connection before it reads our answer */
  c->state = ST_DRAIN;
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
  uv_timer_start(&c->timer, on_timer, DRAIN_MS, 0);
}

static void response_maybe_done(struct cf__conn *c) {
  if (c->closing || c->writes || c->state != ST_BUSY) return;
  if (c->file_fd >= 0) {
    close(c->file_fd);
    c->file_fd = -1;
  }
  req_free(c->req);
  c->req = NULL;
  if (c->close_after || c->web->closing) {
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
      conn_close(c);
    else
      uv_timer_start(&c->timer, on_timer, DRAIN_MS, 0);
    return;
  }
  c->state = ST_IDLE;
  http_parser_pause(&c->parser, 0);
  uv_timer_start(&c->timer, on_timer, c->web->o.keepalive_ms, 0);
  if (c->pending.len) {
    size_t len = 0;
    char *p = cf_buf_detach(&c->pending, &len);
    cf_buf_init(&c->pending, 1 << 20);
    conn_process(c, p, len);
    cf_free(p);
  }
  if (c->state != ST_BUSY && !c->closing)
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

/* ---- parser callbacks ----------------------------------------------- */

static struct cf__conn *P(http_parser *p) { return p->data; }

static int on_message_begin(http_parser *p) {
  struct cf__conn *c = P(p);
  req_free(c->req);
  c->req = cf_calloc(1, sizeof *c->req);
  if (!c->req) return -1;
  c->req->web = c->web;
  c->req->conn = c;
  cf_buf_init(&c->req->url, CF_WEB_MAX_HEADER_BYTES);
  cf_buf_init(&c->req->body, c->web->o.max_body);
  cf_buf_reset(&c->hname);
  cf_buf_reset(&c->hval);
  c->in_value = 0;
  c->header_bytes = 0;
  c->err_status = 0;
  c->state = ST_HEADERS;
  /* a fixed deadline for all headers, not reset per byte (slowloris) */
  uv_timer_start(&c->timer, on_timer, c->web->o.header_timeout_ms, 0);
  return 0;
}

static int header_budget(struct cf__conn *c, size_t n) {
  c->header_bytes += n;
  if (c->header_bytes > CF_WEB_MAX_HEADER_BYTES) {
    c->err_status = 431;
    return -1;
  }
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  struct cf__conn *c = P(p);
  if (header_budget(c, n) < 0 || cf_buf_add(&c->req->url, at, n) < 0) {
    c->err_status = 414;
    return -1;
  }
  return 0;
}

static int commit_header(struct cf__conn *c) {
  struct cf_web_req *r = c->req;
  if (!c->hname.len) return 0;
  /* a second Host could be read differently by a proxy and by us (RFC
   * 9112 3.2: 400) */
  if (!strcasecmp(c->hname.buf, "Host") && cf__req_header(r, "Host")) {
    c->close_after = 1;
    cf__respond_error(r, 400, "more than one Host header");
    return -1;
  }
  /* NUL bytes would truncate a header silently: refuse them */
  if (r->nhdr >= CF_WEB_MAX_HEADERS || memchr(c->hname.buf, 0, c->hname.len)
      || memchr(c->hval.buf, 0, c->hval.len)) {
    c->err_status = r->nhdr >= CF_WEB_MAX_HEADERS ? 431 : 400;
    return -1;
  }
  char *name = cf_strndup(c->hname.buf, c->hname.len);
  char *value = cf_strndup(c->hval.buf, c->hval.len);
  cf_buf_reset(&c->hname);
  cf_buf_reset(&c->hval);
  if (!name || !value) {
    cf_free(name);
    cf_free(value);
    return -1;
  }
  r->hdr[r->nhdr].name = name;
  r->hdr[r->nhdr].value = value;
  r->nhdr++;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
  struct cf__conn *c = P(p);
  if (c->in_value && commit_header(c) < 0) return -1;
  c->in_value = 0;
  if (header_budget(c, n) < 0 || cf_buf_add(&c->hname, at, n) < 0) return -1;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
  struct cf__conn *c = P(p);
  c->in_value = 1;
  if (header_budget(c, n) < 0 || cf_buf_add(&c->hval, at, n) < 0) return -1;
  return 0;
}

static int split_url(struct cf_web_req *r) {
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(r->url.buf, r->url.len, 0, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH)))
    return -1;
  r->path = cf_strndup(r->url.buf + u.field_data[UF_PATH].off,
                       u.field_data[UF_PATH].len);
  if (u.field_set & (1 << UF_QUERY))
    r->query = cf_strndup(r->url.buf + u.field_data[UF_QUERY].off,
                          u.field_data[UF_QUERY].len);
  else
    r->query = cf_strdup("");
  if (!r->path || !r->query) return -1;
  if (cf__url_decode(r->path, 0) < 0 ||
      !cf_utf8_valid(r->path, strlen(r->path)))
    return -2;
  /* every parameter is decoded on use; refuse the whole query up front
   * if any part of it is not percent-encoded UTF-8 */
  char *q = cf_strdup(r->query);
  if (!q) return -1;
  int ok = cf__url_decode(q, 1) == 0 && cf_utf8_valid(q, strlen(q));
  cf_free(q);
  return ok ? 0 : -3;
}

static int on_headers_complete(http_parser *p) {
  struct cf__conn *c = P(p);
  struct cf_web_req *r = c->req;
  if (c->in_value && commit_header(c) < 0) return -1;
  r->method = p->method;
  c->keep_alive = http_should_keep_alive(p);
  c->head_only = p->method == HTTP_HEAD;
  int bad = split_url(r);
  if (bad < 0) {
    c->err_status = 400;
    c->close_after = 1;
    if (bad == -2)
      cf__respond_error(r, 400, "path is not percent-encoded UTF-8 "
                        "(or holds %%00)");
    else if (bad == -3)
      cf__respond_error(r, 400, "query string is not percent-encoded "
                        "UTF-8 (or holds %%00)");
    return -1;
  }
  int matched = 0;
  int method = p->method == HTTP_HEAD ? HTTP_GET : (int)p->method;
  r->route = cf__route_find(r->path, method, r, &matched);
  /* every early answer below closes the connection: the body is unread */
  c->close_after = 1;
  if (!r->route) {
    if (matched) {
      char allow[64], msg[512], extra[96];
      cf__route_allow(r->path, allow, sizeof allow);
      snprintf(msg, sizeof msg, "method %s not allowed on %s",
               http_method_str(p->method), r->path);
      cf_utf8_scrub(msg);
      snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
      respond_json(r, 405, json_pack("{s:s}", "error", msg), extra);
    } else
      cf__respond_error(r, 404, "no such endpoint: %s", r->path);
    return -1;
  }
  if (cf__route_authorize(r) < 0) return -1;
  int stream = (r->route->flags & CF_ROUTE_STREAM) != 0;
  if (!stream && (p->flags & F_CONTENTLENGTH) &&
      p->content_length > c->web->o.max_body) {
    cf__respond_error(r, 413, "request body over %zu bytes",
                      c->web->o.max_body);
    return -1;
  }
  if (stream && r->route->begin(r) < 0) {
    if (!r->responded) cf__respond_error(r, 400, "refused");
    return -1;
  }
  c->close_after = 0;
  const char *expect = cf__req_header(r, "Expect");
  if (expect && !strcasecmp(expect, "100-continue")) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *msg = cf_strdup(cont);
    if (msg) conn_write(c, msg, sizeof cont - 1);
  }
  c->state = ST_BODY;
  uv_timer_start(&c->timer, on_timer, c->web->o.body_timeout_ms,
                 c->web->o.body_timeout_ms);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
  struct cf__conn *c = P(p);
  struct cf_web_req *r = c->req;
  uv_timer_again(&c->timer);
  if (r->route->flags & CF_ROUTE_STREAM) {
    if (r->route->chunk(r, at, n) < 0) {
      c->close_after = 1;
      if (!r->responded) cf__respond_error(r, 400, "bad upload body");
      return -1;
    }
    return 0;
  }
  if (cf_buf_add(&r->body, at, n) < 0) {
    c->close_after = 1;
    cf__respond_error(r, 413, "request body over %zu bytes",
                      c->web->o.max_body);
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct cf__conn *c = P(p);
  struct cf_web_req *r = c->req;
  c->state = ST_BUSY;
  uv_timer_start(&c->timer, on_timer, WRITE_TIMEOUT_MS, WRITE_TIMEOUT_MS);
  http_parser_pause(p, 1);
  if (r->route->handle) r->route->handle(r);
  if (!r->responded) cf__respond_error(r, 500, "no response");
  return 0;
}

static const http_parser_settings settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

/* Feeds bytes to the parser; on a complete request the parser pauses and
 * the rest waits in c->pending until the response is written. */
static void conn_process(struct cf__conn *c, const char *p, size_t n) {
  size_t used = http_parser_execute(&c->parser, &settings, p, n);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->closing) return;
  if (e == HPE_PAUSED) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (used < n && cf_buf_add(&c->pending, p + used, n - used) < 0)
      c->close_after = 1;
    response_maybe_done(c);
    return;
  }
  if (e == HPE_OK) return;
  /* malformed or refused: answer once (if nobody did) and close */
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->close_after = 1;
  c->state = ST_BUSY;
  uv_timer_start(&c->timer, on_timer, WRITE_TIMEOUT_MS, WRITE_TIMEOUT_MS);
  if (!c->req) {
    on_message_begin(&c->parser);
    c->state = ST_BUSY;
    if (!c->req) {
      conn_close(c);
      return;
    }
  }
  if (!c->req->responded) {
    int st = c->err_status ? c->err_status
             : e == HPE_HEADER_OVERFLOW ? 431 : 400;
    if (st == 400)
      cf__respond_error(c->req, 400, "malformed request: %s",
                        http_errno_description(e));
    else
      cf__respond_error(c->req, st, "%s", status_text(st));
  }
  response_maybe_done(c);
}

/* A new connection object, linked into w->conns; its tcp handle is
 * initialised but not yet bound to a socket. */
static struct cf__conn *conn_new(struct cf_web *w) {
  struct cf__conn *c = cf_calloc(1, sizeof *c);
  if (!c) return NULL;
  c->web = w;
  c->file_fd = -1;
  cf_buf_init(&c->hname, CF_WEB_MAX_HEADER_BYTES);
  cf_buf_init(&c->hval, CF_WEB_MAX_HEADER_BYTES);
  cf_buf_init(&c->pending, 1 << 20);
  uv_tcp_init(w->loop, &c->tcp);
  uv_timer_init(w->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  w->handles++;
  w->nconns++;
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  return c;
}

/* Starts serving a connection whose socket is in c->tcp. */
static void conn_start(struct cf__conn *c) {
  struct cf_web *w = c->web;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (w->nconns > w->o.max_conns) {
    /* over the cap: a short answer, then close */
    w->conns_refused++;
    on_message_begin(&c->parser);
    c->state = ST_BUSY;
    c->close_after = 1;
    cf__respond_error(c->req, 503, "too many connections");
    uv_timer_start(&c->timer, on_timer, DRAIN_MS, 0);
    return;
  }
  c->state = ST_IDLE;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->timer, on_timer, w->o.header_timeout_ms, 0);
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void on_connection(uv_stream_t *server, int status) {
  struct cf_web *w = server->data;
  if (status < 0 || w->closing) return;
  struct cf__conn *c = conn_new(w);
  if (!c) return;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  conn_start(c);
}

int cf__web_serve_fd(struct cf_web *w, uv_os_sock_t fd) {
  if (w->closing) return UV_ECANCELED;
  struct cf__conn *c = conn_new(w);
  if (!c) return -ENOMEM;
  int rc = uv_tcp_open(&c->tcp, fd);
  if (rc < 0) {
    conn_close(c);
    return rc;
  }
  conn_start(c);
  return 0;
}

/* ---- start / close --------------------------------------------------- */

static void on_server_closed(uv_handle_t *h) { web_unref(h->data); }

static int parse_listen(const char *s, char *host, size_t hostsz, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) return -1;
  size_t n = (size_t)(colon - s);
  if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {  /* [::1]:8080 */
    s++;
    n -= 2;
  }
  if (n >= hostsz) return -1;
  memcpy(host, s, n);
  host[n] = '\0';
  char *end = NULL;
  long p = strtol(colon + 1, &end, 10);
  if (!*(colon + 1) || *end || p < 0 || p > 65535) return -1;
  *port = (int)p;
  return 0;
}

static char *dup_or(const char *v, const char *home, const char *dflt) {
  return v ? cf_strdup(v) : cf_asprintf("%s/%s", home, dflt);
}

int cf_web_start(uv_loop_t *loop, struct cf_store *st,
                 const struct cf_web_opts *o, struct cf_web **out) {
  FILE *log = o->log ? o->log : stderr;
  char host[64];
  int port = 0, rc = 0;
  struct sockaddr_storage sa;
  struct cf_web *w = cf_calloc(1, sizeof *w);
  *out = NULL;
  if (!w) return -ENOMEM;
  w->loop = loop;
  w->st = st;
  w->o = *o;
  w->started_ms = cf_now_ms();
  if (!w->o.listen) w->o.listen = "127.0.0.1:8080";
  if (!w->o.home) w->o.home = "./var";
  if (!w->o.dags_dir) w->o.dags_dir = "./dags";
  if (!w->o.max_body) w->o.max_body = 1 << 20;
  if (!w->o.max_upload) w->o.max_upload = 512ull << 20;
  if (w->o.max_conns <= 0) w->o.max_conns = 256;
  if (w->o.header_timeout_ms <= 0) w->o.header_timeout_ms = 10000;
  if (w->o.body_timeout_ms <= 0) w->o.body_timeout_ms = 30000;
  if (w->o.keepalive_ms <= 0) w->o.keepalive_ms = 60000;
  w->home = cf_strdup(w->o.home);
  w->dags_dir = cf_strdup(w->o.dags_dir);
  w->landing = dup_or(o->landing_dir, w->o.home, "landing");
  w->warehouse = dup_or(o->warehouse, w->o.home, "warehouse.db");
  w->token_path = dup_or(o->token_file, w->o.home, "web.token");
  if (!w->home || !w->dags_dir || !w->landing || !w->warehouse ||
      !w->token_path || cf__dag_cache_new(&w->dags) < 0 ||
      cf_registry_new(w->o.plugin_path, &w->reg) < 0) {
    rc = -ENOMEM;
    goto fail;
  }
  if (parse_listen(w->o.listen, host, sizeof host, &port) < 0) {
    fprintf(log, "costflow: --listen '%s' is not ADDR:PORT\n", w->o.listen);
    rc = CF_EINVALID;
    goto fail;
  }
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) < 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) < 0) {
    fprintf(log, "costflow: '%s' is not an IP address\n", host);
    rc = CF_EINVALID;
    goto fail;
  }
  w->loopback = cf__addr_is_loopback(host);
  if (w->o.no_auth && !w->loopback) {
    fprintf(log, "costflow: refusing to listen on %s without a token: "
            "non-loopback addresses need auth (drop --no-auth)\n", host);
    rc = CF_EINVALID;
    goto fail;
  }
  if (!w->o.no_auth && (rc = cf__token_init(w, log)) < 0) goto fail;
  http_parser_set_max_header_size(CF_WEB_MAX_HEADER_BYTES);
  uv_tcp_init(loop, &w->server);
  w->server.data = w;
  w->handles = 1;
  if ((rc = uv_tcp_bind(&w->server, (struct sockaddr *)&sa, 0)) < 0 ||
      (rc = uv_listen((uv_stream_t *)&w->server, 128, on_connection)) < 0) {
    fprintf(log, "costflow: cannot listen on %s: %s\n", w->o.listen,
            uv_strerror(rc));
    w->closing = 1;
    uv_close((uv_handle_t *)&w->server, on_server_closed);
    return rc;
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  char ip[48] = "?";
  uv_tcp_getsockname(&w->server, (struct sockaddr *)&bound, &blen);
  if (bound.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
    snprintf(w->addr, sizeof w->addr, "[%s]:%d", ip,
             ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
  } else {
    uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
    snprintf(w->addr, sizeof w->addr, "%s:%d", ip,
             ntohs(((struct sockaddr_in *)&bound)->sin_port));
  }
  *out = w;
  return 0;
fail:
  web_free(w);
  return rc;
}

const char *cf_web_address(const struct cf_web *w) { return w->addr; }

void cf_web_close(struct cf_web *w) {
  if (!w || w->closing) return;
  w->closing = 1;
  uv_close((uv_handle_t *)&w->server, on_server_closed);
  for (struct cf__conn *c = w->conns; c; c = c->next) conn_close(c);
}
