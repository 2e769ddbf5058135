/* Shared machinery of the foreground run commands (see runner.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "control.h"
#include "runner.h"

int cf_runner_open_store(struct cf_runner *r, struct cf_cli *cli) {
  memset(r, 0, sizeof *r);
  r->cli = cli;
  int rc = cf_mkdir_p(cli->home, 0755);
  if (rc < 0)
    return cf_cli_error(CF_EXIT_USAGE, "cannot create home %s: %s",
                        cli->home, cf_strerror(rc));
  char *db = cf_asprintf("%s/costflow.db", cli->home), *err = NULL;
  rc = db ? cf_store_open(db, &r->st, &err) : -ENOMEM;
  cf_free(db);
  if (rc < 0) {
    cf_cli_error(CF_EXIT_FAIL, "%s", err ? err : cf_strerror(rc));
    cf_free(err);
    return CF_EXIT_FAIL;
  }
  return 0;
}

int cf_runner_open(struct cf_runner *r, struct cf_cli *cli,
                   const char *dag_arg) {
  int code = cf_runner_open_store(r, cli);
  if (code) return code;
  if (cf_registry_new(cli->plugin_path, &r->reg) < 0)
    return cf_cli_error(CF_EXIT_FAIL, "out of memory");
  if (!dag_arg) return 0;
  char *path = NULL;
  if (cf_dag_resolve(cli->dags_dir, dag_arg, &path) < 0)
    return cf_cli_error(CF_EXIT_USAGE,
                        "no DAG '%s' (not a file, and no DAG with that id "
                        "in %s)", dag_arg, cli->dags_dir);
  struct cf_diags diags = CF_DIAGS_INIT;
  struct cf_dag_load_opts o = {0, cf_registry_lookup, r->reg};
  int rc = cf_dag_load(path, &o, &r->dag, &diags);
  cf_free(path);
  if (rc < 0) {
    cf_diags_print(&diags, stderr);
    cf_diags_release(&diags);
    return CF_EXIT_USAGE;
  }
  cf_diags_release(&diags);
  /* remember the DAG (file, hash) for listings and the web UI */
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(cf_store_db(r->st),
          "INSERT INTO dags(dag_id, path, sha256, updated_at) "
          "VALUES(?,?,?,strftime('%Y-%m-%dT%H:%M:%fZ','now')) "
          "ON CONFLICT(dag_id) DO UPDATE SET path=excluded.path, "
          "sha256=excluded.sha256, updated_at=excluded.updated_at, "
          "import_error=NULL", -1, &s, NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, r->dag->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->dag->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->dag->sha256, -1, SQLITE_STATIC);
    sqlite3_step(s);
  }
  sqlite3_finalize(s);
  return 0;
}

char *cf_runner_dag_id(struct cf_cli *cli, const char *dag_arg) {
  size_t n = strlen(dag_arg);
  int is_file = (n > 5 && !strcmp(dag_arg + n - 5, ".yaml")) ||
                (n > 4 && !strcmp(dag_arg + n - 4, ".yml")) ||
                strchr(dag_arg, '/');
  if (!is_file) return cf_strdup(dag_arg);
  struct cf_dag *dag = NULL;
  struct cf_diags d = CF_DIAGS_INIT;
  struct cf_dag_load_opts o = {0};
  char *id = NULL;
  (void)cli;
  if (cf_dag_load(dag_arg, &o, &dag, &d) == 0) id = cf_strdup(dag->id);
  cf_dag_free(dag);
  cf_diags_release(&d);
  return id;
}

void cf_runner_close(struct cf_runner *r) {
  if (r->x) cf_exec_free(r->x);
  if (r->loop_init) {
    uv_loop_close(&r->loop);
  }
  for (size_t i = 0; r->lock_fds && i < r->npending; i++)
    if (r->lock_fds[i] >= 0) close(r->lock_fds[i]);
  cf_free(r->lock_fds);
  cf_free(r->pending);
  cf_dag_free(r->dag);
  cf_registry_free(r->reg);
  cf_store_close(r->st);
}

int cf_runner_lock(struct cf_runner *r, cf_date d) {
  return cf_run_lock(r->cli->home, r->dag->id, d);
}

static void start_more(struct cf_runner *r);

static void on_run_done(struct cf_exec *x, int64_t run_pk, const char *state,
                        void *data) {
  struct cf_runner *r = data;
  (void)x;
  (void)run_pk;
  r->active--;
  if (!strcmp(state, "success")) r->succeeded++;
  else if (!strcmp(state, "failed")) r->failed++;
  else r->unfinished++;
  start_more(r);
}

static void start_more(struct cf_runner *r) {
  while (!r->interrupted && r->active < r->max_active &&
         r->next < r->npending) {
    int64_t pk = r->pending[r->next++];
    r->active++;
    int rc = cf_exec_start_run(r->x, r->dag, pk, on_run_done, r);
    if (rc < 0) {
      r->active--;
      r->failed++;
      fprintf(stderr, "costflow: cannot start run %lld: %s\n",
              (long long)pk, cf_strerror(rc));
    }
  }
  if (r->active == 0 && !r->signals_closed) {
    r->signals_closed = 1;
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
  }
}

static void on_signal(uv_signal_t *h, int sig) {
  struct cf_runner *r = h->data;
  (void)sig;
  if (r->interrupted) return;
  r->interrupted = 1;
  fprintf(stderr, "costflow: interrupted: stopping running tasks; run "
                  "again to resume\n");
  r->unfinished += (int)(r->npending - r->next);
  r->next = r->npending;
  cf_exec_stop(r->x);
}

int cf_runner_drive(struct cf_runner *r, const int64_t *run_pks, size_t n,
                    int max_active) {
  if (uv_loop_init(&r->loop) < 0) return CF_EXIT_FAIL;
  r->loop_init = 1;
  struct cf_exec_opts o = {0};
  o.home = r->cli->home;
  o.exe = r->cli->exe;
  o.plugin_path = r->cli->plugin_path;
  const char *par = getenv("COSTFLOW_PARALLELISM");
  o.parallelism = par ? atoi(par) : 0;
  const char *grace = getenv("COSTFLOW_KILL_GRACE_MS");
  o.kill_grace_ms = grace ? atoll(grace) : 0;
  const char *lim = getenv("COSTFLOW_LOG_LIMIT");
  o.log_limit = lim ? atoll(lim) : 0;
  const char *min_free = getenv("COSTFLOW_MIN_FREE");
  o.min_free = min_free ? atoll(min_free) : 0;
  if (cf_exec_new(&r->loop, r->st, &o, &r->x) < 0) return CF_EXIT_FAIL;
  r->pending = cf_malloc((n ? n : 1) * sizeof *r->pending);
  if (!r->pending) return CF_EXIT_FAIL;
  memcpy(r->pending, run_pks, n * sizeof *run_pks);
  r->npending = n;
  r->max_active = max_active > 0 ? max_active : 1;
  uv_signal_init(&r->loop, &r->sigint);
  uv_signal_init(&r->loop, &r->sigterm);
  r->sigint.data = r->sigterm.data = r;
  uv_signal_start(&r->sigint, on_signal, SIGINT);
  uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  start_more(r);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  return 0;
}

int cf_runner_see_through(struct cf_runner *r, const struct cf_run_row *run,
                          cf_date d, int *lock, int daemon, int json) {
  int handed = 0;
  if (daemon) {
    if (*lock >= 0) close(*lock);  /* the scheduler takes it from here */
    *lock = -1;
    handed = cf_runner_handoff(r) == 0;
    if (handed) {
      fprintf(stderr, "costflow: the scheduler is driving %s; waiting for "
              "it to end\n", run->run_id);
      cf_runner_wait(r, &run->id, 1);
    } else if ((*lock = cf_runner_lock(r, d)) < 0) {
      return cf_cli_error(CF_EXIT_FAIL, "the run %s of %s is being driven "
                          "by another costflow process", run->run_id,
                          r->dag->id);
    }
  }
  if (!handed) cf_runner_drive(r, &run->id, 1, 1);
  struct cf_run_row now = {0};
  cf_store_run_get_pk(r->st, run->id, &now);
  int code = now.state && !strcmp(now.state, "success") ? CF_EXIT_OK
                                                        : CF_EXIT_FAIL;
  if (!json)
    printf("run %s of %s: %s\n", run->run_id, r->dag->id,
           now.state ? now.state : "?");
  cf_run_row_release(&now);
  cf_print_tasks(r->st, run->id, json);
  return code;
}

void cf_print_tasks(struct cf_store *st, int64_t run_pk, int json) {
  struct cf_ti_row *v = NULL;
  size_t n = 0;
  if (cf_store_ti_list(st, run_pk, &v, &n) < 0) return;
  json_t *arr = json ? json_array() : NULL;
  if (!json)
    printf("%-28s %-16s %4s %8s %5s  %s\n", "TASK", "STATE", "TRY",
           "SECONDS", "EXIT", "REASON");
  for (size_t i = 0; i < n; i++) {
    struct cf_ti_row *t = &v[i];
    char start[32], end[32], dur[32] = "";
    cf_us_to_iso(t->start_us, start);
    cf_us_to_iso(t->end_us, end);
    double secs = t->start_us && t->end_us
                      ? (double)(t->end_us - t->start_us) / 1e6 : -1;
    if (secs >= 0) snprintf(dur, sizeof dur, "%.3f", secs);
    if (json) {
      json_t *o = json_pack("{s:s, s:s, s:i, s:s?, s:s?}", "task_id",
                            t->task_id, "state", t->state, "try_number",
                            t->try_number, "plugin", t->plugin, "reason",
                            t->reason);
      json_object_set_new(o, "start", t->start_us ? json_string(start)
                                                  : json_null());
      json_object_set_new(o, "end", t->end_us ? json_string(end)
                                              : json_null());
      json_object_set_new(o, "duration_s", secs >= 0 ? json_real(secs)
                                                     : json_null());
      json_object_set_new(o, "exit_code", t->exit_code >= 0
                                              ? json_integer(t->exit_code)
                                              : json_null());
      json_object_set_new(o, "signal", t->signal >= 0
                                           ? json_integer(t->signal)
                                           : json_null());
      json_array_append_new(arr, o);
    } else {
      char exitc[16] = "-";
      if (t->exit_code >= 0) snprintf(exitc, sizeof exitc, "%d", t->exit_code);
      else if (t->signal >= 0) snprintf(exitc, sizeof exitc, "s%d", t->signal);
      printf("%-28s %-16s %4d %8s %5s  %s\n", t->task_id, t->state,
             t->try_number, dur[0] ? dur : "-", exitc,
             t->reason ? t->reason : "");
    }
  }
  if (json) {
    json_dumpf(arr, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(arr);
  }
  cf_ti_rows_free(v, n);
}

int cf_conf_add(json_t *obj, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return -1;
  char *key = cf_strndup(kv, (size_t)(eq - kv));
  if (!key) return -1;
  json_object_set_new(obj, key, json_string(eq + 1));
  cf_free(key);
  return 0;
}

void cf_conf_warn_unknown(const struct cf_dag *dag, const json_t *conf) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)conf, key, v) {
    if (json_object_get(dag->params, key)) continue;
    struct cf_buf names = CF_BUF_INIT(0);
    const char *k;
    json_t *w;
    json_object_foreach(dag->params, k, w)
      cf_buf_addf(&names, "%s%s", names.len ? ", " : "", k);
    fprintf(stderr, "costflow: warning: --conf %s: DAG %s has no param '%s' "
            "(%s%s); passed to the run as given\n", key, dag->id, key,
            names.len ? "its params: " : "it has no params",
            names.len ? names.buf : "");
    cf_buf_release(&names);
  }
}

/* ---- hand-off to a running daemon --------------------------------------- */

int cf_runner_daemon_running(struct cf_cli *cli) {
  char *path = cf_asprintf("%s/scheduler.lock", cli->home);
  int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1, held = 0;
  cf_free(path);
  if (fd < 0) return 0;
  /* the daemon holds LOCK_EX for its lifetime; a shared probe fails */
  if (flock(fd, LOCK_SH | LOCK_NB) < 0) held = errno == EWOULDBLOCK;
  close(fd);
  return held;
}

int cf_runner_handoff(struct cf_runner *r) {
  if (!cf_runner_daemon_running(r->cli)) return CF_ENOTFOUND;
  json_t *req = json_pack("{s:s, s:s}", "op", "drive", "dag", r->dag->id);
  char *line = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (!line) return -ENOMEM;
  char reply[CF_CONTROL_MAX_LINE];
  int rc = cf_control_request(r->cli->home, line, reply, sizeof reply, 5000);
  free(line);
  if (rc < 0) return rc;
  json_t *rep = json_loads(reply, 0, NULL);
  int ok = json_is_true(json_object_get(rep, "ok"));
  if (!ok)
    fprintf(stderr, "costflow: the scheduler did not take the run: %s\n",
            json_string_value(json_object_get(rep, "error"))
                ? json_string_value(json_object_get(rep, "error"))
                : reply);
  json_decref(rep);
  return ok ? 0 : CF_ESTATE;
}

void cf_runner_wait(struct cf_runner *r, const int64_t *run_pks, size_t n) {
  unsigned char *done = cf_calloc(n ? n : 1, 1);
  size_t left = n;
  int gone = 0;
  if (!done) return;
  while (left) {
    for (size_t i = 0; i < n; i++) {
      if (done[i]) continue;
      struct cf_run_row run = {0};
      if (cf_store_run_get_pk(r->st, run_pks[i], &run) < 0) {
        cf_run_row_release(&run);
        continue;
      }
      if (!strcmp(run.state, "success") || !strcmp(run.state, "failed")) {
        done[i] = 1;
        left--;
        if (!strcmp(run.state, "success")) r->succeeded++;
        else r->failed++;
      }
      cf_run_row_release(&run);
    }
    if (!left) break;
    if (gone) {                 /* one last look was taken above */
      fprintf(stderr, "costflow: the scheduler stopped; it resumes the "
                      "run when it starts again\n");
      break;
    }
    /* the client polls; the daemon never does */
    usleep(100 * 1000);
    gone = !cf_runner_daemon_running(r->cli);
  }
  r->unfinished += (int)left;
  cf_free(done);
}
