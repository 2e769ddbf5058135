/* The DAGs folder: loads every *.yaml / *.yml file, keeps serving the
 * valid ones, reports each bad file once with all its errors, and picks up
 * added, changed and removed files through inotify (uv_fs_event on the
 * folder, debounced 50 ms): no periodic re-parse. A file that turns bad
 * keeps its last good version running until it is fixed or removed. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "daemon.h"

#define DEBOUNCE_MS 50

struct bad_file {
  char *path;
  int64_t mtime_ns, size;
  struct bad_file *next;
};

struct cf_watch {
  struct cf_daemon *d;
  uv_fs_event_t ev;
  uv_timer_t debounce;
  int open_handles;
  struct bad_file *bad;
};

struct found {
  char *path;
  int64_t mtime_ns, size;
};

static int is_dag_name(const char *n) {
  size_t l = strlen(n);
  if (n[0] == '.') return 0;
  return (l > 5 && !strcmp(n + l - 5, ".yaml")) ||
         (l > 4 && !strcmp(n + l - 4, ".yml"));
}

static void store_dag(struct cf_daemon *d, const struct cf_dag *dag,
                      const char *import_error) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(cf_store_db(d->st),
          "INSERT INTO dags(dag_id, path, sha256, updated_at, import_error) "
          "VALUES(?1,?2,?3,strftime('%Y-%m-%dT%H:%M:%fZ','now'),?4) "
          "ON CONFLICT(dag_id) DO UPDATE SET path=excluded.path, "
          "sha256=CASE WHEN ?4 IS NULL THEN excluded.sha256 ELSE sha256 END,"
          " updated_at=excluded.updated_at, import_error=?4", -1, &s,
          NULL) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, dag->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, dag->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, dag->sha256, -1, SQLITE_STATIC);
    if (import_error) sqlite3_bind_text(s, 4, import_error, -1,
                                        SQLITE_STATIC);
    sqlite3_step(s);
  }
  sqlite3_finalize(s);
}

static void unlist(struct cf_daemon *d, struct cf_dentry *e,
                   const char *why) {
  for (struct cf_dentry **pp = &d->dags; *pp; pp = &(*pp)->next)
    if (*pp == e) {
      *pp = e->next;
      break;
    }
  e->listed = 0;
  cf__tick_stop(e->tick);
  cf__sensor_stop(e->sensor);
  e->tick = NULL;
  e->sensor = NULL;
  cf__dlog(d, "info", e->dag->id, 0, NULL, 0, "dag %s (%s)", why, e->file);
  cf__dentry_unref(d, e);
}

static void list_dag(struct cf_daemon *d, struct cf_dag *dag,
                     const struct found *f) {
  struct cf_dentry *e = cf_calloc(1, sizeof *e);
  char *file = cf_strdup(f->path);
  if (!e || !file) {
    cf_free(e);
    cf_free(file);
    cf_dag_free(dag);
    return;
  }
  e->dag = dag;
  e->file = file;
  e->mtime_ns = f->mtime_ns;
  e->size = f->size;
  e->refs = 1;
  e->listed = 1;
  e->next = d->dags;
  d->dags = e;
  store_dag(d, dag, NULL);
  cf__dlog(d, "info", dag->id, 0, NULL, 0, "dag loaded from %s (%zu tasks"
           "%s%s%s)", f->path, dag->ntasks, dag->schedule ? ", schedule " : "",
           dag->schedule ? dag->schedule : "",
           dag->trigger ? ", file trigger" : "");
  cf__tick_start(d, e);
  cf__sensor_start(d, e);
  cf__daemon_pump_soon(d);
}

static struct bad_file **find_bad(struct cf_watch *w, const char *path) {
  struct bad_file **pp = &w->bad;
  for (; *pp; pp = &(*pp)->next)
    if (!strcmp((*pp)->path, path)) break;
  return pp;
}

static void drop_bad(struct cf_watch *w, const char *path) {
  struct bad_file **pp = find_bad(w, path), *b = *pp;
  if (!b) return;
  *pp = b->next;
  cf_free(b->path);
  cf_free(b);
}

static void report_bad(struct cf_watch *w, const struct found *f,
                       const char *errors, struct cf_dentry *kept) {
  struct cf_daemon *d = w->d;
  struct bad_file **pp = find_bad(w, f->path), *b = *pp;
  if (!b && (b = cf_calloc(1, sizeof *b)) && !(b->path = cf_strdup(f->path))) {
    cf_free(b);
    b = NULL;
  }
  if (b) {
    if (!*pp) *pp = b;
    b->mtime_ns = f->mtime_ns;
    b->size = f->size;
  }
  cf__dlog(d, "error", kept ? kept->dag->id : NULL, 0, NULL, 0,
           "invalid DAG file %s%s: %s", f->path,
           kept ? " (the previous version keeps running)" : "", errors);
  json_t *o = json_pack("{s:s, s:s}", "file", f->path, "errors", errors);
  char *detail = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  cf_store_event(d->st, kept ? kept->dag->id : NULL, 0, NULL,
                 "dag_import_error", detail);
  free(detail);
  if (kept) store_dag(d, kept->dag, errors);
}

static void load_file(struct cf_watch *w, const struct found *f) {
  struct cf_daemon *d = w->d;
  struct cf_dentry *old = NULL;
  for (struct cf_dentry *e = d->dags; e; e = e->next)
    if (!strcmp(e->file, f->path)) old = e;
  if (old && old->mtime_ns == f->mtime_ns && old->size == f->size) return;
  struct bad_file *b = *find_bad(w, f->path);
  if (b && b->mtime_ns == f->mtime_ns && b->size == f->size) return;

  struct cf_diags diags = CF_DIAGS_INIT;
  struct cf_dag_load_opts o = {0, cf_registry_lookup, d->reg};
  struct cf_dag *dag = NULL;
  int rc = cf_dag_load(f->path, &o, &dag, &diags);
  if (rc == 0) {
    struct cf_dentry *same = cf__daemon_find(d, dag->id);
    if (same && same != old)
      cf_diags_add(&diags, f->path, 1, 1, "dag id '%s' is already defined "
                   "in %s", dag->id, same->file);
  }
  if (rc < 0 || diags.n) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m) {
      cf_diags_print(&diags, m);
      fclose(m);
    }
    while (len && text[len - 1] == '\n') text[--len] = '\0';
    report_bad(w, f, text ? text : cf_strerror(rc), old);
    free(text);
    cf_diags_release(&diags);
    cf_dag_free(dag);
    return;
  }
  cf_diags_release(&diags);
  drop_bad(w, f->path);
  if (old && !strcmp(old->dag->sha256, dag->sha256) &&
      !strcmp(old->dag->id, dag->id)) {
    old->mtime_ns = f->mtime_ns;     /* touched, same bytes */
    old->size = f->size;
    cf_dag_free(dag);
    return;
  }
  if (old) unlist(d, old, "changed: reloading");
  list_dag(d, dag, f);
}

static int cmp_found(const void *a, const void *b) {
  return strcmp(((const struct found *)a)->path,
                ((const struct found *)b)->path);
}

void cf__watch_rescan(struct cf_watch *w) {
  struct cf_daemon *d = w->d;
  if (d->stopping) return;
  DIR *dir = opendir(d->cli->dags_dir);
  struct found *v = NULL;
  size_t n = 0, alloc = 0;
  if (!dir) {
    cf__dlog(d, "error", NULL, 0, NULL, 0, "cannot read %s: %s",
             d->cli->dags_dir, strerror(errno));
    return;
  }
  struct dirent *de;
  while ((de = readdir(dir))) {
    if (!is_dag_name(de->d_name)) continue;
    char *path = cf_asprintf("%s/%s", d->cli->dags_dir, de->d_name);
    struct stat sb;
    if (!path || stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
      cf_free(path);
      continue;
    }
    if (n == alloc && cf_grow(&v, &alloc, n + 1, sizeof *v, 16) < 0) {
      cf_free(path);
      break;
    }
    v[n++] = (struct found){path,
        (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec,
        (int64_t)sb.st_size};
  }
  closedir(dir);
  if (n) qsort(v, n, sizeof *v, cmp_found);   /* stable: first file wins */
  /* removed files first, so a DAG id can move between files */
  for (struct cf_dentry *e = d->dags, *next; e; e = next) {
    next = e->next;
    int present = 0;
    for (size_t i = 0; i < n && !present; i++)
      present = !strcmp(v[i].path, e->file);
    if (!present) unlist(d, e, "removed");
  }
  for (struct bad_file **pp = &w->bad; *pp;) {
    int present = 0;
    for (size_t i = 0; i < n && !present; i++)
      present = !strcmp(v[i].path, (*pp)->path);
    if (present) {
      pp = &(*pp)->next;
    } else {
      struct bad_file *b = *pp;
      *pp = b->next;
      cf_free(b->path);
      cf_free(b);
    }
  }
  for (size_t i = 0; i < n; i++) {
    load_file(w, &v[i]);
    cf_free(v[i].path);
  }
  cf_free(v);
}

static void debounce_cb(uv_timer_t *h) { cf__watch_rescan(h->data); }

static void on_event(uv_fs_event_t *h, const char *name, int events,
                     int status) {
  struct cf_watch *w = h->data;
  (void)events;
  if (status < 0 || (name && name[0] == '.')) return;
  uv_timer_start(&w->debounce, debounce_cb, DEBOUNCE_MS, 0);
}

int cf__watch_start(struct cf_daemon *d, struct cf_watch **out) {
  struct cf_watch *w = cf_calloc(1, sizeof *w);
  if (!w) return -ENOMEM;
  w->d = d;
  struct stat sb;
  if (stat(d->cli->dags_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
    cf_free(w);
    return -ENOENT;
  }
  uv_fs_event_init(&d->loop, &w->ev);
  uv_timer_init(&d->loop, &w->debounce);
  w->ev.data = w->debounce.data = w;
  w->open_handles = 2;
  int rc = uv_fs_event_start(&w->ev, on_event, d->cli->dags_dir, 0);
  *out = w;
  if (rc < 0)
    cf__dlog(d, "warn", NULL, 0, NULL, 0, "no inotify on %s (%s): send "
             "SIGHUP to reload", d->cli->dags_dir, uv_strerror(rc));
  cf__watch_rescan(w);
  return 0;
}

static void watch_closed(uv_handle_t *h) {
  struct cf_watch *w = h->data;
  if (--w->open_handles) return;
  while (w->bad) {
    struct bad_file *b = w->bad;
    w->bad = b->next;
    cf_free(b->path);
    cf_free(b);
  }
  cf_free(w);
}

void cf__watch_close(struct cf_watch *w) {
  if (!w) return;
  uv_close((uv_handle_t *)&w->ev, watch_closed);
  uv_close((uv_handle_t *)&w->debounce, watch_closed);
}
