/* Actions: trigger a run for a date, rerun a date or a task (+
 * downstream), backfill a range (with a dry-run plan). The web layer
 * creates or clears the run in the store under the per-run lock (the
 * same flock the CLI and the scheduler take), releases it, then hands the
 * run to the executor through opts.submit. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "clear.h"
#include "web-int.h"

#define MAX_BACKFILL_DAYS 366

/* The per-run lock shared with the CLI and the scheduler (core). */
static int run_lock(struct cf_web *w, const char *dag_id, cf_date d) {
  return cf_run_lock(w->home, dag_id, d);
}

/* The DAG named by param[0], or responds 404. */
static struct cf_dag *req_dag(struct cf_web_req *r) {
  struct cf_dag *dag = cf__dag_cache_get(r->web, r->param[0]);
  if (!dag)
    cf__respond_error(r, 404, "no loadable DAG '%s' in %s (see "
                      "import_errors in /api/dags)", r->param[0],
                      r->web->dags_dir);
  return dag;
}

static int submit(struct cf_web *w, const char *dag_id, int64_t pk,
                  char **err) {
  if (!w->o.submit) {
    *err = cf_strdup("no executor attached to this web server");
    return CF_ESTATE;
  }
  return w->o.submit(w->o.submit_data, dag_id, pk, err);
}

static void respond_submit_error(struct cf_web_req *r, int rc, char *err) {
  int st = rc == CF_EBUSY ? 409 : 503;
  cf__respond_error(r, st, "cannot start the run: %s",
                    err ? err : cf_strerror(rc));
  cf_free(err);
}

static int get_date(struct cf_web_req *r, json_t *body, const char *key,
                    cf_date *d) {
  const char *s = json_string_value(json_object_get(body, key));
  if (!s || cf_date_parse(s, d) < 0) {
    cf__respond_error(r, 400, "'%s' must be a YYYY-MM-DD date", key);
    return -1;
  }
  return 0;
}

void cf__api_trigger(struct cf_web_req *r) {
  json_t *body = cf__req_json(r);
  struct cf_run_row run = {0};
  char *conf = NULL, *err = NULL;
  int lock = -1;
  cf_date d;
  if (!body) return;
  struct cf_dag *dag = req_dag(r);
  if (!dag || get_date(r, body, "date", &d) < 0) goto done;
  json_t *cj = json_object_get(body, "conf");
  if (cj && !json_is_object(cj)) {
    cf__respond_error(r, 400, "'conf' must be a JSON object");
    goto done;
  }
  conf = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  lock = run_lock(r->web, dag->id, d);
  if (lock < 0) {
    cf__respond_error(r, 409, "the run of %s for %s is being driven by "
                      "another process", dag->id,
                      json_string_value(json_object_get(body, "date")));
    goto done;
  }
  int created = 0;
  if (cf_store_run_create(r->web->st, dag->id, d, "manual", conf, &run,
                          &created) < 0) {
    cf__respond_error(r, 500, "store: %s", cf_store_errmsg(r->web->st));
    goto done;
  }
  if (!created && (!strcmp(run.state, "success") ||
                   !strcmp(run.state, "failed"))) {
    cf__respond_json(r, 409, json_pack("{s:s, s:o}", "error",
        "this date already ran; rerun it instead", "run",
        cf__run_json(&run)));
    goto done;
  }
  close(lock);
  lock = -1;
  int rc = submit(r->web, dag->id, run.id, &err);
  if (rc < 0) {
    respond_submit_error(r, rc, err);
    goto done;
  }
  cf_store_event(r->web->st, dag->id, run.id, NULL, "web_trigger", NULL);
  cf__respond_json(r, created ? 201 : 202,
                   json_pack("{s:b, s:o}", "created", created, "run",
                             cf__run_json(&run)));
done:
  if (lock >= 0) close(lock);
  free(conf);
  cf_run_row_release(&run);
  json_decref(body);
}

/* Which tasks a rerun clears; NULL after responding 400/500. */
static unsigned char *rerun_select(struct cf_web_req *r, json_t *body,
                                   struct cf_dag *dag, int64_t run_pk) {
  const char *task = json_string_value(json_object_get(body, "task"));
  int down = json_is_true(json_object_get(body, "downstream"));
  int failed_only = json_is_true(json_object_get(body, "failed_only"));
  unsigned char *sel = cf_calloc(dag->ntasks ? dag->ntasks : 1, 1);
  if (!sel) {
    cf__respond_error(r, 500, "out of memory");
    return NULL;
  }
  if (json_object_get(body, "task") && !task) {
    cf__respond_error(r, 400, "'task' must be a string");
    goto bad;
  }
  if (task) {
    long i = cf_dag_task_index(dag, task);
    if (i < 0) {
      cf__respond_error(r, 404, "%s has no task '%s'", dag->id, task);
      goto bad;
    }
    sel[i] = 1;
    if (down) cf_select_downstream(dag, (size_t)i, sel);
  } else {
    memset(sel, 1, dag->ntasks);
  }
  if (failed_only) {
    struct cf_ti_row *v = NULL;
    size_t n = 0;
    cf_store_ti_list(r->web->st, run_pk, &v, &n);
    for (size_t i = 0; i < dag->ntasks; i++) {
      int bad = 0;
      for (size_t j = 0; j < n; j++)
        if (!strcmp(v[j].task_id, dag->tasks[i].id))
          bad = !strcmp(v[j].state, "failed") ||
                !strcmp(v[j].state, "upstream_failed");
      if (!bad) sel[i] = 0;
    }
    cf_ti_rows_free(v, n);
  }
  return sel;
bad:
  cf_free(sel);
  return NULL;
}

void cf__api_rerun(struct cf_web_req *r) {
  json_t *body = cf__req_json(r);
  struct cf_run_row run = {0};
  unsigned char *sel = NULL;
  char *err = NULL;
  int lock = -1;
  if (!body) return;
  struct cf_dag *dag = req_dag(r);
  if (!dag || cf__req_run(r, &run) < 0) goto done;
  if (!(sel = rerun_select(r, body, dag, run.id))) goto done;
  json_t *cleared = json_array();
  for (size_t k = 0; k < dag->ntasks; k++)
    if (sel[dag->topo[k]])
      json_array_append_new(cleared, json_string(dag->tasks[dag->topo[k]].id));
  if (json_is_true(json_object_get(body, "dry_run")) ||
      json_array_size(cleared) == 0) {
    cf__respond_json(r, 200, json_pack("{s:b, s:o, s:o}", "dry_run", 1,
                     "would_clear", cleared, "run", cf__run_json(&run)));
    goto done;
  }
  lock = run_lock(r->web, dag->id, run.logical_date);
  if (lock < 0) {
    json_decref(cleared);
    cf__respond_error(r, 409, "run %s is being driven right now; wait for "
                      "it to finish", run.run_id);
    goto done;
  }
  if (cf_clear_tasks(r->web->st, dag, run.id, sel) < 0) {
    json_decref(cleared);
    cf__respond_error(r, 500, "store: %s", cf_store_errmsg(r->web->st));
    goto done;
  }
  close(lock);
  lock = -1;
  int rc = submit(r->web, dag->id, run.id, &err);
  if (rc < 0) {
    json_decref(cleared);
    respond_submit_error(r, rc, err);
    goto done;
  }
  cf_store_event(r->web->st, dag->id, run.id, NULL, "web_rerun", NULL);
  int64_t pk = run.id;
  cf_run_row_release(&run);
  cf_store_run_get_pk(r->web->st, pk, &run);
  cf__respond_json(r, 202, json_pack("{s:o, s:o}", "cleared", cleared,
                                     "run", cf__run_json(&run)));
done:
  if (lock >= 0) close(lock);
  cf_free(sel);
  cf_run_row_release(&run);
  json_decref(body);
}

void cf__api_backfill(struct cf_web_req *r) {
  json_t *body = cf__req_json(r);
  char *conf = NULL;
  json_t *plan = NULL;
  unsigned char *all = NULL;
  cf_date d1, d2;
  if (!body) return;
  struct cf_dag *dag = req_dag(r);
  if (!dag || get_date(r, body, "from", &d1) < 0 ||
      get_date(r, body, "to", &d2) < 0)
    goto done;
  if (d2 < d1 || d2 - d1 >= MAX_BACKFILL_DAYS) {
    cf__respond_error(r, 400, "'to' must be on or after 'from', at most %d "
                      "days later", MAX_BACKFILL_DAYS - 1);
    goto done;
  }
  const char *rp = json_string_value(json_object_get(body, "reprocess"));
  if (!rp) rp = "none";
  if (strcmp(rp, "none") && strcmp(rp, "failed") && strcmp(rp, "all")) {
    cf__respond_error(r, 400, "'reprocess' is none, failed or all");
    goto done;
  }
  json_t *cj = json_object_get(body, "conf");
  if (cj && !json_is_object(cj)) {
    cf__respond_error(r, 400, "'conf' must be a JSON object");
    goto done;
  }
  conf = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  int dry = json_is_true(json_object_get(body, "dry_run"));
  all = cf_malloc(dag->ntasks ? dag->ntasks : 1);
  plan = json_array();
  if (!all || !plan) goto done;
  memset(all, 1, dag->ntasks);
  int submitted = 0, refused = 0;
  for (cf_date d = d1; d <= d2; d++) {
    if (!cf_dag_covers_date(dag, d)) continue;
    char ds[11];
    cf_date_format(d, ds);
    struct cf_run_row run = {0};
    int exists = cf_store_run_get(r->web->st, dag->id, d, &run) == 0;
    const char *was = exists ? run.state : NULL;
    int finished = exists && (!strcmp(was, "success") ||
                              !strcmp(was, "failed"));
    const char *action = !exists ? "run" : !finished ? "resume"
        : (!strcmp(rp, "all") || (!strcmp(rp, "failed") &&
                                   !strcmp(was, "failed"))) ? "rerun"
        : "skip";
    json_t *item = json_pack("{s:s, s:s?, s:s}", "date", ds, "state", was,
                             "action", action);
    json_array_append_new(plan, item);
    if (dry || !strcmp(action, "skip")) {
      cf_run_row_release(&run);
      continue;
    }
    char *err = NULL;
    int lock = run_lock(r->web, dag->id, d), rc = CF_EBUSY;
    if (lock >= 0) {
      int created = 0;
      if (!exists)
        rc = cf_store_run_create(r->web->st, dag->id, d, "backfill", conf,
                                 &run, &created);
      else
        rc = strcmp(action, "rerun") ? 0
             : cf_clear_tasks(r->web->st, dag, run.id, all);
      close(lock);
      if (rc == 0) rc = submit(r->web, dag->id, run.id, &err);
    }
    if (rc < 0) {
      refused++;
      json_object_set_new(item, "error", json_string(
          err ? err : rc == CF_EBUSY ? "being driven by another process"
                                     : cf_strerror(rc)));
    } else {
      submitted++;
    }
    cf_free(err);
    cf_run_row_release(&run);
  }
  if (!dry)
    cf_store_event(r->web->st, dag->id, 0, NULL, "web_backfill", NULL);
  cf__respond_json(r, dry ? 200 : 202,
                   json_pack("{s:s, s:b, s:s, s:O, s:i, s:i}", "dag_id",
                             dag->id, "dry_run", dry, "reprocess", rp,
                             "plan", plan, "submitted", submitted,
                             "refused", refused));
done:
  json_decref(plan);
  cf_free(all);
  free(conf);
  json_decref(body);
}
