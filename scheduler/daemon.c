/* The daemon's core: clock, JSON-lines log, the DAG registry's lifetime,
 * the pump that hands queued runs to the executor, and the graceful stop.
 * Tickers, sensors, the DAG watcher and the control socket feed it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <curl/curl.h>
#include "daemon.h"
#include "web.h"
#include "runner.h"

/* A run the daemon drives: holds the per-run lock and a DAG reference. */
struct cf_drun {
  struct cf_daemon *d;
  int64_t pk;
  struct cf_dentry *e;
  int lock_fd;
  struct cf_drun *next;
};

#define HOUSE_MS 1000           /* housekeeping period (real ms) */
#define PRUNE_EVERY_MS (3600 * 1000)

/* ---- clock and log ----------------------------------------------------- */

int64_t cf__daemon_now_ms(struct cf_daemon *d) {
  if (!d->o.fake_now_ms) return cf_now_ms();
  double el = (double)(uv_hrtime() - d->mono0) / 1e6;
  return d->o.fake_now_ms + (int64_t)(el * d->o.speed);
}

uint64_t cf__daemon_real_ms(struct cf_daemon *d, int64_t span_ms) {
  if (span_ms <= 0) return 0;
  if (!d->o.fake_now_ms || d->o.speed <= 1.0) return (uint64_t)span_ms;
  double q = (double)span_ms / d->o.speed;
  uint64_t ms = (uint64_t)q;
  return (double)ms < q ? ms + 1 : ms;     /* round up: never early */
}

void cf__dlog(struct cf_daemon *d, const char *level, const char *dag,
              int64_t run, const char *task, int try_number,
              const char *fmt, ...) {
  char ts[32], msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cf_format_iso_ms(cf_now_ms(), ts);
  json_t *o = json_pack("{s:s, s:s}", "ts", ts, "level", level);
  if (!o) return;
  if (dag) json_object_set_new(o, "dag", json_string(dag));
  if (run) json_object_set_new(o, "run", json_integer(run));
  if (task) json_object_set_new(o, "task", json_string(task));
  if (try_number) json_object_set_new(o, "try", json_integer(try_number));
  json_object_set_new(o, "msg", json_string(msg));
  if (d && d->o.fake_now_ms) {
    char now[32];
    cf_format_iso_ms(cf__daemon_now_ms(d), now);
    json_object_set_new(o, "clock", json_string(now));
  }
  char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(o);
  if (!line) return;
  fprintf(stderr, "%s\n", line);   /* stderr is unbuffered: one write */
  free(line);
}

/* systemd Type=notify (sd_notify(3) without libsystemd): one datagram to
 * $NOTIFY_SOCKET; a leading '@' is the abstract namespace. */
static void sd_notify_msg(const char *msg) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa = {0};
  if (!path || !*path || strlen(path) >= sizeof sa.sun_path) return;
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path));
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                              strlen(path));
  if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
             len) < 0) {
    /* no supervisor listening: nothing to do */
  }
  close(fd);
}

/* ---- registry ----------------------------------------------------------- */

struct cf_dentry *cf__daemon_find(struct cf_daemon *d, const char *dag_id) {
  for (struct cf_dentry *e = d->dags; e; e = e->next)
    if (!strcmp(e->dag->id, dag_id)) return e;
  return NULL;
}

void cf__dentry_unref(struct cf_daemon *d, struct cf_dentry *e) {
  (void)d;
  if (--e->refs > 0) return;
  cf_dag_free(e->dag);
  cf_free(e->file);
  cf_free(e);
}

int cf__daemon_driving(struct cf_daemon *d, int64_t run_pk) {
  for (struct cf_drun *r = d->runs; r; r = r->next)
    if (r->pk == run_pk) return 1;
  return 0;
}

int cf__daemon_paused(struct cf_daemon *d, const char *dag_id) {
  sqlite3_stmt *s = NULL;
  int paused = 0;
  if (sqlite3_prepare_v2(cf_store_db(d->st),
                         "SELECT paused FROM dags WHERE dag_id=?", -1, &s,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, dag_id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) paused = sqlite3_column_int(s, 0);
  }
  sqlite3_finalize(s);
  return paused;
}

/* ---- driving runs -------------------------------------------------------- */

static void on_run_done(struct cf_exec *x, int64_t run_pk, const char *state,
                        void *data) {
  struct cf_drun *r = data;
  struct cf_daemon *d = r->d;
  (void)x;
  for (struct cf_drun **pp = &d->runs; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  if (r->lock_fd >= 0) close(r->lock_fd);
  d->nactive--;
  /* one line per task: the attempts themselves are in the store and in
   * logs/DAG/DATE/TASK/TRY.log */
  struct cf_ti_row *tis = NULL;
  size_t nti = 0;
  if (cf_store_ti_list(d->st, run_pk, &tis, &nti) == 0)
    for (size_t i = 0; i < nti; i++)
      cf__dlog(d, strcmp(tis[i].state, "failed") ? "info" : "warn",
               r->e->dag->id, run_pk, tis[i].task_id, tis[i].try_number,
               "task %s%s%s", tis[i].state, tis[i].reason ? ": " : "",
               tis[i].reason ? tis[i].reason : "");
  cf_ti_rows_free(tis, nti);
  cf__dlog(d, strcmp(state, "failed") ? "info" : "warn", r->e->dag->id,
           run_pk, NULL, 0, "run ended: %s", state);
  /* files that landed while it ran may ask for a re-run */
  if (r->e->listed && !d->stopping) cf__sensor_attribute(d, r->e);
  cf__dentry_unref(d, r->e);
  cf_free(r);
  if (d->stopping && d->nactive == 0) {
    cf__daemon_shutdown(d, NULL);
    return;
  }
  cf__daemon_pump_soon(d);
}

/* Runs of DAG dag_id being driven, whichever version of its file each
 * started with (an edited DAG is a new entry; its runs in flight stay
 * with the old one). */
static int active_runs(struct cf_daemon *d, const char *dag_id) {
  int n = 0;
  for (struct cf_drun *r = d->runs; r; r = r->next)
    if (!strcmp(r->e->dag->id, dag_id)) n++;
  return n;
}

/* Starts what max_active_runs allows among the DAG's queued and running
 * runs, oldest logical date first. Returns how many were started. */
static int pump_dag(struct cf_daemon *d, struct cf_dentry *e) {
  int active = active_runs(d, e->dag->id);
  if (active >= e->dag->max_active_runs) return 0;
  if (cf__daemon_paused(d, e->dag->id)) return 0;
  sqlite3_stmt *s = NULL;
  int started = 0;
  /* enough rows to get past the runs already driven, by us or by a
   * foreground process, and still fill every free slot */
  size_t want = (size_t)e->dag->max_active_runs + (size_t)active + 64;
  size_t n = 0;
  int64_t *pks = cf_malloc(want * sizeof *pks);
  char (*dates)[11] = cf_malloc(want * sizeof *dates);
  if (!pks || !dates ||
      sqlite3_prepare_v2(cf_store_db(d->st),
          "SELECT id, logical_date FROM runs WHERE dag_id=? AND state IN "
          "('queued','running') ORDER BY logical_date LIMIT ?", -1, &s,
          NULL) != SQLITE_OK) {
    cf_free(pks);
    cf_free(dates);
    return 0;
  }
  sqlite3_bind_text(s, 1, e->dag->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, (int64_t)want);
  while (n < want && sqlite3_step(s) == SQLITE_ROW) {
    pks[n] = sqlite3_column_int64(s, 0);
    snprintf(dates[n], sizeof dates[n], "%s",
             (const char *)sqlite3_column_text(s, 1));
    n++;
  }
  sqlite3_finalize(s);
  for (size_t i = 0; i < n && active < e->dag->max_active_runs; i++) {
    cf_date ld;
    if (cf__daemon_driving(d, pks[i]) || cf_date_parse(dates[i], &ld) < 0)
      continue;
    /* a foreground `costflow run` may hold it: leave it to that process */
    int fd = cf_run_lock(d->cli->home, e->dag->id, ld);
    if (fd < 0) continue;
    struct cf_drun *r = cf_calloc(1, sizeof *r);
    if (!r) {
      close(fd);
      break;
    }
    *r = (struct cf_drun){d, pks[i], e, fd, d->runs};
    d->runs = r;
    e->refs++;
    active++;
    d->nactive++;
    cf__dlog(d, "info", e->dag->id, pks[i], NULL, 0, "driving run for %s",
             dates[i]);
    int rc = cf_exec_start_run(d->x, e->dag, pks[i], on_run_done, r);
    if (rc < 0) {
      cf__dlog(d, "error", e->dag->id, pks[i], NULL, 0,
               "cannot start run: %s", cf_strerror(rc));
      d->runs = r->next;
      close(fd);
      active--;
      d->nactive--;
      e->refs--;
      cf_free(r);
      continue;
    }
    started++;
  }
  cf_free(pks);
  cf_free(dates);
  return started;
}

static int pump(struct cf_daemon *d) {
  int started = 0;
  if (d->stopping) return 0;
  for (struct cf_dentry *e = d->dags; e; e = e->next)
    started += pump_dag(d, e);
  return started;
}

static void pump_cb(uv_timer_t *h) {
  struct cf_daemon *d = h->data;
  pump(d);
  cf__daemon_check_once(d);
}

void cf__daemon_pump_soon(struct cf_daemon *d) {
  if (d->stopping || d->closed) return;
  if (!uv_is_active((uv_handle_t *)&d->pump_timer))
    uv_timer_start(&d->pump_timer, pump_cb, 0, 0);
}

void cf__daemon_check_once(struct cf_daemon *d) {
  if (!d->o.once || d->stopping || d->nactive || d->sensor_busy) return;
  if (uv_is_active((uv_handle_t *)&d->pump_timer)) return;
  cf__daemon_shutdown(d, "--once: nothing left to do");
}

/* Housekeeping: store hand-offs without a socket message, runs that a
 * foreground process released, deadlines, retention. */
/* A wall-clock step (NTP, VM resume) leaves timers armed for the old
 * time: re-evaluate every schedule now. Fires only on the real clock. */
static void check_clock_jump(struct cf_daemon *d) {
  int64_t wall = cf_now_ms(), mono = cf_mono_ms();
  if (d->o.fake_now_ms) return;
  if (d->last_wall_ms) {
    int64_t jump = (wall - d->last_wall_ms) - (mono - d->last_mono_ms);
    if (jump > 60000 || jump < -60000) {
      cf__dlog(d, jump > 3 * 3600000 || jump < -3 * 3600000 ? "warn"
                                                              : "info",
               NULL, 0, NULL, 0, "wall clock jumped by %+lld s: "
               "re-evaluating schedules", (long long)(jump / 1000));
      for (struct cf_dentry *e = d->dags; e; e = e->next)
        if (e->tick) cf__tick_kick(e->tick);
    }
  }
  d->last_wall_ms = wall;
  d->last_mono_ms = mono;
}

static void house_cb(uv_timer_t *h) {
  struct cf_daemon *d = h->data;
  if (d->stopping) return;
  check_clock_jump(d);
  /* arrivals waiting on a run that another process was driving */
  for (struct cf_dentry *e = d->dags; e; e = e->next) {
    int paused = cf__daemon_paused(d, e->dag->id);
    if (e->was_paused && !paused && e->tick) {
      cf__dlog(d, "info", e->dag->id, 0, NULL, 0, "unpaused");
      cf__tick_kick(e->tick);      /* catch up now, not at the next fire */
    }
    e->was_paused = paused;
    if (e->sensor) cf__sensor_attribute(d, e);
  }
  pump(d);
  cf__deadlines_check(d);
  int64_t now = cf_mono_ms();
  if (d->o.retention_days > 0 &&
      (!d->last_prune_ms || now - d->last_prune_ms >= PRUNE_EVERY_MS)) {
    d->last_prune_ms = now;
    cf__retention_prune(d);
  }
}

/* ---- stopping ----------------------------------------------------------- */

/* The web server's actions: the run is already created or cleared in the
 * store; the pump starts it like any queued run. */
static int web_submit(void *data, const char *dag_id, int64_t run_pk,
                      char **errmsg) {
  struct cf_daemon *d = data;
  if (d->stopping) {
    *errmsg = cf_strdup("the scheduler is stopping");
    return CF_ESTATE;
  }
  if (cf__daemon_driving(d, run_pk)) return CF_EBUSY;
  if (!cf__daemon_find(d, dag_id)) {
    *errmsg = cf_asprintf("dag '%s' is not loaded by the scheduler", dag_id);
    return CF_ENOTFOUND;
  }
  if (cf__daemon_paused(d, dag_id)) {
    *errmsg = cf_asprintf("dag '%s' is paused: unpause it to run", dag_id);
    return CF_ESTATE;
  }
  cf__daemon_pump_soon(d);
  return 0;
}

static void grace_cb(uv_timer_t *h) {
  struct cf_daemon *d = h->data;
  cf__dlog(d, "warn", NULL, 0, NULL, 0, "grace period over: interrupting "
           "%d run(s); they resume at the next start", d->nactive);
  cf_exec_stop(d->x);
}

static void close_final(struct cf_daemon *d) {
  if (d->closed) return;
  d->closed = 1;
  uv_close((uv_handle_t *)&d->sig_term, NULL);
  uv_close((uv_handle_t *)&d->sig_int, NULL);
  uv_close((uv_handle_t *)&d->sig_hup, NULL);
  uv_close((uv_handle_t *)&d->pump_timer, NULL);
  uv_close((uv_handle_t *)&d->house_timer, NULL);
  uv_close((uv_handle_t *)&d->grace_timer, NULL);
}

void cf__daemon_shutdown(struct cf_daemon *d, const char *why) {
  if (!d->stopping) {
    d->stopping = 1;
    cf__dlog(d, "info", NULL, 0, NULL, 0, "stopping (%s): %d run(s) active",
             why ? why : "requested", d->nactive);
    cf_store_event(d->st, NULL, 0, NULL, "scheduler_stopping", NULL);
    sd_notify_msg("STOPPING=1");
    uv_timer_stop(&d->house_timer);
    uv_timer_stop(&d->pump_timer);
    if (d->watch) cf__watch_close(d->watch);
    d->watch = NULL;
    if (d->ctl) cf__control_close(d->ctl);
    d->ctl = NULL;
    if (d->web) cf_web_close(d->web);
    d->web = NULL;
    for (struct cf_dentry *e = d->dags; e; e = e->next) {
      if (e->tick) cf__tick_stop(e->tick);
      if (e->sensor) cf__sensor_stop(e->sensor);
      e->tick = NULL;
      e->sensor = NULL;
    }
    if (d->nactive && d->o.grace_ms > 0) {
      /* running attempts may finish; nothing new starts meanwhile */
      uv_timer_start(&d->grace_timer, grace_cb, (uint64_t)d->o.grace_ms, 0);
      cf_exec_drain(d->x);
    }
    else if (d->nactive)
      cf_exec_stop(d->x);
  }
  if (d->nactive == 0) close_final(d);
}

static void on_signal(uv_signal_t *h, int sig) {
  struct cf_daemon *d = h->data;
  if (sig == SIGHUP) {
    cf__dlog(d, "info", NULL, 0, NULL, 0, "SIGHUP: reloading DAGs");
    sd_notify_msg("RELOADING=1");
    if (d->watch) cf__watch_rescan(d->watch);
    sd_notify_msg("READY=1");
    return;
  }
  if (d->stopping) {            /* a second signal: do not wait */
    cf__dlog(d, "warn", NULL, 0, NULL, 0, "second signal: interrupting");
    cf_exec_stop(d->x);
    return;
  }
  cf__daemon_shutdown(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* ---- main ----------------------------------------------------------------*/

int cf_daemon_main(struct cf_cli *cli, const struct cf_daemon_opts *o) {
  struct cf_daemon *d = cf_calloc(1, sizeof *d);
  char *db = NULL, *err = NULL;
  int rc, loop_ok = 0;
  if (!d) return CF_EXIT_FAIL;
  d->cli = cli;
  d->o = *o;
  if (d->o.speed < 1.0) d->o.speed = 1.0;
  d->mono0 = uv_hrtime();
  d->exit_code = CF_EXIT_FAIL;
  /* once, before any thread: deadline notices (webhook, mail) use libcurl
   * off the loop */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (uv_loop_init(&d->loop) < 0) goto done;
  loop_ok = 1;
  db = cf_asprintf("%s/costflow.db", cli->home);
  rc = db ? cf_store_open(db, &d->st, &err) : -ENOMEM;
  if (rc < 0) {
    cf__dlog(d, "error", NULL, 0, NULL, 0, "store: %s",
             err ? err : cf_strerror(rc));
    goto done;
  }
  if (cf_registry_new(cli->plugin_path, &d->reg) < 0) goto done;
  struct cf_exec_opts xo = {0};
  xo.home = cli->home;
  xo.exe = cli->exe;
  xo.plugin_path = cli->plugin_path;
  const char *env = getenv("COSTFLOW_PARALLELISM");
  xo.parallelism = env ? atoi(env) : 0;
  env = getenv("COSTFLOW_KILL_GRACE_MS");
  xo.kill_grace_ms = env ? atoll(env) : 0;
  env = getenv("COSTFLOW_LOG_LIMIT");
  xo.log_limit = env ? atoll(env) : 0;
  const char *min_free = getenv("COSTFLOW_MIN_FREE");
  xo.min_free = min_free ? atoll(min_free) : 0;
  if (cf_exec_new(&d->loop, d->st, &xo, &d->x) < 0) goto done;

  uv_timer_init(&d->loop, &d->pump_timer);
  uv_timer_init(&d->loop, &d->house_timer);
  uv_timer_init(&d->loop, &d->grace_timer);
  uv_signal_init(&d->loop, &d->sig_term);
  uv_signal_init(&d->loop, &d->sig_int);
  uv_signal_init(&d->loop, &d->sig_hup);
  d->pump_timer.data = d->house_timer.data = d->grace_timer.data = d;
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);

  char now[32];
  cf_format_iso_ms(cf__daemon_now_ms(d), now);
  cf__dlog(d, "info", NULL, 0, NULL, 0, "scheduler starting, pid %d, home "
           "%s, dags %s, clock %s%s", (int)getpid(), cli->home,
           cli->dags_dir, now, d->o.fake_now_ms ? " (fake)" : "");
  cf_store_event(d->st, NULL, 0, NULL, "scheduler_started", NULL);
  /* DAGs first (their tickers create due runs), then the socket, then
   * resume everything queued or left running by a previous process */
  if ((rc = cf__watch_start(d, &d->watch)) < 0) {
    cf__dlog(d, "error", NULL, 0, NULL, 0, "cannot watch %s: %s",
             cli->dags_dir, cf_strerror(rc));
    cf__daemon_shutdown(d, "startup failed");
    uv_run(&d->loop, UV_RUN_DEFAULT);
    goto done;
  }
  if (!d->o.once && (rc = cf__control_start(d, &d->ctl)) < 0)
    cf__dlog(d, "warn", NULL, 0, NULL, 0, "no control socket: %s",
             cf_strerror(rc));
  if (!d->o.once && d->o.web_listen) {
    struct cf_web_opts wo = {0};
    wo.listen = d->o.web_listen;
    wo.home = cli->home;
    wo.dags_dir = cli->dags_dir;
    wo.plugin_path = cli->plugin_path;
    wo.landing_dir = d->o.web_landing;
    wo.allowed_hosts = d->o.web_allowed_hosts;
    wo.submit = web_submit;
    wo.submit_data = d;
    if ((rc = cf_web_start(&d->loop, d->st, &wo, &d->web)) < 0) {
      cf__dlog(d, "error", NULL, 0, NULL, 0, "web server on %s: %s",
               d->o.web_listen, cf_strerror(rc));
      cf__daemon_shutdown(d, "startup failed");
      uv_run(&d->loop, UV_RUN_DEFAULT);
      goto done;
    }
    cf__dlog(d, "info", NULL, 0, NULL, 0, "web UI and API on http://%s/",
             cf_web_address(d->web));
  }
  if (d->o.retention_days > 0) {
    d->last_prune_ms = cf_mono_ms();
    cf__retention_prune(d);
  }
  cf__deadlines_check(d);
  if (!d->o.once)
    uv_timer_start(&d->house_timer, house_cb, HOUSE_MS, HOUSE_MS);
  cf__daemon_pump_soon(d);
  cf__dlog(d, "info", NULL, 0, NULL, 0, "scheduler ready");
  sd_notify_msg("READY=1");
  uv_run(&d->loop, UV_RUN_DEFAULT);
  d->exit_code = CF_EXIT_OK;
  cf__dlog(d, "info", NULL, 0, NULL, 0, "scheduler stopped");

done:
  if (loop_ok) {
    /* anything still open (a failed start-up) is closed here */
    uv_walk(&d->loop, walk_close, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
  }
  while (d->dags) {
    struct cf_dentry *e = d->dags;
    d->dags = e->next;
    e->listed = 0;
    cf__dentry_unref(d, e);
  }
  if (d->x) cf_exec_free(d->x);
  if (loop_ok) uv_loop_close(&d->loop);
  cf_registry_free(d->reg);
  cf_store_close(d->st);
  cf_free(db);
  cf_free(err);
  int code = d->exit_code;
  cf_free(d);
  curl_global_cleanup();
  return code;
}
