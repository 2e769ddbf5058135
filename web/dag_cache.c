/* The DAG files of the DAGs folder, parsed once and reloaded only when a
 * file's mtime or size changes, so listing DAGs stays cheap. Files that
 * fail to load keep their diagnostics as the "import error". */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "costflow/plugin_host.h"
#include "web-int.h"

#define MAX_DAG_FILES 1000

struct cf__dag_cache {
  struct cf__dag_entry *v;
  size_t n;
};

int cf__dag_cache_new(struct cf__dag_cache **out) {
  *out = cf_calloc(1, sizeof **out);
  return *out ? 0 : CF_EINVALID;
}

static void entry_release(struct cf__dag_entry *e) {
  cf_free(e->path);
  cf_free(e->id);
  cf_free(e->error);
  cf_dag_free(e->dag);
}

void cf__dag_cache_free(struct cf__dag_cache *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) entry_release(&c->v[i]);
  cf_free(c->v);
  cf_free(c);
}

static int is_dag_file(const char *name) {
  size_t n = strlen(name);
  if (name[0] == '.') return 0;
  return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
         (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const struct cf__dag_entry *)a)->path,
                ((const struct cf__dag_entry *)b)->path);
}

static void entry_load(struct cf_web *w, struct cf__dag_entry *e) {
  struct cf_diags d = CF_DIAGS_INIT;
  struct cf_dag_load_opts o = {0, cf_registry_lookup, w->reg};
  if (cf_dag_load(e->path, &o, &e->dag, &d) == 0) {
    e->id = cf_strdup(e->dag->id);
  } else {
    struct cf_buf b = CF_BUF_INIT(16384);
    for (size_t i = 0; i < d.n; i++)
      cf_buf_addf(&b, "%s:%d:%d: %s\n", d.v[i].file, d.v[i].line,
                  d.v[i].col, d.v[i].msg);
    if (!b.len) cf_buf_adds(&b, "cannot load this file");
    e->error = cf_buf_detach(&b, NULL);
  }
  cf_diags_release(&d);
}

int cf__dag_cache_refresh(struct cf_web *w, struct cf__dag_entry **v,
                          size_t *n) {
  struct cf__dag_cache *c = w->dags;
  DIR *dir = opendir(w->dags_dir);
  struct cf__dag_entry *nv = NULL;
  size_t nn = 0;
  struct dirent *de;
  while (dir && (de = readdir(dir)) && nn < MAX_DAG_FILES) {
    if (!is_dag_file(de->d_name)) continue;
    char *path = cf_asprintf("%s/%s", w->dags_dir, de->d_name);
    struct stat sb;
    if (!path || stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
      cf_free(path);
      continue;
    }
    struct cf__dag_entry *grow = cf_realloc(nv, (nn + 1) * sizeof *nv);
    if (!grow) {
      cf_free(path);
      break;
    }
    nv = grow;
    struct cf__dag_entry *e = &nv[nn++];
    memset(e, 0, sizeof *e);
    e->path = path;
    e->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                  sb.st_mtim.tv_nsec;
    e->size = sb.st_size;
    /* reuse an unchanged entry from the last scan */
    for (size_t i = 0; i < c->n; i++) {
      struct cf__dag_entry *old = &c->v[i];
      if (old->path && !strcmp(old->path, path) &&
          old->mtime_ns == e->mtime_ns && old->size == e->size) {
        e->id = old->id;
        e->dag = old->dag;
        e->error = old->error;
        old->id = old->error = NULL;
        old->dag = NULL;
        goto next;
      }
    }
    entry_load(w, e);
  next:;
  }
  if (dir) closedir(dir);
  for (size_t i = 0; i < c->n; i++) entry_release(&c->v[i]);
  cf_free(c->v);
  if (nn) qsort(nv, nn, sizeof *nv, cmp_entry);
  c->v = nv;
  c->n = nn;
  *v = c->v;
  *n = c->n;
  return 0;
}

struct cf_dag *cf__dag_cache_get(struct cf_web *w, const char *id) {
  struct cf__dag_entry *v;
  size_t n;
  cf__dag_cache_refresh(w, &v, &n);
  for (size_t i = 0; i < n; i++)
    if (v[i].id && !strcmp(v[i].id, id)) return v[i].dag;
  return NULL;
}
