/* The scheduler daemon (`costflow scheduler`): one libuv loop that owns the
 * DAG registry, the ticker, the file sensors, the control socket and the
 * executor. The store is the source of truth; the daemon only decides when
 * a run is created and who drives it. Internal to scheduler/: every daemon
 * file includes this header (docs/scheduler.md has the behaviour). */
#ifndef COSTFLOW_DAEMON_H
#define COSTFLOW_DAEMON_H

#include <stdint.h>
#include <uv.h>
#include "cli.h"
#include "costflow/dag.h"
#include "costflow/plugin_host.h"
#include "costflow/store.h"
#include "executor.h"

struct cf_sensor;
struct cf_tick;

/* One loaded DAG. Refcounted because a run keeps driving the version of
 * the DAG it started with after the file changes or goes away. */
struct cf_dentry {
  struct cf_dag *dag;
  char *file;                   /* path of its file in the DAGs folder */
  int64_t mtime_ns, size;       /* of that file when loaded */
  int refs;                     /* registry (while listed) + active runs */
  int listed;                   /* still in the registry */
  int was_paused;               /* last seen dags.paused */
  struct cf_tick *tick;         /* NULL if unscheduled */
  struct cf_sensor *sensor;     /* NULL without a file trigger */
  struct cf_dentry *next;
};

struct cf_daemon_opts {
  int once;                     /* exit when created work is done */
  int64_t grace_ms;             /* SIGTERM: let attempts finish this long */
  int retention_days;           /* prune older rows; 0 = never */
  int64_t rescan_ms;            /* sensor fallback rescan period */
  int64_t fake_now_ms;          /* 0 = real clock */
  double speed;                 /* fake clock speed factor (>= 1) */
  const char *web_listen;       /* --web ADDR:PORT, NULL = no web server */
  const char *web_landing;      /* --landing DIR for uploads */
  const char *web_allowed_hosts; /* --web-allowed-host NAME[,NAME...] */
};

struct cf_drun;                 /* a run being driven (daemon.c) */

struct cf_daemon {
  struct cf_cli *cli;
  struct cf_daemon_opts o;
  uv_loop_t loop;
  struct cf_store *st;
  struct cf_plugin_registry *reg;
  struct cf_exec *x;
  struct cf_dentry *dags;       /* registry: listed entries only */
  struct cf_drun *runs;
  int nactive;                  /* runs being driven, all DAGs */
  int stopping;                 /* SIGTERM seen: start nothing new */
  int closed;                   /* handles closed, loop winding down */
  int exit_code;
  int sensor_busy;              /* hash jobs / settle waits in flight */
  uint64_t mono0;               /* uv_hrtime() at start, for the clock */
  /* handles */
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t pump_timer;        /* coalesced "look for runs to start" */
  uv_timer_t house_timer;       /* housekeeping: pump, deadlines, prune */
  uv_timer_t grace_timer;
  int64_t last_prune_ms;
  int64_t last_wall_ms, last_mono_ms;  /* clock-jump detection */
  struct cf_watch *watch;       /* DAGs folder watcher (dag_watch.c) */
  struct cf_control *ctl;       /* control socket (control.c) */
  struct cf_web *web;           /* web UI/API on this loop, or NULL */
};

/* ---- daemon.c ---------------------------------------------------------- */
/* Runs the daemon until it stops (signal, or --once done). The caller holds
 * $HOME/scheduler.lock. Returns a CF_EXIT_* code. */
int cf_daemon_main(struct cf_cli *cli, const struct cf_daemon_opts *o);
/* Now, by the daemon's clock (fake when --now/COSTFLOW_FAKE_NOW is set). */
int64_t cf__daemon_now_ms(struct cf_daemon *d);
/* Converts a span of daemon-clock ms into real timer ms (fake speed). */
uint64_t cf__daemon_real_ms(struct cf_daemon *d, int64_t span_ms);
/* JSON-lines log on stderr. dag/task may be NULL, run/try 0 = none. */
void cf__dlog(struct cf_daemon *d, const char *level, const char *dag,
              int64_t run, const char *task, int try_number,
              const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Asks for a pump on the next loop turn (coalesced). */
void cf__daemon_pump_soon(struct cf_daemon *d);
/* Looks up a listed DAG by id. */
struct cf_dentry *cf__daemon_find(struct cf_daemon *d, const char *dag_id);
void cf__dentry_unref(struct cf_daemon *d, struct cf_dentry *e);
/* 1 if the DAG is paused (dags.paused): no new runs are created or
 * started; runs in flight finish. */
int cf__daemon_paused(struct cf_daemon *d, const char *dag_id);
/* 1 if the daemon drives run_pk right now. */
int cf__daemon_driving(struct cf_daemon *d, int64_t run_pk);
/* Called by the sensor when its in-flight work may have drained. */
void cf__daemon_check_once(struct cf_daemon *d);
/* Starts the graceful stop (signals, --once). */
void cf__daemon_shutdown(struct cf_daemon *d, const char *why);

/* ---- deadline_notify.c -----------------------------------------------------
 * Sends `text` to the DAG's notify task's webhook and/or SMTP recipients,
 * if it has any, off the loop thread (bounded retries); the outcome is
 * logged. */
void cf__deadline_notify(struct cf_daemon *d, const struct cf_dag *dag,
                         const char *text);

/* ---- dag_watch.c: the DAGs folder --------------------------------------- */
struct cf_watch;
/* Loads every DAG file and watches the folder (inotify via uv_fs_event). */
int  cf__watch_start(struct cf_daemon *d, struct cf_watch **out);
/* Re-reads the folder now (SIGHUP). */
void cf__watch_rescan(struct cf_watch *w);
void cf__watch_close(struct cf_watch *w);   /* frees in a close callback */

/* ---- ticker.c: cron timers and catch-up --------------------------------- */
/* Evaluates due intervals of e now (creating runs) and arms its timer. */
int  cf__tick_start(struct cf_daemon *d, struct cf_dentry *e);
void cf__tick_stop(struct cf_tick *t);      /* frees in a close callback */
/* Evaluates and re-arms now (after a wall-clock jump). */
void cf__tick_kick(struct cf_tick *t);

/* ---- sensor.c: file arrival --------------------------------------------- */
int  cf__sensor_start(struct cf_daemon *d, struct cf_dentry *e);
void cf__sensor_stop(struct cf_sensor *s);  /* frees when work drained */
/* Gives sensor arrivals waiting on a run (run_pk NULL) to their run. */
void cf__sensor_attribute(struct cf_daemon *d, struct cf_dentry *e);

/* ---- control.c: the local control socket ------------------------------- */
struct cf_control;
int  cf__control_start(struct cf_daemon *d, struct cf_control **out);
void cf__control_close(struct cf_control *c);

/* ---- housekeep.c: deadlines and retention ------------------------------- */
void cf__deadlines_check(struct cf_daemon *d);
void cf__retention_prune(struct cf_daemon *d);

#endif
