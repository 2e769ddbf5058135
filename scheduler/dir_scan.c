/* Folder walks on the libuv thread pool: readdir, stat and inotify watch
 * registration of a tree, collected into lists the loop thread reads in
 * the walk's done callback (dir_scan.h has the contract). */
#include <dirent.h>
#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include "costflow/common.h"
#include "dir_scan.h"

struct cf_dscan *cf__dscan_new(const char *root, int depth) {
  struct cf_dscan *sc = cf_calloc(1, sizeof *sc);
  if (!sc || !(sc->root = cf_strdup(root))) {
    cf_free(sc);
    return NULL;
  }
  sc->depth = sc->max_depth = depth;
  sc->ifd = -1;
  sc->w.data = sc;
  return sc;
}

void cf__dscan_free(struct cf_dscan *sc) {
  if (!sc) return;
  for (size_t i = 0; i < sc->ndirs; i++) cf_free(sc->dirs[i].path);
  for (size_t i = 0; i < sc->nfiles; i++) cf_free(sc->files[i].path);
  cf_free(sc->dirs);
  cf_free(sc->files);
  cf_free(sc->root);
  cf_free(sc);
}

static void add_dir(struct cf_dscan *sc, const char *dir) {
  int wd = sc->ifd >= 0 ? inotify_add_watch(sc->ifd, dir, sc->mask) : -1;
  char *p = NULL;
  if (sc->ifd >= 0 && wd < 0) return;           /* gone, or no watches */
  if (cf_grow(&sc->dirs, &sc->adirs, sc->ndirs + 1, sizeof *sc->dirs, 64) ||
      !(p = cf_strdup(dir))) {
    sc->err = -ENOMEM;
    return;
  }
  sc->dirs[sc->ndirs++] = (struct cf_dscan_dir){p, wd};
}

static void add_file(struct cf_dscan *sc, char *path) {
  struct stat sb;
  if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
    cf_free(path);                              /* gone, or not a file */
    return;
  }
  if (cf_grow(&sc->files, &sc->afiles, sc->nfiles + 1, sizeof *sc->files,
              64)) {
    sc->err = -ENOMEM;
    cf_free(path);
    return;
  }
  sc->files[sc->nfiles++] = (struct cf_dscan_file){
      path, (int64_t)sb.st_size,
      (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec};
}

/* The folder is watched before it is read, so a file that lands after
 * the read makes an event: nothing falls between the two. */
static void walk(struct cf_dscan *sc, const char *dir, int depth) {
  if (depth > sc->max_depth) return;
  add_dir(sc, dir);
  DIR *dh = opendir(dir);
  if (!dh) return;
  struct dirent *de;
  while ((de = readdir(dh)) && !sc->err) {
    if (de->d_name[0] == '.') continue;
    char *path = cf_asprintf("%s/%s", dir, de->d_name);
    if (!path) {
      sc->err = -ENOMEM;
      break;
    }
    int type = de->d_type;
    if (type == DT_UNKNOWN) {                   /* some filesystems */
      struct stat sb;
      type = stat(path, &sb) < 0 ? DT_UNKNOWN
             : S_ISDIR(sb.st_mode) ? DT_DIR : DT_REG;
    }
    if (type == DT_DIR && sc->want(sc->want_arg, path, 1)) {
      walk(sc, path, depth + 1);
    } else if (type == DT_REG && sc->want(sc->want_arg, path, 0)) {
      add_file(sc, path);                       /* takes path */
      continue;
    }
    cf_free(path);
  }
  closedir(dh);
}

static void work_cb(uv_work_t *w) {
  struct cf_dscan *sc = w->data;
  walk(sc, sc->root, sc->depth);
}

static void after_cb(uv_work_t *w, int status) {
  struct cf_dscan *sc = w->data;
  sc->done(sc, status);
}

int cf__dscan_start(uv_loop_t *loop, struct cf_dscan *sc) {
  return uv_queue_work(loop, &sc->w, work_cb, after_cb);
}

void cf__dscan_cancel(struct cf_dscan *sc) {
  uv_cancel((uv_req_t *)&sc->w);    /* UV_EBUSY once running: it ends */
}
