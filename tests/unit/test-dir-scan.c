/* Folder walks off the loop (scheduler/dir_scan.c): what a walk lists and
 * watches, that a walk of a 50,000-file folder runs on a pool thread
 * while the loop keeps turning, cancellation before it runs, and failed
 * allocations. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include "cf_test.h"
#include "costflow/common.h"
#include "dir_scan.h"

static char *tmpdir(void) {
  char t[] = "/tmp/cf-dscan-XXXXXX";
  CF_ASSERT(mkdtemp(t) != NULL);
  return cf_strdup(t);
}

static void rm_rf(const char *dir) {
  char *cmd = cf_asprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0) {}
  cf_free(cmd);
}

static void put(const char *root, const char *rel, const char *text) {
  char *p = cf_asprintf("%s/%s", root, rel);
  CF_ASSERT_EQ(0, cf_write_file_atomic(p, text, strlen(text)));
  cf_free(p);
}

static int ends_with(const char *s, const char *suffix) {
  size_t l = strlen(s), n = strlen(suffix);
  return l >= n && !strcmp(s + l - n, suffix);
}

/* Keeps *.csv files and every folder but ones named "skip". */
static int want_csv(void *arg, const char *path, int is_dir) {
  (void)arg;
  return is_dir ? !ends_with(path, "/skip") : ends_with(path, ".csv");
}

static void done_count(struct cf_dscan *sc, int status) {
  int *calls = sc->data;
  CF_ASSERT_EQ(0, status);
  (*calls)++;
}

/* Runs one walk of root to the end on a fresh loop. */
static struct cf_dscan *walk(const char *root, int max_depth, int ifd) {
  uv_loop_t loop;
  int calls = 0;
  struct cf_dscan *sc = cf__dscan_new(root, 0);
  CF_ASSERT(sc != NULL);
  sc->max_depth = max_depth;
  sc->ifd = ifd;
  sc->mask = IN_CREATE | IN_ONLYDIR;
  sc->want = want_csv;
  sc->done = done_count;
  sc->data = &calls;
  CF_ASSERT_EQ(0, uv_loop_init(&loop));
  CF_ASSERT_EQ(0, cf__dscan_start(&loop, sc));
  CF_ASSERT_EQ(0, uv_run(&loop, UV_RUN_DEFAULT));
  CF_ASSERT_EQ(1, calls);
  CF_ASSERT_EQ(0, uv_loop_close(&loop));
  return sc;
}

static int has_file(const struct cf_dscan *sc, const char *root,
                    const char *rel, int64_t size) {
  char *p = cf_asprintf("%s/%s", root, rel);
  int n = 0;
  for (size_t i = 0; i < sc->nfiles; i++)
    if (!strcmp(sc->files[i].path, p)) {
      n++;
      CF_ASSERT_EQ(size, sc->files[i].size);
      CF_ASSERT(sc->files[i].mtime_ns > 0);
    }
  cf_free(p);
  return n;
}

static int has_dir(const struct cf_dscan *sc, const char *root,
                   const char *rel, int watched) {
  char *p = rel[0] ? cf_asprintf("%s/%s", root, rel) : cf_strdup(root);
  int n = 0;
  for (size_t i = 0; i < sc->ndirs; i++)
    if (!strcmp(sc->dirs[i].path, p)) {
      n++;
      CF_ASSERT(watched ? sc->dirs[i].wd >= 0 : sc->dirs[i].wd == -1);
    }
  cf_free(p);
  return n;
}

static void make_tree(const char *root) {
  char *p;
  static const char *const dirs[] = {"a", "a/deep", "skip", ".hid"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    p = cf_asprintf("%s/%s", root, dirs[i]);
    CF_ASSERT_EQ(0, cf_mkdir_p(p, 0755));
    cf_free(p);
  }
  put(root, "top.csv", "1234");
  put(root, "a/x.csv", "12");
  put(root, "a/y.dat", "1");
  put(root, "a/.dot.csv", "1");
  put(root, "a/deep/d.csv", "123");
  put(root, "skip/s.csv", "1");
  put(root, ".hid/h.csv", "1");
  p = cf_asprintf("%s/a/fifo.csv", root);
  CF_ASSERT_EQ(0, mkfifo(p, 0644));           /* not a regular file */
  cf_free(p);
}

CF_TEST(dscan_lists_wanted_files_and_watches_folders) {
  char *root = tmpdir();
  int ifd = inotify_init1(IN_CLOEXEC);
  CF_ASSERT(ifd >= 0);
  make_tree(root);
  struct cf_dscan *sc = walk(root, 32, ifd);
  CF_ASSERT_EQ(0, sc->err);
  CF_ASSERT_EQ(3, sc->nfiles);
  CF_ASSERT_EQ(1, has_file(sc, root, "top.csv", 4));
  CF_ASSERT_EQ(1, has_file(sc, root, "a/x.csv", 2));
  CF_ASSERT_EQ(1, has_file(sc, root, "a/deep/d.csv", 3));
  CF_ASSERT_EQ(3, sc->ndirs);        /* not skip/, not the dot folder */
  CF_ASSERT_EQ(1, has_dir(sc, root, "", 1));
  CF_ASSERT_EQ(1, has_dir(sc, root, "a", 1));
  CF_ASSERT_EQ(1, has_dir(sc, root, "a/deep", 1));
  cf__dscan_free(sc);
  /* Depth bound, and no inotify fd: folders listed without a watch. */
  sc = walk(root, 1, -1);
  CF_ASSERT_EQ(2, sc->nfiles);
  CF_ASSERT_EQ(0, has_file(sc, root, "a/deep/d.csv", 3));
  CF_ASSERT_EQ(2, sc->ndirs);
  CF_ASSERT_EQ(1, has_dir(sc, root, "a", 0));
  cf__dscan_free(sc);
  close(ifd);
  rm_rf(root);
  cf_free(root);
}

/* ---- a big folder ------------------------------------------------------- */

enum { BIG = 50000 };

struct big {
  uv_thread_t loop_thread, walk_thread;
  atomic_int ticks;               /* loop timer ticks so far */
  atomic_int waited;              /* 1: the walk saw the loop tick */
  atomic_int calls;               /* want() calls */
  int ticks_at_start, ticks_at_done, done;
  uv_timer_t timer;
};

static void make_big(const char *root) {
  for (int i = 0; i < BIG; i++) {
    char *p = cf_asprintf("%s/f%05d.%s", root, i, i % 2 ? "dat" : "csv");
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CF_ASSERT(fd >= 0);
    close(fd);
    cf_free(p);
  }
}

/* Pool thread. At its first file the walk waits (10 s at most) until the
 * loop has ticked three more times: were the walk on the loop thread,
 * the loop could not tick, and `waited` would stay 0. */
static int want_big(void *arg, const char *path, int is_dir) {
  struct big *b = arg;
  if (atomic_fetch_add(&b->calls, 1) == 0) {
    int from = atomic_load(&b->ticks);
    b->walk_thread = uv_thread_self();
    for (int i = 0; i < 10000; i++) {
      if (atomic_load(&b->ticks) >= from + 3) {
        atomic_store(&b->waited, 1);
        break;
      }
      usleep(1000);
    }
  }
  return want_csv(NULL, path, is_dir);
}

static void tick(uv_timer_t *h) {
  struct big *b = h->data;
  atomic_fetch_add(&b->ticks, 1);
}

static void big_done(struct cf_dscan *sc, int status) {
  struct big *b = sc->data;
  uv_thread_t self = uv_thread_self();
  CF_ASSERT_EQ(0, status);
  CF_ASSERT(uv_thread_equal(&self, &b->loop_thread));
  b->ticks_at_done = atomic_load(&b->ticks);
  b->done++;
  uv_close((uv_handle_t *)&b->timer, NULL);
}

CF_TEST(dscan_big_folder_walked_off_the_loop) {
  char *root = tmpdir();
  struct big b;
  uv_loop_t loop;
  memset(&b, 0, sizeof b);
  make_big(root);
  b.loop_thread = uv_thread_self();
  CF_ASSERT_EQ(0, uv_loop_init(&loop));
  uv_timer_init(&loop, &b.timer);
  b.timer.data = &b;
  uv_timer_start(&b.timer, tick, 1, 1);
  struct cf_dscan *sc = cf__dscan_new(root, 0);
  sc->want = want_big;
  sc->want_arg = &b;
  sc->done = big_done;
  sc->data = &b;
  b.ticks_at_start = atomic_load(&b.ticks);
  CF_ASSERT_EQ(0, cf__dscan_start(&loop, sc));
  CF_ASSERT_EQ(0, uv_run(&loop, UV_RUN_DEFAULT));
  CF_ASSERT_EQ(1, b.done);
  CF_ASSERT(atomic_load(&b.waited));       /* the loop ticked meanwhile */
  CF_ASSERT(!uv_thread_equal(&b.walk_thread, &b.loop_thread));
  CF_ASSERT(b.ticks_at_done - b.ticks_at_start >= 3);
  printf("  %d files, %d loop ticks during the walk\n", BIG,
         b.ticks_at_done - b.ticks_at_start);
  CF_ASSERT_EQ(BIG, atomic_load(&b.calls));
  CF_ASSERT_EQ(0, sc->err);
  CF_ASSERT_EQ(BIG / 2, sc->nfiles);       /* the .csv half, each once */
  unsigned char *seen = cf_calloc(BIG, 1);
  for (size_t i = 0; i < sc->nfiles; i++) {
    int n = -1;
    CF_ASSERT_EQ(1, sscanf(strrchr(sc->files[i].path, '/'), "/f%d.csv",
                           &n));
    CF_ASSERT(n >= 0 && n < BIG && n % 2 == 0 && !seen[n]);
    seen[n] = 1;
    CF_ASSERT_EQ(0, sc->files[i].size);
  }
  cf_free(seen);
  cf__dscan_free(sc);
  CF_ASSERT_EQ(0, uv_loop_close(&loop));
  rm_rf(root);
  cf_free(root);
}

/* ---- cancel and allocation failures ------------------------------------- */

static atomic_int release_pool;

static void block_pool(uv_work_t *w) {
  (void)w;
  for (int i = 0; i < 10000 && !atomic_load(&release_pool); i++)
    usleep(1000);
}

static void unblocked(uv_work_t *w, int status) {
  (void)w;
  CF_ASSERT_EQ(0, status);
}

static void done_status(struct cf_dscan *sc, int status) {
  int *st = sc->data;
  *st = status;
  atomic_store(&release_pool, 1);
}

CF_TEST(dscan_cancelled_before_it_runs) {
  /* One pool thread, held: the walk queued behind it is still queued
   * when cancelled, so done runs with UV_ECANCELED and nothing listed. */
  char *root = tmpdir();
  uv_loop_t loop;
  uv_work_t blocker;
  int status = 1;
  make_tree(root);
  setenv("UV_THREADPOOL_SIZE", "1", 1);     /* before the pool starts */
  CF_ASSERT_EQ(0, uv_loop_init(&loop));
  CF_ASSERT_EQ(0, uv_queue_work(&loop, &blocker, block_pool, unblocked));
  struct cf_dscan *sc = cf__dscan_new(root, 0);
  sc->max_depth = 32;
  sc->want = want_csv;
  sc->done = done_status;
  sc->data = &status;
  CF_ASSERT_EQ(0, cf__dscan_start(&loop, sc));
  cf__dscan_cancel(sc);
  CF_ASSERT_EQ(0, uv_run(&loop, UV_RUN_DEFAULT));
  CF_ASSERT_EQ(UV_ECANCELED, status);
  CF_ASSERT_EQ(0, sc->nfiles);
  CF_ASSERT_EQ(0, sc->ndirs);
  cf__dscan_free(sc);
  CF_ASSERT_EQ(0, uv_loop_close(&loop));
  rm_rf(root);
  cf_free(root);
}

CF_TEST(dscan_survives_every_failed_allocation) {
  /* A walk short of memory says so (err) and lists a part, nothing
   * leaked; given memory it lists everything. */
  char *root = tmpdir();
  int complete = 0;
  make_tree(root);
  for (long n = 0; n < 1000 && !complete; n++) {
    uv_loop_t loop;
    int status = 1;
    CF_ASSERT_EQ(0, uv_loop_init(&loop));
    cf_alloc_fail_after(n);
    struct cf_dscan *sc = cf__dscan_new(root, 0);
    if (sc) {
      sc->max_depth = 32;
      sc->want = want_csv;
      sc->done = done_status;
      sc->data = &status;
      CF_ASSERT_EQ(0, cf__dscan_start(&loop, sc));
      CF_ASSERT_EQ(0, uv_run(&loop, UV_RUN_DEFAULT));
      cf_alloc_fail_after(-1);
      CF_ASSERT_EQ(0, status);
      CF_ASSERT(sc->err == 0 || sc->err == -ENOMEM);
      CF_ASSERT(sc->nfiles <= 3);
      complete = sc->err == 0;
      if (complete) CF_ASSERT_EQ(3, sc->nfiles);
    }
    cf_alloc_fail_after(-1);
    cf__dscan_free(sc);
    CF_ASSERT_EQ(0, uv_loop_close(&loop));
  }
  CF_ASSERT(complete);
  rm_rf(root);
  cf_free(root);
}

CF_TEST_MAIN()
