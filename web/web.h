/* The web server: JSON API, the embedded UI, uploads, /metrics and
 * /healthz, served on a libuv loop (the scheduler's, or its own for
 * `costflow web`). It holds no state of its own: it reads the store and
 * hands actions (trigger, rerun, backfill) to an executor through
 * cf_web_opts.submit. Endpoints and auth: docs/web.md. */
#ifndef COSTFLOW_WEB_H
#define COSTFLOW_WEB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>
#include "costflow/store.h"

struct cf_web;

/* Drive run `run_pk` of `dag_id`, which the web layer has just created or
 * cleared in the store (holding the per-run lock while it did, then
 * releasing it). Called on the loop thread. Returns 0 once accepted,
 * CF_EBUSY if something already drives that run, or another negative
 * error with an optional malloc'd *errmsg. */
typedef int (*cf_web_submit_fn)(void *data, const char *dag_id,
                                int64_t run_pk, char **errmsg);

/* Whether s is a comma list of host names (letters, digits, '-', '.',
 * or a bracketed IPv6 literal), as --allowed-host takes. */
int cf_web_hosts_valid(const char *s);

struct cf_web_opts {
  const char *listen;         /* "ADDR:PORT"; NULL = 127.0.0.1:8080 */
  const char *home;           /* COSTFLOW_HOME (locks, logs, token) */
  const char *dags_dir;       /* DAG files (list, actions) */
  const char *plugin_path;    /* plugin search path; NULL = default */
  const char *token_file;     /* NULL = $home/web.token */
  const char *landing_dir;    /* uploads; NULL = $home/landing */
  const char *warehouse;      /* NULL = $home/warehouse.db */
  int no_auth;                /* 1: no token at all (loopback only) */
  int auth_reads;             /* 1: GET endpoints need the token too */
  const char *allowed_hosts;  /* comma list of Host names a loopback
                                 server also answers without a token
                                 (a reverse proxy's public name) */
  size_t max_body;            /* JSON request bodies; 0 = 1 MiB */
  uint64_t max_upload;        /* upload bytes; 0 = 512 MiB */
  int max_conns;              /* concurrent connections; 0 = 256 */
  int64_t header_timeout_ms;  /* first byte -> end of headers; 0 = 10 s */
  int64_t body_timeout_ms;    /* idle gap while reading a body; 0 = 30 s */
  int64_t keepalive_ms;       /* idle keep-alive connection; 0 = 60 s */
  cf_web_submit_fn submit;    /* required for actions; NULL = 503 */
  void *submit_data;
  FILE *log;                  /* token notice, errors; NULL = stderr */
};

/* Loads or creates the token, binds and starts listening on `loop`.
 * Returns 0 and *out, or a negative error after printing why to o->log
 * (address in use, non-loopback without a token, bad token file...).
 * `st` and the strings in `o` must outlive the server. */
int cf_web_start(uv_loop_t *loop, struct cf_store *st,
                 const struct cf_web_opts *o, struct cf_web **out);

/* Stops listening and closes every connection. Memory is freed once the
 * last handle has closed, on a later loop iteration: run the loop until
 * it has no more handles. */
void cf_web_close(struct cf_web *w);

/* The bound address ("127.0.0.1:8080"), e.g. after listening on port 0. */
const char *cf_web_address(const struct cf_web *w);

#endif
