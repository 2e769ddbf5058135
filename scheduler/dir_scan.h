/* Folder walks on the libuv thread pool (dir_scan.c): readdir and stat of
 * a landing tree never run on the loop thread, so a folder of many
 * thousand files does not stall hand-offs, timers or the web API. The
 * file sensor (sensor.c) judges the result back on the loop.
 *
 * How to use one: cf__dscan_new(), set the inputs, cf__dscan_start();
 * `done` runs once on the loop thread; the results are read there, then
 * cf__dscan_free(). */
#ifndef COSTFLOW_DIR_SCAN_H
#define COSTFLOW_DIR_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct cf_dscan_dir {           /* a folder the walk read */
  char *path;
  int wd;                       /* its inotify watch, -1 if none */
};

struct cf_dscan_file {          /* a regular file `want` kept */
  char *path;
  int64_t size, mtime_ns;       /* stat() during the walk */
};

struct cf_dscan;
/* 1 to keep a file (is_dir 0: stat it and list it) or to descend into a
 * folder (is_dir 1). Runs on a pool thread, possibly while the loop runs:
 * it may read only what does not change until `done`. */
typedef int (*cf_dscan_want_fn)(void *arg, const char *path, int is_dir);
/* On the loop thread, once. status: 0, or UV_ECANCELED if cancelled
 * before it ran (then the results are empty). */
typedef void (*cf_dscan_done_fn)(struct cf_dscan *sc, int status);

struct cf_dscan {
  /* inputs: set before cf__dscan_start, read by the walk until done */
  char *root;                   /* owned; set by cf__dscan_new */
  int depth;                    /* depth of root (0 = the top) */
  int max_depth;                /* folders deeper than this are not read */
  int ifd;                      /* inotify fd each folder read is added to
                                   (before it is read), or -1 */
  uint32_t mask;                /* inotify mask for ifd */
  cf_dscan_want_fn want;
  void *want_arg;
  cf_dscan_done_fn done;
  void *data;                   /* the caller's */
  /* results, valid in done; entries are in readdir order */
  struct cf_dscan_dir *dirs;
  size_t ndirs, adirs;
  struct cf_dscan_file *files;
  size_t nfiles, afiles;
  int err;                      /* 0, or -ENOMEM: the lists are partial */
  uv_work_t w;                  /* private */
};

/* A walk of root, inputs zeroed but ifd -1 and max_depth = depth (the
 * root folder only); NULL if out of memory. */
struct cf_dscan *cf__dscan_new(const char *root, int depth);
/* Queues the walk on loop's thread pool. 0, or a negative libuv error
 * (then done never runs). */
int cf__dscan_start(uv_loop_t *loop, struct cf_dscan *sc);
/* Asks a queued walk not to run; done still runs (UV_ECANCELED). A walk
 * already running finishes. */
void cf__dscan_cancel(struct cf_dscan *sc);
/* Frees sc and its results; not while it is queued or running. */
void cf__dscan_free(struct cf_dscan *sc);

#endif
