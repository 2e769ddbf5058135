/* Run/task state machine and process-isolated executor (see executor.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include "costflow/common.h"
#include "costflow/plugin_host.h"
#include "executor.h"
#include "proc_group.h"
#include "wal_checkpoint.h"

extern char **environ;

struct xrun;

/* One task instance of a run being driven. */
struct xti {
  struct xrun *run;
  size_t idx;                  /* index into dag->tasks */
  struct cf_ti_row row;        /* write-through copy of the store row */
  int queued;                  /* in x->ready */
  /* upstreams that have ended, and how (decide() reads these counts) */
  size_t up_done, up_ok, up_skipped;
  /* live attempt */
  int active;                  /* child running or handles still open */
  uv_signal_t chld;             /* SIGCHLD watcher of this attempt */
  pid_t pid;                   /* child (session leader), 0 if none */
  uv_pipe_t out, err, res;
  uv_timer_t kill_timer, retry_timer;
  int timers_init;
  int open_handles;            /* chld + pipes not yet closed */
  int exited, term_signal;
  int64_t exit_status;
  int64_t spawn_us, exit_us;   /* hand-off instrumentation */
  int timed_out, overflowed, interrupted;
  int permanent;               /* failure no retry can fix (templates) */
  char *log_error;             /* the log could not be opened: the attempt
                                  was stopped and fails with this reason */
  int log_fd;
  int64_t log_bytes;
  struct cf_buf result;
  int64_t attempt_pk;
};

struct xrun {
  struct cf_exec *x;
  struct cf_dag *dag;
  struct cf_run_row run;
  json_t *params;              /* DAG params overridden by run conf */
  struct xti *tis;
  size_t n;
  /* kept by set_state()/set_active() so that the end of a run is seen
   * without looking at every task */
  size_t nterminal, nfailed, nactive;
  int finished;
  int open_timers;             /* timers not yet closed */
  cf_run_done_cb on_done;
  void *data;
  struct xrun *next;
};

struct pool {
  char *name;
  int slots, used;
};

/* A growable list of task instances. */
struct xti_list {
  struct xti **v;
  size_t n, alloc;
};

struct cf_exec {
  uv_loop_t *loop;
  struct cf_store *st;
  struct cf_exec_opts o;
  char *plugin_env;            /* "COSTFLOW_PLUGIN_PATH=..." */
  char *task_exe;              /* what a task attempt runs */
  struct xrun *runs;
  struct xti_list ready;       /* FIFO of tasks waiting for a slot */
  /* scratch of settle(): tasks to decide, tasks it changed, tasks it
   * found ready (empty between calls) */
  struct xti_list work, changed, fresh;
  struct cf_wal_checkpointer *checkpointer;
  int running;
  int draining;                /* start nothing new, let attempts end */
  int stopping;
  struct pool *pools;
  size_t npools;
};

static void settle(struct xrun *r);
static int save_changed(struct cf_exec *x);
static void evaluate(struct xrun *r);
static void release(struct xrun *r);
static void dispatch(struct cf_exec *x);

static const char *ST_NONE = "none", *ST_QUEUED = "queued",
                  *ST_RUNNING = "running", *ST_SUCCESS = "success",
                  *ST_FAILED = "failed", *ST_RETRY = "up_for_retry",
                  *ST_UPFAILED = "upstream_failed", *ST_SKIPPED = "skipped";

static int is(const struct xti *t, const char *s) {
  return !strcmp(t->row.state, s);
}

static int terminal_state(const char *s) {
  return s && (!strcmp(s, ST_SUCCESS) || !strcmp(s, ST_FAILED) ||
               !strcmp(s, ST_UPFAILED) || !strcmp(s, ST_SKIPPED));
}

static int terminal(const struct xti *t) {
  return terminal_state(t->row.state);
}

/* Adds (d = 1) or removes (d = -1) t's state `s` to the run's counts and
 * to the upstream counts of t's downstream tasks. */
static void count_state(struct xti *t, const char *s, int d) {
  if (!terminal_state(s)) return;
  struct xrun *r = t->run;
  const struct cf_task *task = &r->dag->tasks[t->idx];
  int ok = !strcmp(s, ST_SUCCESS), skipped = !strcmp(s, ST_SKIPPED);
  r->nterminal += (size_t)d;
  if (!ok && !skipped) r->nfailed += (size_t)d;
  for (size_t i = 0; i < task->ndown; i++) {
    struct xti *down = &r->tis[task->down_idx[i]];
    down->up_done += (size_t)d;
    if (ok) down->up_ok += (size_t)d;
    if (skipped) down->up_skipped += (size_t)d;
  }
}

static void set_state(struct xti *t, const char *s) {
  char *c = cf_strdup(s);
  if (!c) return;
  count_state(t, t->row.state, -1);
  count_state(t, c, 1);
  cf_free(t->row.state);
  t->row.state = c;
}

static void set_active(struct xti *t, int active) {
  if (t->active == active) return;
  t->active = active;
  if (active) t->run->nactive++;
  else t->run->nactive--;
}

static int list_push(struct xti_list *l, struct xti *t) {
  if (l->n == l->alloc &&
      cf_grow(&l->v, &l->alloc, l->n + 1, sizeof *l->v, 64) < 0)
    return -ENOMEM;
  l->v[l->n++] = t;
  return 0;
}

/* Puts t's downstream tasks up for a decision (t has just ended). */
static void push_downstream(struct xti *t) {
  struct xrun *r = t->run;
  const struct cf_task *task = &r->dag->tasks[t->idx];
  for (size_t i = 0; i < task->ndown; i++)
    list_push(&r->x->work, &r->tis[task->down_idx[i]]);
}

static void set_reason(struct xti *t, const char *reason) {
  cf_free(t->row.reason);
  t->row.reason = reason ? cf_strdup(reason) : NULL;
}

static void log_store_error(struct cf_exec *x, const char *what) {
  fprintf(stderr, "costflow: store: %s: %s\n", what,
          cf_store_errmsg(x->st));
}

static void save_ti(struct xti *t) {
  if (cf_store_ti_update(t->run->x->st, &t->row) < 0)
    log_store_error(t->run->x, "update task instance");
}

/* ---- lifecycle -------------------------------------------------------- */

/* costflow-task beside the costflow binary if it is there (a fraction of
 * costflow's start-up cost), else costflow itself: both take the same
 * "task-run ..." arguments. NULL only when out of memory. */
static char *task_executable(const char *exe) {
  const char *slash = strrchr(exe, '/');
  char *lean = slash ? cf_asprintf("%.*s/costflow-task", (int)(slash - exe),
                                   exe)
                     : NULL;
  if (lean && access(lean, X_OK) == 0) return lean;
  cf_free(lean);
  return cf_strdup(exe);
}

int cf_exec_new(uv_loop_t *loop, struct cf_store *st,
                const struct cf_exec_opts *opts, struct cf_exec **out) {
  struct cf_exec *x = cf_calloc(1, sizeof *x);
  if (!x) return -ENOMEM;
  x->loop = loop;
  x->st = st;
  x->o = *opts;
  if (x->o.parallelism <= 0) x->o.parallelism = 32;
  if (x->o.kill_grace_ms <= 0) x->o.kill_grace_ms = 5000;
  if (x->o.log_limit <= 0) x->o.log_limit = 64ll << 20;
  if (x->o.min_free == 0) x->o.min_free = 8ll << 20;
  if (opts->plugin_path)
    x->plugin_env = cf_asprintf("COSTFLOW_PLUGIN_PATH=%s", opts->plugin_path);
  x->task_exe = task_executable(x->o.exe);
  /* if it cannot (in-memory store), SQLite keeps checkpointing on commit */
  cf_wal_checkpointer_start(loop, cf_store_db(st), &x->checkpointer);
  *out = x;
  return 0;
}

static void free_run(struct xrun *r) {
  for (size_t i = 0; i < r->n; i++) {
    cf_ti_row_release(&r->tis[i].row);
    cf_buf_release(&r->tis[i].result);
    cf_free(r->tis[i].log_error);
  }
  cf_free(r->tis);
  json_decref(r->params);
  cf_run_row_release(&r->run);
  cf_free(r);
}

void cf_exec_free(struct cf_exec *x) {
  if (!x) return;
  cf_wal_checkpointer_stop(x->checkpointer);   /* may run the loop once */
  while (x->runs) {
    struct xrun *r = x->runs;
    x->runs = r->next;
    free_run(r);
  }
  for (size_t i = 0; i < x->npools; i++) cf_free(x->pools[i].name);
  cf_free(x->pools);
  cf_free(x->ready.v);
  cf_free(x->work.v);
  cf_free(x->changed.v);
  cf_free(x->fresh.v);
  cf_free(x->plugin_env);
  cf_free(x->task_exe);
  cf_free(x);
}

int cf_exec_active_runs(const struct cf_exec *x) {
  int n = 0;
  for (struct xrun *r = x->runs; r; r = r->next) n += !r->finished;
  return n;
}

static struct pool *pool_get(struct cf_exec *x, const char *name, int slots) {
  for (size_t i = 0; i < x->npools; i++)
    if (!strcmp(x->pools[i].name, name)) {
      if (slots > 0) x->pools[i].slots = slots;
      return &x->pools[i];
    }
  struct pool *v = cf_realloc(x->pools, (x->npools + 1) * sizeof *v);
  if (!v) return NULL;
  x->pools = v;
  v[x->npools] = (struct pool){cf_strdup(name), slots > 0 ? slots : 1, 0};
  return &v[x->npools++];
}

/* ---- finishing runs ---------------------------------------------------- */

static void unlink_and_free(struct xrun *r) {
  struct cf_exec *x = r->x;
  for (struct xrun **pp = &x->runs; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  free_run(r);
}

/* A finished run is freed once its last timer handle has closed. */
static void timer_closed(uv_handle_t *h) {
  struct xti *t = h->data;
  struct xrun *r = t->run;
  if (--r->open_timers == 0 && r->finished) unlink_and_free(r);
}

static void maybe_finish_run(struct xrun *r) {
  if (r->finished) return;
  int all_done = r->nterminal == r->n, failed = r->nfailed > 0,
      busy = r->nactive > 0;
  struct cf_exec *x = r->x;
  const char *state;
  if (all_done && !busy) {
    state = failed ? ST_FAILED : ST_SUCCESS;
    if (cf_store_run_set_state(x->st, r->run.id, state) < 0)
      log_store_error(x, "set run state");
    cf_store_event(x->st, r->dag->id, r->run.id, NULL,
                   failed ? "run_failed" : "run_succeeded", NULL);
  } else if ((x->stopping || x->draining) && !busy) {
    state = ST_RUNNING;         /* left for the next start to resume */
  } else {
    return;
  }
  r->finished = 1;
  /* drop queued entries of this run */
  size_t w = 0;
  for (size_t i = 0; i < x->ready.n; i++)
    if (x->ready.v[i]->run != r) x->ready.v[w++] = x->ready.v[i];
  x->ready.n = w;
  r->on_done(x, r->run.id, state, r->data);
  if (r->open_timers == 0) {
    unlink_and_free(r);
    return;
  }
  for (size_t i = 0; i < r->n; i++)
    if (r->tis[i].timers_init) {
      uv_close((uv_handle_t *)&r->tis[i].kill_timer, timer_closed);
      uv_close((uv_handle_t *)&r->tis[i].retry_timer, timer_closed);
      r->tis[i].timers_init = 0;
    }
}

/* ---- attempts ---------------------------------------------------------- */

static void init_timers(struct xti *t) {
  if (t->timers_init) return;
  uv_timer_init(t->run->x->loop, &t->kill_timer);
  uv_timer_init(t->run->x->loop, &t->retry_timer);
  t->kill_timer.data = t->retry_timer.data = t;
  t->timers_init = 1;
  t->run->open_timers += 2;
}

static int64_t retry_delay_ms(const struct cf_task *task, int try_number) {
  int64_t d = task->retry_delay_ms;
  if (task->retry_exponential)
    for (int i = 1; i < try_number && d < task->max_retry_delay_ms; i++)
      d *= 2;
  if (task->max_retry_delay_ms > 0 && d > task->max_retry_delay_ms)
    d = task->max_retry_delay_ms;
  return d;
}

static void retry_due(uv_timer_t *h) {
  struct xti *t = h->data;
  if (!is(t, ST_RETRY) || t->run->x->stopping) return;
  set_state(t, ST_NONE);
  t->row.next_retry_us = 0;
  list_push(&t->run->x->changed, t);
  list_push(&t->run->x->work, t);
  evaluate(t->run);
}

/* Applies a failed attempt: up_for_retry if tries remain, else failed. */
static void fail_or_retry(struct xti *t, const char *reason, int retryable) {
  const struct cf_task *task = &t->run->dag->tasks[t->idx];
  set_reason(t, reason);
  if (retryable && !t->permanent && t->row.try_number < t->row.max_tries) {
    int64_t d = retry_delay_ms(task, t->row.try_number);
    set_state(t, ST_RETRY);
    t->row.next_retry_us = cf_store_now_us() + d * 1000;
    init_timers(t);
    uv_timer_start(&t->retry_timer, retry_due, (uint64_t)d, 0);
  } else {
    set_state(t, ST_FAILED);
  }
}

static void finalize_attempt(struct xti *t) {
  struct xrun *r = t->run;
  struct cf_exec *x = r->x;
  const struct cf_task *task = &r->dag->tasks[t->idx];
  if (t->log_fd >= 0) close(t->log_fd);
  t->log_fd = -1;
  set_active(t, 0);
  x->running--;
  if (task->pool) {
    struct pool *p = pool_get(x, task->pool, 0);
    if (p) p->used--;
  }
  t->row.end_us = cf_store_now_us();
  t->row.exit_code = t->term_signal ? -1 : (int)t->exit_status;
  t->row.signal = t->term_signal ? t->term_signal : -1;

  char reason[256] = "";
  const char *attempt_state = ST_FAILED;
  /* result channel: "ok|fail|retry|skip\n[message]" */
  char *res = t->result.buf, *msg = strchr(res, '\n');
  if (msg) *msg++ = '\0';
  if (msg) {
    size_t ml = strlen(msg);
    while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == '\r')) msg[--ml] = 0;
  }

  if (t->interrupted && x->stopping) {
    snprintf(reason, sizeof reason, "interrupted by shutdown");
    set_reason(t, reason);
    set_state(t, ST_NONE);     /* resumed by the next start */
  } else if (t->log_error) {
    snprintf(reason, sizeof reason, "%s", t->log_error);
    fail_or_retry(t, reason, 1);
  } else if (t->timed_out) {
    snprintf(reason, sizeof reason, "timed out after %lld s",
             (long long)(task->timeout_ms / 1000));
    fail_or_retry(t, reason, 1);
  } else if (t->overflowed) {
    snprintf(reason, sizeof reason,
             "log output limit exceeded (%lld bytes)",
             (long long)x->o.log_limit);
    fail_or_retry(t, reason, 1);
  } else if (t->term_signal) {
    snprintf(reason, sizeof reason, "killed by signal %d (%s)",
             t->term_signal, strsignal(t->term_signal));
    fail_or_retry(t, reason, 1);
  } else if (!res[0]) {
    if (t->exit_status)
      snprintf(reason, sizeof reason,
               "exited with status %lld without a result",
               (long long)t->exit_status);
    else
      snprintf(reason, sizeof reason, "exited without a result");
    fail_or_retry(t, reason, 1);
  } else if (!strcmp(res, "ok") && t->exit_status == 0) {
    attempt_state = ST_SUCCESS;
    set_state(t, ST_SUCCESS);
    set_reason(t, NULL);
  } else if (!strcmp(res, "skip")) {
    attempt_state = ST_SKIPPED;
    set_state(t, ST_SKIPPED);
    set_reason(t, msg && *msg ? msg : "plugin skipped");
    snprintf(reason, sizeof reason, "%s", t->row.reason);
  } else if (!strcmp(res, "retry")) {
    snprintf(reason, sizeof reason, "not ready, retry requested%s%.200s",
             msg && *msg ? ": " : "", msg ? msg : "");
    fail_or_retry(t, reason, 1);
  } else if (!strcmp(res, "fail")) {
    snprintf(reason, sizeof reason, "%.250s",
             msg && *msg ? msg : "plugin returned fail");
    fail_or_retry(t, reason, 1);
  } else {
    snprintf(reason, sizeof reason, "bad result '%.32s' (exit %lld)", res,
             (long long)t->exit_status);
    fail_or_retry(t, reason, 1);
  }
  t->row.pid = 0;
  t->row.pid_start = 0;
  cf_free(t->log_error);
  t->log_error = NULL;
  /* what this end decides for the downstream tasks is stored in the same
   * transaction as the end itself */
  if (terminal(t)) push_downstream(t);
  else if (is(t, ST_NONE)) list_push(&x->work, t);
  settle(r);
  /* one transaction; a second try covers a disk that filled up (the
   * store then frees its reserve, see core/store.c) */
  int saved = 0;
  for (int i = 0; i < 2 && !saved; i++) {
    if (cf_store_begin(x->st) < 0) continue;
    saved = cf_store_attempt_finish(x->st, t->attempt_pk, attempt_state,
                                    t->row.exit_code, t->row.signal,
                                    reason[0] ? reason : NULL) == 0 &&
            cf_store_attempt_set_times(x->st, t->attempt_pk, t->spawn_us,
                                       t->exit_us) == 0 &&
            cf_store_ti_update(x->st, &t->row) == 0 &&
            save_changed(x) == 0 &&
            cf_store_commit(x->st) == 0;
    if (!saved) cf_store_rollback(x->st);
  }
  if (!saved) log_store_error(x, "record the attempt's end");
  cf_buf_release(&t->result);
  release(r);
}

static void handle_closed(uv_handle_t *h) {
  struct xti *t = h->data;
  if (--t->open_handles == 0) finalize_attempt(t);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char slab[65536];      /* single-threaded loop: one slab is safe */
  (void)h;
  (void)suggested;
  buf->base = slab;
  buf->len = sizeof slab;
}

static void kill_group(struct xti *t, int sig) {
  if (t->pid > 0) kill(-t->pid, sig);
}

static void on_log_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct xti *t = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)s, handle_closed);
    return;
  }
  if (n == 0 || t->overflowed) return;
  int64_t limit = t->run->x->o.log_limit;
  size_t keep = (size_t)n;
  if (t->log_bytes + n > limit) {
    keep = (size_t)(limit - t->log_bytes);
    t->overflowed = 1;
    kill_group(t, SIGKILL);
  }
  /* Appends to the page cache; never blocks on a local disk in practice. */
  if (t->log_fd >= 0 && keep && write(t->log_fd, buf->base, keep) < 0) {
    t->overflowed = 1;          /* disk full: stop the attempt */
    kill_group(t, SIGKILL);
  }
  t->log_bytes += (int64_t)keep;
}

static void on_result_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct xti *t = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)s, handle_closed);
    return;
  }
  if (n > 0 && t->result.len < 4096) cf_buf_add(&t->result, buf->base,
                                                 (size_t)n);
}

/* SIGCHLD: every attempt's watcher looks at its own child only (never
 * waitpid(-1), which would steal other children of the process). */
static void on_sigchld(uv_signal_t *h, int signum) {
  struct xti *t = h->data;
  int st;
  (void)signum;
  if (t->pid <= 0 || t->exited) return;
  pid_t r;
  do r = waitpid(t->pid, &st, WNOHANG); while (r < 0 && errno == EINTR);
  if (r != t->pid) return;
  t->exit_us = cf_store_now_us();
  t->exited = 1;
  t->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
  t->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  /* leftovers of the group (e.g. a shell's children) die with it, so
   * nothing keeps writing after the attempt is over */
  kill(-t->pid, SIGKILL);
  if (t->timers_init) uv_timer_stop(&t->kill_timer);
  uv_signal_stop(h);
  uv_close((uv_handle_t *)h, handle_closed);
}

/* Starts the task child with posix_spawn (vfork-like: the parent's memory
 * is not copied, which is what uv_spawn's fork costs on every hand-off):
 * stdin /dev/null, stdout/stderr/fd 3 to the pipes' write ends, its own
 * session (setsid), default signal dispositions and an empty mask.
 * Returns 0 or a negative errno; wfd[] are closed either way. */
static int spawn_child(const char *exe, char **args, char **env, int wfd[3],
                       pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, all;
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc) goto out_fds;
  rc = posix_spawnattr_init(&at);
  if (rc) goto out_fa;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  for (int i = 0; i < 3 && !rc; i++)
    rc = posix_spawn_file_actions_adddup2(&fa, wfd[i], i + 1);
  if (!rc) rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
                                                   POSIX_SPAWN_SETSIGMASK |
                                                   POSIX_SPAWN_SETSIGDEF);
  if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
  if (!rc) rc = posix_spawnattr_setsigdefault(&at, &all);
  if (!rc) rc = posix_spawn(pid, exe, &fa, &at, args, env);
  posix_spawnattr_destroy(&at);
out_fa:
  posix_spawn_file_actions_destroy(&fa);
out_fds:
  for (int i = 0; i < 3; i++)
    if (wfd[i] >= 0) close(wfd[i]);
  return -rc;
}

/* A pipe for one child output: *rfd for us (close-on-exec), *wfd for the
 * child, moved above 10 so the dup2 to 1..3 never lands on itself. */
static int out_pipe(int *rfd, int *wfd) {
  int p[2];
  *rfd = *wfd = -1;
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  int w = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
  int e = errno;
  close(p[1]);
  if (w < 0) {
    close(p[0]);
    return -e;
  }
  *rfd = p[0];
  *wfd = w;
  return 0;
}

static void kill_escalate(uv_timer_t *h) {
  struct xti *t = h->data;
  kill_group(t, SIGKILL);
}

static void timeout_fired(uv_timer_t *h) {
  struct xti *t = h->data;
  t->timed_out = 1;
  kill_group(t, SIGTERM);
  uv_timer_start(&t->kill_timer, kill_escalate,
                 (uint64_t)t->run->x->o.kill_grace_ms, 0);
}

/* A disk that is (nearly) full fails the attempt before it starts, with a
 * reason an operator can act on, and leaves room for the store to record
 * it; NULL if there is room. */
static char *disk_full_reason(struct cf_exec *x) {
  struct statvfs sv;
  if (x->o.min_free < 0) return NULL;
  if (!cf_store_reserve_ok(x->st))
    return cf_asprintf("disk full: the store under %s has used its "
                       "reserve; free some space", x->o.home);
  if (statvfs(x->o.home, &sv) < 0) return NULL;
  int64_t free_bytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
  if (free_bytes >= x->o.min_free) return NULL;
  return cf_asprintf("disk full: %lld bytes free under %s, %lld needed to "
                     "start a task (COSTFLOW_MIN_FREE)",
                     (long long)free_bytes, x->o.home,
                     (long long)x->o.min_free);
}

/* $HOME/logs/DAG/DATE/TASK/TRY.log */
static char *log_path_for(struct xrun *r, struct xti *t) {
  char ds[11];
  cf_date_format(r->run.logical_date, ds);
  return cf_asprintf("%s/logs/%s/%s/%s/%d.log", r->x->o.home, r->dag->id, ds,
                     t->row.task_id, t->row.try_number);
}

/* Opens an attempt's log, creating its folder (cf_mkdir_p: one mkdir when
 * only the task's own folder is missing). Returns the fd or a negative
 * errno. */
static int open_log(const char *path) {
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC;
  int fd = open(path, flags, 0644);
  if (fd >= 0 || errno != ENOENT) return fd >= 0 ? fd : -errno;
  char *dir = cf_strdup(path);
  if (!dir) return -ENOMEM;
  *strrchr(dir, '/') = '\0';
  int rc = cf_mkdir_p(dir, 0755);
  cf_free(dir);
  if (rc < 0) return rc;
  fd = open(path, flags, 0644);
  return fd >= 0 ? fd : -errno;
}

/* An attempt that never ran still leaves its reason in its log, where
 * `costflow logs` looks (the attempt row names the file). Cold path. */
static void note_in_log(const char *path, const char *reason) {
  int fd = path ? open_log(path) : -1;
  if (fd < 0) return;
  dprintf(fd, "costflow: %s\n", reason);
  close(fd);
}

/* Renders the task's params for this run; NULL + *err on failure. */
static char *render_params(struct xrun *r, struct xti *t, char **err) {
  const struct cf_task *task = &r->dag->tasks[t->idx];
  struct cf_template_vars v = {0};
  v.dag = r->dag->id;
  v.task = task->id;
  v.run_id = r->run.run_id;
  v.ds = r->run.logical_date;
  if (cf_dag_prev_date(r->dag, v.ds, &v.prev_ds) < 0) v.prev_ds = v.ds - 1;
  if (cf_dag_next_date(r->dag, v.ds, &v.next_ds) < 0) v.next_ds = v.ds + 1;
  v.params = r->params;
  json_t *out = cf_template_render_json(task->params, &v, err);
  if (!out) return NULL;
  char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(out);
  return s;
}

static void launch(struct xti *t) {
  struct xrun *r = t->run;
  struct cf_exec *x = r->x;
  const struct cf_task *task = &r->dag->tasks[t->idx];
  char *err = NULL, *params = render_params(r, t, &err);
  char *log_path = NULL;
  char reason[300];

  x->running++;
  if (task->pool) {
    struct pool *p = pool_get(x, task->pool, 0);
    if (p) p->used++;
  }
  t->row.try_number++;
  t->row.start_us = cf_store_now_us();
  t->row.end_us = 0;
  t->row.exit_code = t->row.signal = -1;
  t->row.next_retry_us = 0;
  set_reason(t, NULL);
  set_state(t, ST_RUNNING);
  if (params) {
    cf_free(t->row.params);
    t->row.params = cf_strdup(params);
    free(params);
  }
  t->timed_out = t->overflowed = t->interrupted = t->permanent = 0;
  t->exited = t->term_signal = 0;
  t->exit_status = 0;
  t->spawn_us = t->exit_us = 0;
  t->log_bytes = 0;
  t->log_fd = -1;
  cf_buf_init(&t->result, 4096);

  if (!err) err = disk_full_reason(x);
  /* Even an attempt that cannot start gets its log path (note_in_log). */
  if (!(log_path = log_path_for(r, t)) && !err)
    err = cf_strdup("cannot open log (path): out of memory");
  if (cf_store_begin(x->st) == 0) {
    save_ti(t);
    if (cf_store_attempt_start(x->st, &t->row, log_path, &t->attempt_pk) < 0)
      log_store_error(x, "insert attempt");
    if (r->run.state && strcmp(r->run.state, ST_RUNNING)) {
      cf_store_run_set_state(x->st, r->run.id, ST_RUNNING);
      cf_free(r->run.state);
      r->run.state = cf_strdup(ST_RUNNING);
    }
    if (cf_store_commit(x->st) < 0) cf_store_rollback(x->st);
  }
  if (err) goto fail;

  char attempt[32], grace[32];
  snprintf(attempt, sizeof attempt, "%lld", (long long)t->attempt_pk);
  snprintf(grace, sizeof grace, "%d", getpid());
  const char *exe = x->task_exe ? x->task_exe : x->o.exe;
  char *args[] = {(char *)exe, "task-run", "--home", (char *)x->o.home,
                  "--attempt", attempt, "--dag-dir", r->dag->dir,
                  "--parent", grace, NULL};
  /* environment: ours, plus the plugin search path */
  size_t ne = 0;
  while (environ[ne]) ne++;
  char **env = cf_calloc(ne + 2, sizeof *env);
  if (!env) {
    err = cf_strdup("out of memory");
    goto fail;
  }
  size_t k = 0;
  for (size_t i = 0; i < ne; i++)
    if (!x->plugin_env || strncmp(environ[i], "COSTFLOW_PLUGIN_PATH=", 21))
      env[k++] = environ[i];
  if (x->plugin_env) env[k++] = x->plugin_env;

  uv_pipe_init(x->loop, &t->out, 0);
  uv_pipe_init(x->loop, &t->err, 0);
  uv_pipe_init(x->loop, &t->res, 0);
  uv_signal_init(x->loop, &t->chld);
  t->out.data = t->err.data = t->res.data = t->chld.data = t;
  t->pid = 0;
  /* The watcher is on before the child exists, so its SIGCHLD is seen. */
  int rc = uv_signal_start(&t->chld, on_sigchld, SIGCHLD);
  int rfd[3] = {-1, -1, -1}, wfd[3] = {-1, -1, -1};
  for (int i = 0; i < 3 && rc == 0; i++) rc = out_pipe(&rfd[i], &wfd[i]);
  if (rc == 0) rc = uv_pipe_open(&t->out, rfd[0]);
  if (rc == 0) rc = uv_pipe_open(&t->err, rfd[1]);
  if (rc == 0) rc = uv_pipe_open(&t->res, rfd[2]);
  if (rc == 0) {
    rfd[0] = rfd[1] = rfd[2] = -1;        /* owned by the pipes now */
    rc = spawn_child(exe, args, env, wfd, &t->pid);
  } else {
    for (int i = 0; i < 3; i++)
      if (wfd[i] >= 0) close(wfd[i]);
  }
  for (int i = 0; i < 3; i++)
    if (rfd[i] >= 0) close(rfd[i]);
  t->spawn_us = cf_store_now_us();
  cf_free(env);
  set_active(t, 1);
  t->open_handles = 4;
  if (rc < 0) {
    err = cf_asprintf("cannot start task process: %s", cf_strerror(rc));
    /* pipes were initialised: close them; finalize runs when they are */
    t->exited = 1;
    t->exit_status = 127;
    snprintf(reason, sizeof reason, "%s", err ? err : "cannot start");
    note_in_log(log_path, reason);
    cf_free(log_path);
    cf_free(err);
    cf_buf_reset(&t->result);
    cf_buf_adds(&t->result, "fail\n");
    cf_buf_adds(&t->result, reason);
    t->pid = 0;
    uv_close((uv_handle_t *)&t->chld, handle_closed);
    uv_close((uv_handle_t *)&t->out, handle_closed);
    uv_close((uv_handle_t *)&t->err, handle_closed);
    uv_close((uv_handle_t *)&t->res, handle_closed);
    return;
  }
  /* The log is opened now, while the child execs and links (milliseconds),
   * rather than on the hand-off path; its output waits in the pipes. If it
   * cannot be opened the attempt is stopped and fails with that reason. */
  int fd = open_log(log_path);
  if (fd >= 0) {
    t->log_fd = fd;
  } else {
    t->log_error = cf_asprintf("cannot open log %s: %s", log_path,
                               strerror(-fd));
    kill_group(t, SIGKILL);
  }
  cf_free(log_path);
  t->row.pid = t->pid;
  t->row.pid_start = cf_proc_start_time(t->pid);
  if (cf_store_begin(x->st) == 0) {
    cf_store_attempt_set_pid(x->st, t->attempt_pk, t->row.pid,
                             t->row.pid_start);
    save_ti(t);
    if (cf_store_commit(x->st) < 0) cf_store_rollback(x->st);
  }
  uv_read_start((uv_stream_t *)&t->out, alloc_cb, on_log_read);
  uv_read_start((uv_stream_t *)&t->err, alloc_cb, on_log_read);
  uv_read_start((uv_stream_t *)&t->res, alloc_cb, on_result_read);
  if (task->timeout_ms > 0) {
    init_timers(t);
    uv_timer_start(&t->kill_timer, timeout_fired, (uint64_t)task->timeout_ms,
                   0);
  }
  return;

fail:
  /* could not even start: the attempt fails without retry when the cause
   * is configuration (templates), with retry otherwise */
  snprintf(reason, sizeof reason, "%s", err ? err : "cannot start");
  int permanent = params == NULL;   /* a template error won't go away */
  note_in_log(log_path, reason);
  cf_free(err);
  cf_free(log_path);
  set_active(t, 1);
  t->open_handles = 0;
  cf_buf_reset(&t->result);
  t->permanent = permanent;
  cf_buf_adds(&t->result, "fail\n");
  cf_buf_adds(&t->result, reason);
  finalize_attempt(t);
}

/* ---- scheduling --------------------------------------------------------- */

enum decision { WAIT, READY, SKIP, UPFAIL };

/* From the upstream counts set_state() keeps: O(1) per decision. */
static enum decision decide(struct xrun *r, struct xti *t) {
  const struct cf_task *task = &r->dag->tasks[t->idx];
  size_t n = task->ndeps, done = t->up_done, ok = t->up_ok,
         skipped = t->up_skipped;
  size_t bad = done - ok - skipped;   /* failed or upstream_failed */
  int all = done == n;
  switch (task->trigger_rule) {
  case CF_TRIGGER_ALWAYS: return READY;
  case CF_TRIGGER_ALL_SUCCESS:
    if (bad) return UPFAIL;
    if (!all) return WAIT;
    return skipped ? SKIP : READY;
  case CF_TRIGGER_ALL_DONE: return all ? READY : WAIT;
  case CF_TRIGGER_ALL_FAILED:
    if (ok || skipped) return SKIP;
    return all ? READY : WAIT;
  case CF_TRIGGER_ONE_SUCCESS:
    if (ok) return READY;
    if (!all) return WAIT;
    return bad ? UPFAIL : SKIP;
  case CF_TRIGGER_ONE_FAILED:
    if (bad) return READY;
    return all ? SKIP : WAIT;
  case CF_TRIGGER_NONE_FAILED:
    if (bad) return UPFAIL;
    return all ? READY : WAIT;
  }
  return WAIT;
}

static void enqueue(struct cf_exec *x, struct xti *t) {
  if (t->queued) return;
  if (list_push(&x->ready, t) == 0) t->queued = 1;  /* sized: never fails */
}

/* Decides the tasks in x->work that are in state none, in memory: queued
 * when they may start, skipped or upstream_failed when they never will
 * (their downstream tasks are then decided in turn). Only the tasks an
 * end affects are looked at, never the whole run. Changed tasks go to
 * x->changed for the caller to store, the ones ready to x->fresh. */
static void settle(struct xrun *r) {
  struct cf_exec *x = r->x;
  if (r->finished || x->stopping) {
    x->work.n = 0;
    return;
  }
  while (x->work.n) {
    struct xti *t = x->work.v[--x->work.n];
    if (!is(t, ST_NONE)) continue;
    enum decision d = decide(r, t);
    if (d == WAIT) continue;
    list_push(&x->changed, t);
    if (d == READY) {
      set_state(t, ST_QUEUED);
      list_push(&x->fresh, t);
      continue;
    }
    set_state(t, d == SKIP ? ST_SKIPPED : ST_UPFAILED);
    set_reason(t, d == SKIP ? "upstream skipped" : "an upstream failed");
    push_downstream(t);
  }
}

/* Stores the rows settle() changed (inside the caller's transaction). */
static int save_changed(struct cf_exec *x) {
  for (size_t i = 0; i < x->changed.n; i++)
    if (cf_store_ti_update(x->st, &x->changed.v[i]->row) < 0)
      return CF_ESTORE;
  return 0;
}

static int by_topo_pos(const void *a, const void *b) {
  const struct xti *t = *(struct xti *const *)a, *u = *(struct xti *const *)b;
  size_t p = t->run->dag->topo_pos[t->idx];
  size_t q = u->run->dag->topo_pos[u->idx];
  return p < q ? -1 : p > q;
}

/* After settle() and the store writes: queues the ready tasks in
 * topological order (the order a pass over the whole run would give),
 * ends the run if it is over and starts what the slots allow. */
static void release(struct xrun *r) {
  struct cf_exec *x = r->x;
  if (x->fresh.n > 1)
    qsort(x->fresh.v, x->fresh.n, sizeof *x->fresh.v, by_topo_pos);
  for (size_t i = 0; i < x->fresh.n; i++) enqueue(x, x->fresh.v[i]);
  x->fresh.n = x->changed.n = 0;    /* free for the calls made below */
  if (r->finished) return;
  maybe_finish_run(r);              /* may free r */
  if (!x->stopping) dispatch(x);
}

/* settle(), one transaction for what it changed, release(). */
static void evaluate(struct xrun *r) {
  struct cf_exec *x = r->x;
  settle(r);
  if (x->changed.n) {
    int rc = cf_store_begin(x->st);
    if (rc == 0) {
      rc = save_changed(x);
      if (rc == 0) rc = cf_store_commit(x->st);
      if (rc < 0) cf_store_rollback(x->st);
    }
    if (rc < 0) log_store_error(x, "update task instances");
  }
  release(r);
}

static int pool_has_slot(struct cf_exec *x, const struct cf_task *task) {
  if (!task->pool) return 1;
  struct pool *p = pool_get(x, task->pool, 0);
  return !p || p->used < p->slots;
}

static void dispatch(struct cf_exec *x) {
  size_t i = 0;
  while (i < x->ready.n && x->running < x->o.parallelism && !x->stopping &&
         !x->draining) {
    struct xti *t = x->ready.v[i];
    if (!pool_has_slot(x, &t->run->dag->tasks[t->idx])) {
      i++;
      continue;
    }
    memmove(&x->ready.v[i], &x->ready.v[i + 1],
            (x->ready.n - i - 1) * sizeof *x->ready.v);
    x->ready.n--;
    t->queued = 0;
    launch(t);
  }
}

/* ---- starting and stopping --------------------------------------------- */

static json_t *merged_params(struct cf_dag *dag, const char *conf) {
  json_t *p = dag->params ? json_deep_copy(dag->params) : json_object();
  json_t *c = conf ? json_loads(conf, 0, NULL) : NULL;
  if (p && json_is_object(c)) json_object_update(p, c);
  json_decref(c);
  return p;
}

static int reserve_list(struct xti_list *l, size_t need) {
  if (l->alloc >= need) return 0;
  struct xti **v = cf_realloc(l->v, need * sizeof *v);
  if (!v) return -ENOMEM;
  l->v = v;
  l->alloc = need;
  return 0;
}

/* Sizes the ready queue and settle()'s lists for every task of every
 * live run plus r (the work list for every edge too: a task is pushed
 * once per upstream that ends), so no push can fail later and leave a
 * task queued or undecided forever. Once per run start. */
static int reserve_for_run(struct cf_exec *x, struct xrun *r) {
  size_t tis = r->n, work = r->n + r->dag->nedges;
  for (const struct xrun *o = x->runs; o; o = o->next) {
    /* A finished run pushes nothing more; it may still be listed (this
     * start may come from its on_done, or its timers are closing) after
     * its DAG is freed, so it is not looked at. */
    if (o->finished) continue;
    tis += o->n;
    work += o->n + o->dag->nedges;
  }
  if (reserve_list(&x->ready, tis) < 0 || reserve_list(&x->changed, tis) < 0 ||
      reserve_list(&x->fresh, tis) < 0 || reserve_list(&x->work, work) < 0)
    return -ENOMEM;
  return 0;
}

int cf_exec_start_run(struct cf_exec *x, struct cf_dag *dag, int64_t run_pk,
                      cf_run_done_cb on_done, void *data) {
  struct xrun *r = cf_calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  r->x = x;
  r->dag = dag;
  r->on_done = on_done;
  r->data = data;
  int ret = cf_store_run_get_pk(x->st, run_pk, &r->run);
  if (ret < 0) goto fail;
  r->params = merged_params(dag, r->run.conf);
  r->n = dag->ntasks;
  r->tis = cf_calloc(r->n, sizeof *r->tis);
  ret = -ENOMEM;
  if (!r->tis || !r->params) goto fail;
  if ((ret = reserve_for_run(x, r)) < 0) goto fail;
  if (dag->pools) {
    const char *name;
    json_t *v;
    json_object_foreach(dag->pools, name, v)
        pool_get(x, name, (int)json_integer_value(v));
  }

  /* load or create the task instances */
  ret = cf_store_begin(x->st);
  if (ret < 0) goto fail;
  for (size_t i = 0; i < dag->ntasks && ret == 0; i++)
    ret = cf_store_ti_ensure(x->st, run_pk, dag->tasks[i].id,
                             dag->tasks[i].plugin, dag->tasks[i].retries + 1);
  if (ret < 0 || (ret = cf_store_commit(x->st)) < 0) {
    cf_store_rollback(x->st);
    goto fail;
  }
  struct cf_ti_row *rows = NULL;
  size_t nrows = 0;
  if ((ret = cf_store_ti_list(x->st, run_pk, &rows, &nrows)) < 0) goto fail;
  for (size_t i = 0; i < r->n; i++) {
    r->tis[i].run = r;
    r->tis[i].idx = i;
    r->tis[i].log_fd = -1;
    cf_buf_init(&r->tis[i].result, 4096);
    /* rows were created in task order: row i is task i, unless the DAG
     * was edited since */
    for (size_t k = 0; k < nrows; k++) {
      size_t j = (i + k) % nrows;
      if (rows[j].task_id && !strcmp(rows[j].task_id, dag->tasks[i].id)) {
        r->tis[i].row = rows[j];
        memset(&rows[j], 0, sizeof rows[j]);
        break;
      }
    }
  }
  cf_ti_rows_free(rows, nrows);
  for (size_t i = 0; i < r->n; i++)
    count_state(&r->tis[i], r->tis[i].row.state, 1);
  r->next = x->runs;
  x->runs = r;

  /* recover what a dead process left behind (our caller holds the run
   * lock, so nobody else is driving this run) */
  int64_t now = cf_store_now_us();
  for (size_t i = 0; i < r->n; i++) {
    struct xti *t = &r->tis[i];
    if (!t->row.state) set_state(t, ST_NONE);
    /* an edited DAG's retry budget applies to tasks not yet finished */
    if (!terminal(t) && t->row.max_tries < dag->tasks[i].retries + 1)
      t->row.max_tries = dag->tasks[i].retries + 1;
    if (is(t, ST_RUNNING)) {
      cf_proc_kill_orphan(t->row.pid, t->row.pid_start);  /* survivors */
      t->row.pid = 0;
      t->row.end_us = now;
      cf_store_event(x->st, dag->id, run_pk, t->row.task_id, "orphaned",
                     NULL);
      fail_or_retry(t, CF_ORPHANED_REASON, 1);
      cf_store_attempts_orphaned(x->st, t->row.id, now);   /* the row too */
      save_ti(t);
    } else if (is(t, ST_QUEUED)) {
      set_state(t, ST_NONE);
      save_ti(t);
    } else if (is(t, ST_RETRY)) {
      int64_t wait_ms = (t->row.next_retry_us - now) / 1000;
      init_timers(t);
      uv_timer_start(&t->retry_timer, retry_due,
                     (uint64_t)(wait_ms > 0 ? wait_ms : 0), 0);
    }
  }
  if (!strcmp(r->run.state, ST_SUCCESS) || !strcmp(r->run.state, ST_FAILED)) {
    cf_store_run_set_state(x->st, run_pk, ST_QUEUED);
  }
  for (size_t k = r->n; k-- > 0;)   /* every task, once */
    list_push(&x->work, &r->tis[dag->topo[k]]);
  evaluate(r);
  return 0;
fail:
  if (r->tis) {
    for (size_t i = 0; i < r->n; i++) cf_ti_row_release(&r->tis[i].row);
  }
  cf_free(r->tis);
  json_decref(r->params);
  cf_run_row_release(&r->run);
  cf_free(r);
  return ret < 0 ? ret : CF_ESTORE;
}

void cf_exec_drain(struct cf_exec *x) {
  if (x->draining || x->stopping) return;
  x->draining = 1;
  for (struct xrun *r = x->runs, *next; r; r = next) {
    next = r->next;             /* finishing may free r */
    if (!r->finished) {
      for (size_t i = 0; i < r->n; i++)
        if (r->tis[i].timers_init) uv_timer_stop(&r->tis[i].retry_timer);
      maybe_finish_run(r);
    }
  }
}

void cf_exec_stop(struct cf_exec *x) {
  if (x->stopping) return;
  x->stopping = 1;
  for (struct xrun *r = x->runs, *next; r; r = next) {
    next = r->next;             /* finishing may free r */
    if (r->finished) continue;
    for (size_t i = 0; i < r->n; i++) {
      struct xti *t = &r->tis[i];
      if (t->timers_init) uv_timer_stop(&t->retry_timer);
      if (t->active && !t->exited) {
        t->interrupted = 1;
        kill_group(t, SIGTERM);
        init_timers(t);
        uv_timer_start(&t->kill_timer, kill_escalate,
                       (uint64_t)x->o.kill_grace_ms, 0);
      }
    }
    maybe_finish_run(r);
  }
}
