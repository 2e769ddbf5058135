/* Finds, dlopens and caches stage plugins from the configured plugin
 * directories only. The ABI constant is read before anything else runs. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "costflow/common.h"
#include "costflow/plugin_host.h"

#ifndef CF_BUILD_PLUGIN_DIR
#define CF_BUILD_PLUGIN_DIR ""
#endif

struct loaded {
  char *name;
  void *dl;
  const struct cf_plugin *desc;
};

struct cf_plugin_registry {
  char *path;                       /* colon-separated search path */
  struct loaded *v;
  size_t n, alloc;
  const struct cf_plugin **listed;  /* cf_registry_list result */
};

const char *cf_param_type_name(enum cf_param_type t) {
  switch (t) {
  case CF_PARAM_STRING: return "string";
  case CF_PARAM_INT: return "int";
  case CF_PARAM_BOOL: return "bool";
  case CF_PARAM_DURATION: return "duration";
  case CF_PARAM_LIST: return "list";
  case CF_PARAM_MAP: return "map";
  case CF_PARAM_JSON: return "json";
  }
  return "?";
}

/* Appends dir to the colon list unless it is already there. */
static int path_add(struct cf_buf *b, const char *dir) {
  size_t n = strlen(dir);
  if (!n) return 0;
  for (const char *p = b->buf; *p;) {
    const char *e = strchr(p, ':');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && !strncmp(p, dir, n)) return 0;
    p += len + (e != NULL);
  }
  if (b->len && cf_buf_addch(b, ':') < 0) return -ENOMEM;
  return cf_buf_add(b, dir, n);
}

int cf_registry_new(const char *dirs, struct cf_plugin_registry **out) {
  struct cf_plugin_registry *r = cf_calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  struct cf_buf b = CF_BUF_INIT(0);
  int rc = 0;
  char *copy = cf_strdup(dirs ? dirs : "");
  if (!copy) rc = -ENOMEM;
  char *save = NULL;
  for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && rc == 0;
       d = strtok_r(NULL, ":", &save))
    rc = path_add(&b, d);
  cf_free(copy);
  if (rc == 0) rc = path_add(&b, CF_BUILD_PLUGIN_DIR);
  if (rc == 0 && !(dirs && *dirs)) {
    rc = path_add(&b, "/usr/local/lib/costflow/plugins");
    if (rc == 0) rc = path_add(&b, "/usr/lib/costflow/plugins");
  }
  if (rc < 0) {
    cf_buf_release(&b);
    cf_free(r);
    return rc;
  }
  r->path = cf_buf_detach(&b, NULL);
  *out = r;
  return 0;
}

void cf_registry_free(struct cf_plugin_registry *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    /* dlclose is skipped on purpose: descriptors may still be referenced
     * by loaded DAGs, and plugins are few; the process exit reclaims. */
    cf_free(r->v[i].name);
  }
  cf_free(r->v);
  cf_free(r->listed);
  cf_free(r->path);
  cf_free(r);
}

const char *cf_registry_path(const struct cf_plugin_registry *r) {
  return r->path;
}

static int valid_name(const char *name) {
  if (!*name || strlen(name) > 64) return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
      return 0;
  return 1;
}

/* dlopens one file and checks the ABI and descriptor. */
static const struct cf_plugin *open_file(const char *file, const char *name,
                                         void **dl_out, char **errmsg) {
  void *dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    *errmsg = cf_asprintf("plugin '%s': %s", name, dlerror());
    return NULL;
  }
  const uint32_t *abi = dlsym(dl, "cf_plugin_abi");
  cf_plugin_entry_fn entry = (cf_plugin_entry_fn)dlsym(dl, "cf_plugin_entry");
  const struct cf_plugin *d = NULL;
  if (!abi || !entry) {
    *errmsg = cf_asprintf("plugin '%s' (%s) does not export cf_plugin_abi "
                          "and cf_plugin_entry", name, file);
    goto fail;
  }
  if (*abi != CF_PLUGIN_ABI) {
    *errmsg = cf_asprintf("plugin '%s' was built for ABI %u, this costflow "
                          "has ABI %u", name, *abi, CF_PLUGIN_ABI);
    goto fail;
  }
  d = entry();
  if (!d || d->abi != CF_PLUGIN_ABI || !d->name || !d->run) {
    *errmsg = cf_asprintf("plugin '%s' returned an invalid descriptor", name);
    goto fail;
  }
  if (strcmp(d->name, name)) {
    *errmsg = cf_asprintf("plugin file '%s' names itself '%s'", file,
                          d->name);
    goto fail;
  }
  *dl_out = dl;
  return d;
fail:
  dlclose(dl);
  return NULL;
}

static struct loaded *find_loaded(struct cf_plugin_registry *r,
                                  const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->v[i].name, name)) return &r->v[i];
  return NULL;
}

static int remember(struct cf_plugin_registry *r, const char *name, void *dl,
                    const struct cf_plugin *d) {
  if (r->n == r->alloc &&
      cf_grow(&r->v, &r->alloc, r->n + 1, sizeof *r->v, 16) < 0)
    return -ENOMEM;
  char *nm = cf_strdup(name);
  if (!nm) return -ENOMEM;
  r->v[r->n++] = (struct loaded){nm, dl, d};
  return 0;
}

const struct cf_plugin *cf_registry_get(struct cf_plugin_registry *r,
                                        const char *name, char **errmsg) {
  *errmsg = NULL;
  struct loaded *l = find_loaded(r, name);
  if (l) return l->desc;
  if (!valid_name(name)) {
    *errmsg = cf_asprintf("invalid plugin name '%s'", name);
    return NULL;
  }
  char *path = cf_strdup(r->path);
  if (!path) return NULL;
  const struct cf_plugin *d = NULL;
  char *save = NULL;
  for (char *dir = strtok_r(path, ":", &save); dir && !d && !*errmsg;
       dir = strtok_r(NULL, ":", &save)) {
    if (!*dir) continue;
    char *file = cf_asprintf("%s/%s.so", dir, name);
    struct stat st;
    if (file && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
      void *dl = NULL;
      d = open_file(file, name, &dl, errmsg);
      if (d && remember(r, name, dl, d) < 0) d = NULL;
    }
    cf_free(file);
  }
  cf_free(path);
  if (!d && !*errmsg)
    *errmsg = cf_asprintf("unknown plugin '%s' (searched %s)", name, r->path);
  return d;
}

const struct cf_plugin *cf_registry_lookup(void *registry, const char *name,
                                           char **errmsg) {
  return cf_registry_get(registry, name, errmsg);
}

static int cmp_desc(const void *a, const void *b) {
  const struct cf_plugin *x = *(const struct cf_plugin *const *)a;
  const struct cf_plugin *y = *(const struct cf_plugin *const *)b;
  return strcmp(x->name, y->name);
}

int cf_registry_list(struct cf_plugin_registry *r,
                     const struct cf_plugin *const **out, size_t *n,
                     void (*on_error)(const char *path, const char *msg)) {
  char *path = cf_strdup(r->path);
  if (!path) return -ENOMEM;
  char *save = NULL;
  for (char *dir = strtok_r(path, ":", &save); dir;
       dir = strtok_r(NULL, ":", &save)) {
    DIR *d = opendir(dir);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (len < 4 || strcmp(e->d_name + len - 3, ".so")) continue;
      char *name = cf_strndup(e->d_name, len - 3);
      if (!name) continue;
      if (!find_loaded(r, name)) {
        char *err = NULL;
        cf_registry_get(r, name, &err);
        if (err && on_error) {
          char *file = cf_asprintf("%s/%s", dir, e->d_name);
          on_error(file ? file : e->d_name, err);
          cf_free(file);
        }
        cf_free(err);
      }
      cf_free(name);
    }
    closedir(d);
  }
  cf_free(path);
  cf_free(r->listed);
  r->listed = cf_malloc((r->n ? r->n : 1) * sizeof *r->listed);
  if (!r->listed) return -ENOMEM;
  for (size_t i = 0; i < r->n; i++) r->listed[i] = r->v[i].desc;
  qsort(r->listed, r->n, sizeof *r->listed, cmp_desc);
  *out = r->listed;
  *n = r->n;
  return 0;
}
