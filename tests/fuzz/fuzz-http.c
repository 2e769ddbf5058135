/* Fuzz target: the HTTP request path of the web server: http_parser, the
 * size limits, keep-alive and pipelining, the router, auth/CSRF checks and
 * every API handler, on a real server object (temp home, store and DAG
 * folder). The input is what one client sends on one connection; it is fed
 * through a socketpair with cf__web_serve_fd (no TCP), the client side
 * shuts down its write half and reads until the server hangs up. */
#include "fuzz_util.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "costflow/store.h"
#include "runner.h"
#include "web-int.h"

#define TOKEN "fuzztoken0123456789abcdef"

static uv_loop_t loop;
static struct cf_store *st;
static struct cf_web *web;
static struct cf_web_opts o;
static char home[256], dags[256], landing[256];
static unsigned long iterations;

static int submit(void *data, const char *dag_id, int64_t run_pk,
                  char **errmsg) {
  (void)data;
  (void)dag_id;
  (void)run_pk;
  (void)errmsg;
  return 0;                     /* accepted; nobody drives the run */
}

static void put(const char *path, const char *text, int mode) {
  FILE *f = fopen(path, "wb");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) abort();
  if (chmod(path, (mode_t)mode) < 0) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(home, sizeof home, "%s", fz_path("home"));
  snprintf(dags, sizeof dags, "%s", fz_path("dags"));
  snprintf(landing, sizeof landing, "%s/landing", home);
  if (mkdir(home, 0700) < 0 || mkdir(dags, 0700) < 0 ||
      mkdir(landing, 0700) < 0)
    abort();
  char p[512];
  snprintf(p, sizeof p, "%s/web.token", home);
  put(p, TOKEN "\n", 0600);
  snprintf(p, sizeof p, "%s/d1.yaml", dags);
  put(p, "dag: d1\nschedule: \"@daily\"\nstart_date: 2025-01-01\n"
      "params: {landing: /data}\n"
      "tasks:\n  a: {plugin: noop}\n  b: {plugin: noop, depends_on: [a]}\n",
      0644);
  snprintf(p, sizeof p, "%s/broken.yaml", dags);
  put(p, "dag: broken\ntasks: [\n", 0644);
  char *err = NULL;
  snprintf(p, sizeof p, "%s/state.db", home);
  if (cf_store_open(p, &st, &err) < 0) abort();
  if (uv_loop_init(&loop) < 0) abort();
  o.listen = "127.0.0.1:0";
  o.home = home;
  o.dags_dir = dags;
  o.max_body = 64 << 10;
  o.max_upload = 1 << 20;
  o.submit = submit;
  o.log = stderr;
  if (cf_web_start(&loop, st, &o, &web) < 0) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
  if (fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) abort();
  int base = web->nconns;
  if (cf__web_serve_fd(web, sv[0]) < 0) abort();
  size_t off = 0;
  int shut = 0, eof = 0;
  char buf[65536];
  int64_t start = cf_mono_ms();
  while (!eof || web->nconns > base) {
    if (off < size) {
      ssize_t n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
      if (n > 0) off += (size_t)n;
      else if (n < 0 && errno != EAGAIN && errno != EPIPE &&
               errno != ECONNRESET)
        abort();
      else if (n < 0 && errno != EAGAIN)
        off = size;             /* the server hung up early */
    }
    if (off == size && !shut) {
      shutdown(sv[1], SHUT_WR);
      shut = 1;
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    while (!eof) {
      ssize_t n = read(sv[1], buf, sizeof buf);
      if (n > 0) continue;
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = 1;
      break;
    }
    /* the server must hang up soon after the client's EOF: its timers
     * are seconds long, so anything near them is a hang */
    if (cf_mono_ms() - start > 4000) {
      fprintf(stderr, "fuzz-http: connection still open after 4 s\n");
      abort();
    }
  }
  close(sv[1]);
  /* uploads land here; keep the disk use bounded */
  if (++iterations % 512 == 0) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.[!.]* 2>/dev/null",
             landing, landing);
    if (system(cmd) != 0) { /* nothing to remove */ }
  }
  return 0;
}
