/* The control socket $HOME/scheduler.sock (protocol in control.h): the
 * daemon's side on its loop (uv_pipe), and the blocking client the CLI
 * uses. Only the daemon that holds $HOME/scheduler.lock binds it, so a
 * stale socket file left by a crash is safe to replace. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "control.h"
#include "daemon.h"

struct conn {
  uv_pipe_t pipe;
  struct cf_daemon *d;
  struct cf_control *ctl;
  struct cf_buf in;
  int replied;
  struct conn *next;
};

struct cf_control {
  struct cf_daemon *d;
  uv_pipe_t server;
  char *path;
  struct conn *conns;           /* open connections */
  int server_open;              /* freed when closed and no conns left */
};

static void control_maybe_free(struct cf_control *c) {
  if (c->server_open || c->conns) return;
  cf_free(c->path);
  cf_free(c);
}

struct reply {
  uv_write_t req;
  char *text;
};

static void conn_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  struct cf_control *ctl = c->ctl;
  for (struct conn **pp = &ctl->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  cf_buf_release(&c->in);
  cf_free(c);
  control_maybe_free(ctl);
}

static void written(uv_write_t *req, int status) {
  struct reply *r = req->data;
  (void)status;
  if (!uv_is_closing((uv_handle_t *)req->handle))
    uv_close((uv_handle_t *)req->handle, conn_closed);
  cf_free(r->text);
  cf_free(r);
}

static void send_reply(struct conn *c, json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  struct reply *r = cf_calloc(1, sizeof *r);
  char *text = s ? cf_asprintf("%s\n", s) : NULL;
  free(s);
  c->replied = 1;
  uv_read_stop((uv_stream_t *)&c->pipe);
  if (!r || !text) {
    cf_free(r);
    cf_free(text);
    uv_close((uv_handle_t *)&c->pipe, conn_closed);
    return;
  }
  r->text = text;
  r->req.data = r;
  uv_buf_t b = uv_buf_init(text, (unsigned)strlen(text));
  if (uv_write(&r->req, (uv_stream_t *)&c->pipe, &b, 1, written) < 0) {
    cf_free(r->text);
    cf_free(r);
    uv_close((uv_handle_t *)&c->pipe, conn_closed);
  }
}

static json_t *error_reply(const char *msg) {
  return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void handle(struct conn *c, const char *line) {
  struct cf_daemon *d = c->d;
  json_error_t je;
  json_t *req = json_loads(line, 0, &je);
  const char *op = json_string_value(json_object_get(req, "op"));
  if (!op) {
    json_decref(req);
    send_reply(c, error_reply("want one JSON object with \"op\""));
    return;
  }
  json_t *rep = NULL;
  if (!strcmp(op, "ping")) {
    rep = json_pack("{s:b, s:i}", "ok", 1, "pid", (int)getpid());
  } else if (!strcmp(op, "drive")) {
    const char *dag = json_string_value(json_object_get(req, "dag"));
    struct cf_dentry *e = dag ? cf__daemon_find(d, dag) : NULL;
    if (d->stopping) {
      rep = error_reply("the scheduler is stopping");
    } else if (dag && !e) {
      char msg[300];
      snprintf(msg, sizeof msg, "dag '%.200s' is not loaded by the "
               "scheduler (check its DAGs folder)", dag);
      rep = error_reply(msg);
    } else if (dag && cf__daemon_paused(d, dag)) {
      char msg[300];
      snprintf(msg, sizeof msg, "dag '%.200s' is paused", dag);
      rep = error_reply(msg);
    } else {
      cf__dlog(d, "info", dag, 0, NULL, 0, "control: drive");
      cf__daemon_pump_soon(d);
      rep = json_pack("{s:b}", "ok", 1);
    }
  } else if (!strcmp(op, "reload")) {
    if (d->watch) cf__watch_rescan(d->watch);
    rep = json_pack("{s:b}", "ok", 1);
  } else {
    rep = error_reply("unknown op");
  }
  json_decref(req);
  send_reply(c, rep);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char slab[4096];       /* one loop thread: one slab */
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (c->replied) return;
  if (n < 0) {
    uv_close((uv_handle_t *)s, conn_closed);
    return;
  }
  if (cf_buf_add(&c->in, buf->base, (size_t)n) < 0) {
    send_reply(c, error_reply("request too long"));
    return;
  }
  char *nl = memchr(c->in.buf, '\n', c->in.len);
  if (!nl) return;
  *nl = '\0';
  handle(c, c->in.buf);
}

static void on_connection(uv_stream_t *server, int status) {
  struct cf_control *ctl = server->data;
  if (status < 0) return;
  struct conn *c = cf_calloc(1, sizeof *c);
  if (!c) return;
  c->d = ctl->d;
  c->ctl = ctl;
  c->next = ctl->conns;
  ctl->conns = c;
  cf_buf_init(&c->in, CF_CONTROL_MAX_LINE);
  uv_pipe_init(&ctl->d->loop, &c->pipe, 0);
  c->pipe.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
      uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read) < 0)
    uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

int cf__control_start(struct cf_daemon *d, struct cf_control **out) {
  struct cf_control *c = cf_calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->d = d;
  c->path = cf_asprintf("%s/scheduler.sock", d->cli->home);
  if (!c->path) {
    cf_free(c);
    return -ENOMEM;
  }
  unlink(c->path);              /* stale from a crash: we hold the lock */
  uv_pipe_init(&d->loop, &c->server, 0);
  c->server.data = c;
  c->server_open = 1;
  int rc = uv_pipe_bind(&c->server, c->path);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&c->server, 64, on_connection);
  *out = c;
  if (rc < 0) {
    cf__control_close(c);
    *out = NULL;
  }
  return rc;
}

static void server_closed(uv_handle_t *h) {
  struct cf_control *c = h->data;
  c->server_open = 0;
  control_maybe_free(c);
}

void cf__control_close(struct cf_control *c) {
  if (!c) return;
  unlink(c->path);
  for (struct conn *k = c->conns; k; k = k->next)
    if (!uv_is_closing((uv_handle_t *)&k->pipe))
      uv_close((uv_handle_t *)&k->pipe, conn_closed);
  uv_close((uv_handle_t *)&c->server, server_closed);
}

/* ---- client -------------------------------------------------------------- */

int cf_control_request(const char *home, const char *line, char *reply,
                       size_t size, int timeout_ms) {
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/scheduler.sock",
                   home);
  if (n < 0 || (size_t)n >= sizeof sa.sun_path) return -ENAMETOOLONG;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;
  if (fd < 0) return -errno;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    rc = -errno;
    goto done;
  }
  size_t len = strlen(line);
  if ((write(fd, line, len) != (ssize_t)len) || write(fd, "\n", 1) != 1) {
    rc = -EIO;
    goto done;
  }
  size_t got = 0;
  while (got + 1 < size) {
    struct pollfd p = {fd, POLLIN, 0};
    int pr = poll(&p, 1, timeout_ms);
    if (pr <= 0) {
      rc = pr == 0 ? -ETIMEDOUT : -errno;
      goto done;
    }
    ssize_t r = read(fd, reply + got, size - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
    if (memchr(reply, '\n', got)) break;
  }
  reply[got] = '\0';
  if (!got) rc = -ECONNRESET;
done:
  close(fd);
  return rc;
}
