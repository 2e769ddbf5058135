/* `costflow web`: serves the web UI and JSON API standalone. Actions
 * (trigger, rerun, backfill) are driven by a local executor on the same
 * libuv loop, under the same per-run locks as `costflow run`; each DAG
 * keeps to its max_active_runs, further runs wait in a queue. When a
 * scheduler daemon runs on the same home, runs are handed to it instead
 * (control socket "drive", as `costflow run` does), off the loop thread.
 * The daemon (`costflow scheduler --web`) plugs its own executor. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "control.h"
#include "runner.h"
#include "web.h"

static const char usage[] =
    "usage: costflow web [--listen ADDR:PORT] [--token-file FILE]\n"
    "         [--landing DIR] [--warehouse FILE] [--auth-reads] [--no-auth]\n"
    "         [--max-upload BYTES] [--max-body BYTES] [--max-conns N]\n"
    "         [--header-timeout DUR] [--body-timeout DUR]\n"
    "         [--allowed-host NAME[,NAME...]]\n"
    "  Serves the UI and API (default 127.0.0.1:8080). Mutating endpoints\n"
    "  need the bearer token in $COSTFLOW_HOME/web.token (created at first\n"
    "  start); --auth-reads protects reads too; --no-auth is refused on\n"
    "  non-loopback addresses. A loopback server answers token-less\n"
    "  requests only for Host localhost/127.x/[::1] (DNS rebinding) or an\n"
    "  --allowed-host NAME (a reverse proxy's public name). See docs/web.md.\n";

struct local_run {
  struct local_run *next;
  struct cf_dag *dag;
  int64_t pk;
  int lock;
};

struct web_local {
  struct cf_cli *cli;
  uv_loop_t *loop;
  struct cf_store *st;
  struct cf_plugin_registry *reg;
  struct cf_exec *x;
  struct cf_web *web;
  struct local_run *active, *queue;
  uv_signal_t sigint, sigterm;
  int stopping;
};

static void local_run_free(struct local_run *lr) {
  if (lr->lock >= 0) close(lr->lock);
  cf_dag_free(lr->dag);
  cf_free(lr);
}

static int active_of(struct web_local *l, const char *dag_id) {
  int n = 0;
  for (struct local_run *a = l->active; a; a = a->next)
    n += !strcmp(a->dag->id, dag_id);
  return n;
}

static void start_queued(struct web_local *l);

static void on_done(struct cf_exec *x, int64_t pk, const char *state,
                    void *data) {
  struct web_local *l = data;
  (void)x;
  for (struct local_run **p = &l->active; *p; p = &(*p)->next) {
    if ((*p)->pk != pk) continue;
    struct local_run *lr = *p;
    *p = lr->next;
    fprintf(stderr, "costflow web: run %lld of %s: %s\n", (long long)pk,
            lr->dag->id, state);
    local_run_free(lr);
    break;
  }
  start_queued(l);
}

static int start(struct web_local *l, struct local_run *lr) {
  lr->next = l->active;
  l->active = lr;
  int rc = cf_exec_start_run(l->x, lr->dag, lr->pk, on_done, l);
  if (rc < 0) {
    l->active = lr->next;
    return rc;
  }
  return 0;
}

/* FIFO: the first queued run whose DAG has room starts. */
static void start_queued(struct web_local *l) {
  struct local_run **p = &l->queue;
  while (!l->stopping && *p) {
    struct local_run *lr = *p;
    if (active_of(l, lr->dag->id) >= lr->dag->max_active_runs) {
      p = &lr->next;
      continue;
    }
    *p = lr->next;
    if (start(l, lr) < 0) local_run_free(lr);
  }
}

static int has_run(struct local_run *v, int64_t pk) {
  for (; v; v = v->next)
    if (v->pk == pk) return 1;
  return 0;
}

/* Drives run pk here, on the local executor. */
static int local_drive(struct web_local *l, const char *dag_id, int64_t pk,
                       char **errmsg) {
  struct local_run *lr = NULL;
  struct cf_run_row run = {0};
  char *path = NULL;
  int rc = 0;
  if (l->stopping) {
    *errmsg = cf_strdup("the server is shutting down");
    return CF_ESTATE;
  }
  if (has_run(l->active, pk) || has_run(l->queue, pk)) return CF_EBUSY;
  if (!(lr = cf_calloc(1, sizeof *lr))) return -ENOMEM;
  lr->lock = -1;
  lr->pk = pk;
  if (cf_dag_resolve(l->cli->dags_dir, dag_id, &path) < 0) {
    *errmsg = cf_asprintf("no DAG '%s' in %s", dag_id, l->cli->dags_dir);
    rc = CF_ENOTFOUND;
    goto fail;
  }
  struct cf_diags diags = CF_DIAGS_INIT;
  struct cf_dag_load_opts o = {0, cf_registry_lookup, l->reg};
  rc = cf_dag_load(path, &o, &lr->dag, &diags);
  if (rc < 0) {
    *errmsg = cf_asprintf("%s does not load (%zu problems)", path, diags.n);
    cf_diags_release(&diags);
    goto fail;
  }
  cf_diags_release(&diags);
  if ((rc = cf_store_run_get_pk(l->st, pk, &run)) < 0) goto fail;
  /* the same lock cf_runner_lock takes, held while the run is driven */
  struct cf_runner tmp = {0};
  tmp.cli = l->cli;
  tmp.dag = lr->dag;
  lr->lock = cf_runner_lock(&tmp, run.logical_date);
  if (lr->lock < 0) {
    rc = CF_EBUSY;
    goto fail;
  }
  cf_run_row_release(&run);
  cf_free(path);
  if (active_of(l, lr->dag->id) >= lr->dag->max_active_runs) {
    struct local_run **p = &l->queue;
    while (*p) p = &(*p)->next;
    *p = lr;
    return 0;
  }
  if ((rc = start(l, lr)) < 0) local_run_free(lr);
  return rc;
fail:
  cf_run_row_release(&run);
  cf_free(path);
  local_run_free(lr);
  return rc;
}

struct handoff {
  uv_work_t work;
  struct web_local *l;
  char *dag_id, *home;
  int64_t pk;
  int ok;
  char reply[CF_CONTROL_MAX_LINE];
};

/* Thread pool: the control request blocks (up to its timeout). */
static void handoff_work(uv_work_t *w) {
  struct handoff *h = (struct handoff *)w;
  json_t *req = json_pack("{s:s, s:s}", "op", "drive", "dag", h->dag_id);
  char *line = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (line && cf_control_request(h->home, line, h->reply, sizeof h->reply,
                                 5000) == 0) {
    json_t *rep = json_loads(h->reply, 0, NULL);
    h->ok = json_is_true(json_object_get(rep, "ok"));
    json_decref(rep);
  }
  free(line);
}

static void handoff_done(uv_work_t *w, int status) {
  struct handoff *h = (struct handoff *)w;
  char *err = NULL;
  if (!h->ok && status == 0 && !h->l->stopping) {
    /* the daemon did not take it (e.g. it is gone): drive it here */
    fprintf(stderr, "costflow web: scheduler did not take run %lld (%s); "
            "driving it here\n", (long long)h->pk, h->reply);
    if (local_drive(h->l, h->dag_id, h->pk, &err) < 0)
      fprintf(stderr, "costflow web: cannot drive run %lld: %s\n",
              (long long)h->pk, err ? err : "busy");
    cf_free(err);
  }
  cf_free(h->dag_id);
  cf_free(h->home);
  cf_free(h);
}

/* cf_web_submit_fn for the standalone server. */
static int local_submit(void *data, const char *dag_id, int64_t pk,
                        char **errmsg) {
  struct web_local *l = data;
  if (l->stopping) {
    *errmsg = cf_strdup("the server is shutting down");
    return CF_ESTATE;
  }
  if (!cf_runner_daemon_running(l->cli)) return local_drive(l, dag_id, pk,
                                                            errmsg);
  struct handoff *h = cf_calloc(1, sizeof *h);
  if (!h) return -ENOMEM;
  h->l = l;
  h->pk = pk;
  h->dag_id = cf_strdup(dag_id);
  h->home = cf_strdup(l->cli->home);
  int rc = h->dag_id && h->home
               ? uv_queue_work(l->loop, &h->work, handoff_work, handoff_done)
               : -ENOMEM;
  if (rc < 0) {
    cf_free(h->dag_id);
    cf_free(h->home);
    cf_free(h);
    return local_drive(l, dag_id, pk, errmsg);
  }
  return 0;
}

static void on_signal(uv_signal_t *h, int sig) {
  struct web_local *l = h->data;
  (void)sig;
  if (l->stopping) return;
  l->stopping = 1;
  fprintf(stderr, "costflow web: stopping\n");
  while (l->queue) {
    struct local_run *lr = l->queue;
    l->queue = lr->next;
    local_run_free(lr);
  }
  cf_web_close(l->web);
  cf_exec_stop(l->x);
  uv_close((uv_handle_t *)&l->sigint, NULL);
  uv_close((uv_handle_t *)&l->sigterm, NULL);
}

static int parse_size(const char *s, uint64_t *out) {
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s) return -1;
  if (*end == 'K' || *end == 'k') { v <<= 10; end++; }
  else if (*end == 'M' || *end == 'm') { v <<= 20; end++; }
  else if (*end == 'G' || *end == 'g') { v <<= 30; end++; }
  if (*end || v == 0) return -1;
  *out = v;
  return 0;
}

int cmd_web(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"listen", required_argument, 0, 'l'},
    {"token-file", required_argument, 0, 't'},
    {"landing", required_argument, 0, 'L'},
    {"warehouse", required_argument, 0, 'w'},
    {"auth-reads", no_argument, 0, 'a'}, {"no-auth", no_argument, 0, 'N'},
    {"max-upload", required_argument, 0, 'u'},
    {"max-body", required_argument, 0, 'b'},
    {"max-conns", required_argument, 0, 'c'},
    {"header-timeout", required_argument, 0, 'H'},
    {"body-timeout", required_argument, 0, 'B'},
    {"allowed-host", required_argument, 0, 'A'},
    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  struct cf_web_opts o = {0};
  uint64_t sz = 0;
  int c;
  o.listen = "127.0.0.1:8080";
  while ((c = getopt_long(argc, argv, "l:t:L:w:aNu:b:c:H:B:A:h", opts, NULL))
         != -1) {
    switch (c) {
    case 'A':
      if (!cf_web_hosts_valid(optarg))
        return cf_cli_error(CF_EXIT_USAGE, "--allowed-host: '%s' is not a "
                            "comma list of host names", optarg);
      o.allowed_hosts = optarg;
      break;
    case 'l': o.listen = optarg; break;
    case 't': o.token_file = optarg; break;
    case 'L': o.landing_dir = optarg; break;
    case 'w': o.warehouse = optarg; break;
    case 'a': o.auth_reads = 1; break;
    case 'N': o.no_auth = 1; break;
    case 'u':
    case 'b':
      if (parse_size(optarg, &sz) < 0)
        return cf_cli_error(CF_EXIT_USAGE, "bad size '%s'", optarg);
      if (c == 'u') o.max_upload = sz;
      else o.max_body = (size_t)sz;
      break;
    case 'c': o.max_conns = atoi(optarg); break;
    case 'H':
    case 'B':
      if (cf_duration_parse(optarg, c == 'H' ? &o.header_timeout_ms
                                             : &o.body_timeout_ms) < 0)
        return cf_cli_error(CF_EXIT_USAGE, "bad duration '%s'", optarg);
      break;
    case 'h': fputs(usage, stdout); return CF_EXIT_OK;
    default: fputs(usage, stderr); return CF_EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fputs(usage, stderr);
    return CF_EXIT_USAGE;
  }
  struct cf_runner r;
  struct web_local l = {0};
  int code = cf_runner_open(&r, cli, NULL);
  if (code) goto done;
  if (uv_loop_init(&r.loop) < 0) {
    code = CF_EXIT_FAIL;
    goto done;
  }
  r.loop_init = 1;
  l.cli = cli;
  l.loop = &r.loop;
  l.st = r.st;
  l.reg = r.reg;
  struct cf_exec_opts xo = {0};
  xo.home = cli->home;
  xo.exe = cli->exe;
  xo.plugin_path = cli->plugin_path;
  const char *grace = getenv("COSTFLOW_KILL_GRACE_MS");
  xo.kill_grace_ms = grace ? atoll(grace) : 0;
  if (cf_exec_new(&r.loop, r.st, &xo, &r.x) < 0) {
    code = cf_cli_error(CF_EXIT_FAIL, "cannot start the executor");
    goto done;
  }
  l.x = r.x;
  o.home = cli->home;
  o.dags_dir = cli->dags_dir;
  o.plugin_path = cli->plugin_path;
  o.submit = local_submit;
  o.submit_data = &l;
  if (cf_web_start(&r.loop, r.st, &o, &l.web) < 0) {
    uv_run(&r.loop, UV_RUN_DEFAULT);   /* let the closed handle go */
    code = CF_EXIT_USAGE;
    goto done;
  }
  fprintf(stderr, "costflow web: listening on http://%s/\n",
          cf_web_address(l.web));
  uv_signal_init(&r.loop, &l.sigint);
  uv_signal_init(&r.loop, &l.sigterm);
  l.sigint.data = l.sigterm.data = &l;
  uv_signal_start(&l.sigint, on_signal, SIGINT);
  uv_signal_start(&l.sigterm, on_signal, SIGTERM);
  uv_run(&r.loop, UV_RUN_DEFAULT);
  while (l.active) {   /* left unfinished by the stop: resumable later */
    struct local_run *lr = l.active;
    l.active = lr->next;
    local_run_free(lr);
  }
done:
  cf_runner_close(&r);
  return code;
}
