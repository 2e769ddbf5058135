/* File-arrival sensor of one DAG (`trigger: {file: {path, settle, marker}}`).
 *
 * Watches the landing folders with inotify (one fd per sensor, polled by
 * libuv), including folders created after start, plus a periodic rescan
 * for what inotify misses (network filesystems, queue overflow). A file
 * counts only when complete:
 *   - renamed into place (IN_MOVED_TO), or
 *   - closed after writing and unchanged in size and mtime for `settle`
 *     (IN_CLOSE_WRITE; files found by a scan wait `settle` too), or
 *   - with `marker`: only once the marker file exists in its folder.
 * Dot-files, *.tmp and *.part are ignored. Folders are read (readdir,
 * stat) on the thread pool by dir_scan.c and the files found are judged
 * back on the loop, a slice per turn. Complete files are hashed on the
 * thread pool; path, size, mtime and SHA-256 go to sensor_files with
 * run_pk NULL ("not yet given to a run"); cf__sensor_attribute then creates
 * the run, or clears and re-runs a date that already ran. Identical bytes
 * for a date already recorded never start anything. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clear.h"
#include "costflow/cron.h"
#include "costflow/hash.h"
#include "daemon.h"
#include "dir_scan.h"
#include "runner.h"

#define MAX_COMPS 32
#define DEFAULT_SETTLE_MS 1000
/* Files of a scan judged per loop turn: each is a store lookup, and a
 * folder of 50,000 would otherwise hold the loop for its whole list. */
#define SCAN_SLICE 256
#define DIR_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | \
                  IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct pend {                   /* a candidate file, waiting or hashing */
  char *path;
  int64_t size, mtime_ns;       /* snapshot for the settle check */
  uint64_t due;                 /* uv_now() when to re-check; 0 = hashing */
  int dirty;                    /* changed while hashing */
  struct pend *next, *prev;     /* every candidate: s->pend */
  struct pend *hnext;           /* same bucket of s->pidx */
};

struct wdir {
  int wd;
  char *path;
};

struct scan {                   /* a folder walk and its judging */
  struct cf_sensor *s;
  struct cf_dscan *sc;
  int marker;                   /* a marker landed in root: take its files */
  int renamed;                  /* the tree was moved in whole: complete */
  int full;                     /* from the base: a rescan */
  int redo;                     /* events were lost meanwhile: walk again */
  size_t next;                  /* next file to judge */
  struct scan *link;            /* walking list, then ready queue */
};

struct cf_sensor {
  struct cf_daemon *d;
  struct cf_dentry *e;          /* valid until stopped */
  char *base;                   /* literal prefix folder of the glob */
  char *pat[MAX_COMPS];         /* the glob's remaining components */
  size_t npat;
  char *marker;                 /* NULL = none */
  int64_t settle_ms;
  int ifd;
  uv_poll_t poll;
  uv_timer_t settle_timer, rescan_timer;
  uv_idle_t judge_idle;         /* a slice of the ready scans per turn */
  int open_handles, jobs, stopped, has_poll;
  struct wdir *wds;
  size_t nwd, awd;
  struct pend *pend;
  struct pend **pidx;           /* candidates by path (nbuckets lists) */
  size_t nbuckets, npend;
  struct scan *walking;         /* on the thread pool */
  struct scan *ready, **ready_tail;   /* walked, files left to judge */
};

struct hjob {
  uv_work_t w;
  struct cf_sensor *s;
  char *path;
  int64_t size, mtime_ns;
  char sha[65];
  int64_t complete_ms;          /* when it was judged complete */
  int rc, changed;
};

/* ---- globs -------------------------------------------------------------- */

static size_t split(char *p, char **v, size_t max) {
  size_t n = 0;
  char *save = NULL;
  /* strtok_r: folder walks match globs on pool threads too */
  for (char *tok = strtok_r(p, "/", &save); tok && n < max;
       tok = strtok_r(NULL, "/", &save))
    v[n++] = tok;
  return n;
}

static int match(char *const *pat, size_t np, char *const *c, size_t nc) {
  if (np == 0) return nc == 0;
  if (!strcmp(pat[0], "**"))
    return match(pat + 1, np - 1, c, nc) ||
           (nc > 0 && match(pat, np, c + 1, nc - 1));
  if (nc == 0) return 0;
  return fnmatch(pat[0], c[0], FNM_PERIOD) == 0 &&
         match(pat + 1, np - 1, c + 1, nc - 1);
}

/* 1 if a folder with components c can hold a match below it. */
static int dir_may_match(char *const *pat, size_t np, char *const *c,
                         size_t nc) {
  if (nc == 0) return np > 0;
  if (np == 0) return 0;
  if (!strcmp(pat[0], "**"))
    return dir_may_match(pat + 1, np - 1, c, nc) ||
           dir_may_match(pat, np, c + 1, nc - 1);
  return fnmatch(pat[0], c[0], FNM_PERIOD) == 0 &&
         dir_may_match(pat + 1, np - 1, c + 1, nc - 1);
}

/* Components of `path` below the base, in buf; -1 if not below it. */
static long rel_comps(struct cf_sensor *s, const char *path, char *buf,
                      size_t size, char **c) {
  size_t bl = strlen(s->base);
  if (strncmp(path, s->base, bl) || (path[bl] != '/' && path[bl] != '\0'))
    return -1;
  snprintf(buf, size, "%s", path + bl + (path[bl] == '/'));
  return (long)split(buf, c, MAX_COMPS);
}

static int ignored(const char *name) {
  size_t l = strlen(name);
  return name[0] == '.' || (l >= 4 && !strcmp(name + l - 4, ".tmp")) ||
         (l >= 5 && !strcmp(name + l - 5, ".part"));
}

static int is_data_file(struct cf_sensor *s, const char *path) {
  const char *name = strrchr(path, '/');
  name = name ? name + 1 : path;
  if (ignored(name) || (s->marker && !strcmp(name, s->marker))) return 0;
  char buf[4096], *c[MAX_COMPS];
  long n = rel_comps(s, path, buf, sizeof buf, c);
  return n > 0 && match(s->pat, s->npat, c, (size_t)n);
}

static int dir_wanted(struct cf_sensor *s, const char *path) {
  char buf[4096], *c[MAX_COMPS];
  long n = rel_comps(s, path, buf, sizeof buf, c);
  if (n < 0) return 0;
  for (long i = 0; i < n; i++)
    if (c[i][0] == '.') return 0;
  return dir_may_match(s->pat, s->npat, c, (size_t)n);
}

static int marker_present(struct cf_sensor *s, const char *file) {
  const char *slash = strrchr(file, '/');
  char *m = cf_asprintf("%.*s/%s", (int)(slash - file), file, s->marker);
  struct stat sb;
  int ok = m && stat(m, &sb) == 0;
  cf_free(m);
  return ok;
}

/* Logical date from Hive folders (year=/month=/day=, or dt=/date=
 * YYYY-MM-DD); otherwise today in the DAG's zone. */
static cf_date date_of(struct cf_sensor *s, const char *path) {
  char buf[4096], *c[MAX_COMPS];
  long n = rel_comps(s, path, buf, sizeof buf, c);
  int y = 0, m = 0, dd = 0;
  cf_date out;
  for (long i = 0; i < n; i++) {
    if (!strncmp(c[i], "year=", 5)) y = atoi(c[i] + 5);
    else if (!strncmp(c[i], "month=", 6)) m = atoi(c[i] + 6);
    else if (!strncmp(c[i], "day=", 4)) dd = atoi(c[i] + 4);
    else if ((!strncmp(c[i], "dt=", 3) && !cf_date_parse(c[i] + 3, &out)) ||
             (!strncmp(c[i], "date=", 5) && !cf_date_parse(c[i] + 5, &out)))
      return out;
  }
  if (y > 1900 && m >= 1 && m <= 12 && dd >= 1 &&
      dd <= cf_days_in_month(y, m))
    return cf_date_from_ymd(y, m, dd);
  return cf_tz_local_date(s->e->dag->tz, cf__daemon_now_ms(s->d) / 1000);
}

/* ---- candidates ---------------------------------------------------------- */

/* Candidates are looked up by path for each event and each file a walk
 * finds: indexed, a first walk of 30,000 new files is not 30,000 list
 * searches 30,000 long on the loop. */
static size_t pend_bucket(const struct cf_sensor *s, const char *path) {
  return (size_t)cf_hash64(path, strlen(path)) & (s->nbuckets - 1);
}

static struct pend *pend_find(struct cf_sensor *s, const char *path) {
  for (struct pend *p = s->pidx[pend_bucket(s, path)]; p; p = p->hnext)
    if (!strcmp(p->path, path)) return p;
  return NULL;
}

/* Rebuilds the index with n buckets (a power of two) from the list. On
 * -ENOMEM the old index stays (longer lists, same answers). */
static int pend_reindex(struct cf_sensor *s, size_t n) {
  struct pend **v = cf_calloc(n, sizeof *v);
  if (!v) return -ENOMEM;
  cf_free(s->pidx);
  s->pidx = v;
  s->nbuckets = n;
  for (struct pend *p = s->pend; p; p = p->next) {
    size_t b = pend_bucket(s, p->path);
    p->hnext = v[b];
    v[b] = p;
  }
  return 0;
}

static void pend_add(struct cf_sensor *s, struct pend *p) {
  p->prev = NULL;
  p->next = s->pend;
  if (s->pend) s->pend->prev = p;
  s->pend = p;
  s->npend++;
  s->d->sensor_busy++;
  if (s->npend > s->nbuckets && pend_reindex(s, s->nbuckets * 4) == 0)
    return;                     /* p is in the new index */
  size_t b = pend_bucket(s, p->path);
  p->hnext = s->pidx[b];
  s->pidx[b] = p;
}

static void pend_drop(struct cf_sensor *s, struct pend *p) {
  if (p->prev) p->prev->next = p->next;
  else s->pend = p->next;
  if (p->next) p->next->prev = p->prev;
  for (struct pend **pp = &s->pidx[pend_bucket(s, p->path)]; *pp;
       pp = &(*pp)->hnext)
    if (*pp == p) {
      *pp = p->hnext;
      break;
    }
  s->npend--;
  cf_free(p->path);
  cf_free(p);
  s->d->sensor_busy--;
}

static int snap(const char *path, int64_t *size, int64_t *mtime_ns) {
  struct stat sb;
  if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) return -1;
  *size = (int64_t)sb.st_size;
  *mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
  return 0;
}

static void settle_cb(uv_timer_t *h);

static void arm_settle(struct cf_sensor *s) {
  uint64_t now = uv_now(&s->d->loop), due = 0;
  for (struct pend *p = s->pend; p; p = p->next)
    if (p->due && (!due || p->due < due)) due = p->due;
  if (!due) {
    uv_timer_stop(&s->settle_timer);
    return;
  }
  uv_timer_start(&s->settle_timer, settle_cb,
                 due > now ? due - now : 0, 0);
}

static void hash_work(uv_work_t *w) {
  struct hjob *j = w->data;
  int64_t sz, mt;
  if (snap(j->path, &j->size, &j->mtime_ns) < 0) {
    j->rc = -ENOENT;
    return;
  }
  j->rc = cf_sha256_file(j->path, j->sha);
  if (j->rc == 0 && (snap(j->path, &sz, &mt) < 0 || sz != j->size ||
                     mt != j->mtime_ns))
    j->changed = 1;
}

static void record(struct cf_sensor *s, struct hjob *j);

static void sensor_maybe_free(struct cf_sensor *s);

static void hash_done(uv_work_t *w, int status) {
  struct hjob *j = w->data;
  struct cf_sensor *s = j->s;
  s->jobs--;
  if (!s->stopped) {
    struct pend *p = pend_find(s, j->path);
    if (status < 0 || j->rc < 0) {
      if (p) pend_drop(s, p);     /* vanished: nothing to record */
    } else if (j->changed || (p && p->dirty)) {
      if (p) {                    /* still being written: wait again */
        p->dirty = 0;
        p->size = j->size;
        p->mtime_ns = j->mtime_ns;
        p->due = uv_now(&s->d->loop) + (uint64_t)s->settle_ms;
        arm_settle(s);
      }
    } else {
      if (p) pend_drop(s, p);
      record(s, j);
    }
    cf__daemon_check_once(s->d);
  }
  cf_free(j->path);
  cf_free(j);
  sensor_maybe_free(s);
}

static void start_hash(struct cf_sensor *s, struct pend *p) {
  struct hjob *j = cf_calloc(1, sizeof *j);
  if (!j || !(j->path = cf_strdup(p->path))) {
    cf_free(j);
    pend_drop(s, p);
    return;
  }
  j->s = s;
  j->w.data = j;
  j->complete_ms = cf_now_ms();
  p->due = 0;
  /* hashing reads the whole file: never on the loop thread */
  if (uv_queue_work(&s->d->loop, &j->w, hash_work, hash_done) < 0) {
    cf_free(j->path);
    cf_free(j);
    pend_drop(s, p);
    return;
  }
  s->jobs++;
}

/* A data file with size and mtime (size, mtime_ns) taken now or by a
 * folder walk: complete (immediate), or it must stay unchanged for
 * settle. p: its waiting candidate, or NULL to make one. The caller arms
 * the settle timer once it has considered its files. */
static void consider(struct cf_sensor *s, struct pend *p, const char *path,
                     int immediate, int64_t size, int64_t mtime_ns) {
  if (!p) {
    if (!(p = cf_calloc(1, sizeof *p)) || !(p->path = cf_strdup(path))) {
      cf_free(p);
      return;
    }
    pend_add(s, p);
  }
  p->size = size;
  p->mtime_ns = mtime_ns;
  if (immediate || s->settle_ms <= 0) {
    start_hash(s, p);
    return;
  }
  p->due = uv_now(&s->d->loop) + (uint64_t)s->settle_ms;
}

/* An inotify event on path: a file that looks complete (immediate) or
 * must stay unchanged for settle (on_inotify arms the timer after). */
static void candidate(struct cf_sensor *s, const char *path, int immediate) {
  int64_t size, mtime_ns;
  if (!is_data_file(s, path)) return;
  if (s->marker && !marker_present(s, path)) return;
  struct pend *p = pend_find(s, path);
  if (p && !p->due) {           /* hashing: look again afterwards */
    p->dirty = 1;
    return;
  }
  if (snap(path, &size, &mtime_ns) < 0) {
    if (p) pend_drop(s, p);
    return;
  }
  consider(s, p, path, immediate, size, mtime_ns);
}

static void settle_cb(uv_timer_t *h) {
  struct cf_sensor *s = h->data;
  uint64_t now = uv_now(&s->d->loop);
  for (struct pend *p = s->pend, *next; p; p = next) {
    next = p->next;
    if (!p->due || p->due > now) continue;
    int64_t sz, mt;
    if (snap(p->path, &sz, &mt) < 0) {
      pend_drop(s, p);
    } else if (sz != p->size || mt != p->mtime_ns) {
      p->size = sz;               /* still growing */
      p->mtime_ns = mt;
      p->due = now + (uint64_t)s->settle_ms;
    } else {
      start_hash(s, p);
    }
  }
  arm_settle(s);
  cf__daemon_check_once(s->d);
}

/* ---- recording and attribution ------------------------------------------ */

static void record(struct cf_sensor *s, struct hjob *j) {
  struct cf_daemon *d = s->d;
  const char *dag_id = s->e->dag->id;
  cf_date ld = date_of(s, j->path);
  char ds[11], seen[32];
  cf_date_format(ld, ds);
  cf_format_iso_ms(j->complete_ms, seen);   /* compared with run starts */
  sqlite3 *db = cf_store_db(d->st);
  sqlite3_stmt *q = NULL;
  int dup = 0;
  if (cf_store_begin(d->st) < 0) return;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sensor_files WHERE dag_id=? AND "
                         "sha256=? AND logical_date=? LIMIT 1", -1, &q,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, dag_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, j->sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, ds, -1, SQLITE_STATIC);
    dup = sqlite3_step(q) == SQLITE_ROW;
  }
  sqlite3_finalize(q);
  q = NULL;
  /* a duplicate is recorded as already consumed (run_pk 0) so that a
   * rescan knows its size and mtime; it never starts anything */
  int rc = sqlite3_prepare_v2(db,
      "INSERT INTO sensor_files(dag_id, path, size, mtime_us, sha256,"
      " logical_date, run_pk, seen_at) VALUES(?,?,?,?,?,?,?,?) "
      "ON CONFLICT(dag_id, path, sha256) DO UPDATE SET size=excluded.size,"
      " mtime_us=excluded.mtime_us", -1, &q, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(q, 1, dag_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, j->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, j->size);
    sqlite3_bind_int64(q, 4, j->mtime_ns / 1000);
    sqlite3_bind_text(q, 5, j->sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, ds, -1, SQLITE_STATIC);
    if (dup) sqlite3_bind_int64(q, 7, 0);
    else sqlite3_bind_null(q, 7);
    sqlite3_bind_text(q, 8, seen, -1, SQLITE_STATIC);
    rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_OK || cf_store_commit(d->st) < 0) {
    cf__dlog(d, "error", dag_id, 0, NULL, 0, "store: %s",
             cf_store_errmsg(d->st));
    cf_store_rollback(d->st);
    return;
  }
  if (dup) {
    cf__dlog(d, "info", dag_id, 0, NULL, 0, "file %s for %s: identical "
             "bytes already seen, ignored (sha256 %.12s)", j->path, ds,
             j->sha);
    return;
  }
  cf__dlog(d, "info", dag_id, 0, NULL, 0, "file arrived: %s for %s (%lld "
           "bytes, sha256 %s)", j->path, ds, (long long)j->size, j->sha);
  cf__sensor_attribute(d, s->e);
}

/* Newest completion time (us) of the arrivals of a date not yet given to
 * a run; 0 if unknown. */
static int64_t newest_arrival_us(struct cf_daemon *d, const char *dag_id,
                                 const char *ds) {
  sqlite3_stmt *q = NULL;
  int64_t us = 0;
  if (sqlite3_prepare_v2(cf_store_db(d->st),
          "SELECT max(seen_at) FROM sensor_files WHERE dag_id=? AND "
          "logical_date=? AND run_pk IS NULL", -1, &q, NULL) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, dag_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ds, -1, SQLITE_STATIC);
    int y, mo, dd, h, mi, sec, ms;
    const char *t = sqlite3_step(q) == SQLITE_ROW
                        ? (const char *)sqlite3_column_text(q, 0) : NULL;
    if (t && sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &dd, &h, &mi, &sec,
                    &ms) == 7)
      us = (((int64_t)cf_date_from_ymd(y, mo, dd) * 86400 + h * 3600 +
             mi * 60 + sec) * 1000 + ms) * 1000;
  }
  sqlite3_finalize(q);
  return us;
}

static void attribute_date(struct cf_daemon *d, struct cf_dentry *e,
                           const char *ds) {
  cf_date ld;
  if (cf_date_parse(ds, &ld) < 0) return;
  struct cf_run_row run = {0};
  int created = 0, take = 0;
  if (cf_store_run_create(d->st, e->dag->id, ld, "sensor", NULL, &run,
                          &created) < 0)
    return;
  int64_t arrived = newest_arrival_us(d, e->dag->id, ds);
  if (created || !strcmp(run.state, "queued")) {
    take = 1;                   /* the run has not read anything yet */
  } else if (!strcmp(run.state, "running") && arrived && run.start_us &&
             run.start_us > arrived) {
    take = 1;                   /* complete before the run started */
  }
  if (take) {
    if (created)
      cf__dlog(d, "info", e->dag->id, run.id, NULL, 0,
               "sensor run created for %s", ds);
  } else if (!strcmp(run.state, "success") || !strcmp(run.state, "failed")) {
    /* restated data for a date that already ran: run it again */
    int fd = cf_run_lock(d->cli->home, e->dag->id, ld);
    unsigned char *all = cf_malloc(e->dag->ntasks ? e->dag->ntasks : 1);
    if (fd >= 0 && all && !cf__daemon_driving(d, run.id)) {
      memset(all, 1, e->dag->ntasks);
      if (cf_clear_tasks(d->st, e->dag, run.id, all) == 0) {
        take = 1;
        cf_store_event(d->st, e->dag->id, run.id, NULL, "sensor_rerun",
                       NULL);
        cf__dlog(d, "info", e->dag->id, run.id, NULL, 0, "new bytes for "
                 "%s, which already ran (%s): re-running it", ds, run.state);
      }
    }
    cf_free(all);
    if (fd >= 0) close(fd);
  }
  /* running: the run may have listed the folder before the file came;
   * it is re-run when it ends (on_run_done calls us again) */
  if (take) {
    sqlite3_stmt *u = NULL;
    if (sqlite3_prepare_v2(cf_store_db(d->st),
            "UPDATE sensor_files SET run_pk=? WHERE dag_id=? AND "
            "logical_date=? AND run_pk IS NULL", -1, &u, NULL) ==
        SQLITE_OK) {
      sqlite3_bind_int64(u, 1, run.id);
      sqlite3_bind_text(u, 2, e->dag->id, -1, SQLITE_STATIC);
      sqlite3_bind_text(u, 3, ds, -1, SQLITE_STATIC);
      sqlite3_step(u);
    }
    sqlite3_finalize(u);
    cf__daemon_pump_soon(d);
  }
  cf_run_row_release(&run);
}

void cf__sensor_attribute(struct cf_daemon *d, struct cf_dentry *e) {
  if (!e->dag->trigger) return;
  sqlite3_stmt *s = NULL;
  char dates[32][11];
  size_t n = 0;
  if (sqlite3_prepare_v2(cf_store_db(d->st),
          "SELECT DISTINCT logical_date FROM sensor_files WHERE dag_id=? "
          "AND run_pk IS NULL ORDER BY logical_date LIMIT 32", -1, &s,
          NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(s, 1, e->dag->id, -1, SQLITE_STATIC);
  while (n < 32 && sqlite3_step(s) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(s, 0);
    snprintf(dates[n++], sizeof dates[0], "%s", t ? t : "");
  }
  sqlite3_finalize(s);
  for (size_t i = 0; i < n; i++) attribute_date(d, e, dates[i]);
}

/* ---- watching -------------------------------------------------------------*/

static const char *wd_path(struct cf_sensor *s, int wd) {
  for (size_t i = 0; i < s->nwd; i++)
    if (s->wds[i].wd == wd) return s->wds[i].path;
  return NULL;
}

static void wd_forget(struct cf_sensor *s, int wd) {
  for (size_t i = 0; i < s->nwd; i++)
    if (s->wds[i].wd == wd) {
      cf_free(s->wds[i].path);
      s->wds[i] = s->wds[--s->nwd];
      return;
    }
}

/* Remembers a folder a walk added to the inotify fd: its events name wd. */
static void watch_add(struct cf_sensor *s, int wd, const char *dir) {
  if (wd < 0 || wd_path(s, wd)) return;
  if (s->nwd == s->awd &&
      cf_grow(&s->wds, &s->awd, s->nwd + 1, sizeof *s->wds, 16) < 0)
    return;
  char *p = cf_strdup(dir);
  if (!p) return;
  s->wds[s->nwd++] = (struct wdir){wd, p};
}

/* Known already: same path, size and mtime recorded. Asked once per
 * file a walk returns, on the loop thread: the store keeps the statement
 * prepared. */
static const char known_sql[] =
    "SELECT 1 FROM sensor_files WHERE dag_id=? AND path=? AND size=? "
    "AND mtime_us=? LIMIT 1";

static int known(struct cf_sensor *s, const char *path, int64_t sz,
                 int64_t mt) {
  sqlite3_stmt *q = cf_store_stmt(s->d->st, known_sql);
  int k = 0;
  if (q) {
    sqlite3_bind_text(q, 1, s->e->dag->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, sz);
    sqlite3_bind_int64(q, 4, mt / 1000);
    k = sqlite3_step(q) == SQLITE_ROW;
  }
  cf_store_stmt_done(s->d->st, q);
  return k;
}

/* ---- folder walks ---------------------------------------------------------
 * A walk runs on the thread pool (dir_scan.c): it watches each folder
 * that can hold a match, then lists it, stat()ing the data files. The
 * loop registers the watches and judges the files a slice per turn. An
 * event on a folder whose watch is not registered yet (its walk has not
 * come back) is lost, so a walk that saw one runs again when it is back. */

/* Pool thread: reads only the glob and marker, which stay as they are
 * until the sensor is freed, after its last walk. */
static int scan_want(void *arg, const char *path, int is_dir) {
  struct cf_sensor *s = arg;
  if (is_dir) return dir_wanted(s, path);
  return is_data_file(s, path) && (!s->marker || marker_present(s, path));
}

static void scan_walked(struct cf_dscan *sc, int status);

static void scan_free(struct scan *c) {
  c->s->d->sensor_busy--;
  cf__dscan_free(c->sc);
  cf_free(c);
}

/* Walks root (at depth) and everything below that can match; renamed =
 * the folder was moved in whole: its files are complete. A marker walk
 * reads root only and takes its files. */
static void start_scan(struct cf_sensor *s, const char *root, int depth,
                       int renamed, int marker, int full) {
  struct scan *c = cf_calloc(1, sizeof *c);
  struct cf_dscan *sc = c ? cf__dscan_new(root, depth) : NULL;
  int rc = sc ? 0 : -ENOMEM;
  if (sc) {
    c->s = s;
    c->sc = sc;
    c->marker = marker;
    c->renamed = renamed;
    c->full = full;
    if (!marker) sc->max_depth = MAX_COMPS;     /* a marker: its folder */
    sc->ifd = marker ? -1 : s->ifd;   /* a marker's folder is watched */
    sc->mask = DIR_MASK;
    sc->want = scan_want;
    sc->want_arg = s;
    sc->done = scan_walked;
    sc->data = c;
    rc = cf__dscan_start(&s->d->loop, sc);
  }
  if (rc < 0) {
    cf__dlog(s->d, "error", s->e->dag->id, 0, NULL, 0, "cannot scan %s: "
             "%s", root, cf_strerror(rc));
    cf__dscan_free(sc);
    cf_free(c);
    return;
  }
  c->link = s->walking;
  s->walking = c;
  s->jobs++;
  s->d->sensor_busy++;          /* --once waits for what it finds */
}

static void rescan(struct cf_sensor *s) {
  for (struct scan *c = s->walking; c; c = c->link)
    if (c->full) {              /* it may have read a folder already */
      c->redo = 1;
      return;
    }
  start_scan(s, s->base, 0, 0, 0, 1);
}

/* Judges up to SCAN_SLICE files of the walked scans, in order, as the
 * events' files are. An idle handle runs once per loop turn, I/O polled
 * in between (a 0 ms timer re-armed in its callback runs again at once
 * in libuv 1.44, never yielding). */
static void judge_cb(uv_idle_t *h) {
  struct cf_sensor *s = h->data;
  size_t budget = SCAN_SLICE;
  while (s->ready && budget) {
    struct scan *c = s->ready;
    for (; c->next < c->sc->nfiles && budget; c->next++, budget--) {
      const struct cf_dscan_file *f = &c->sc->files[c->next];
      struct pend *p = pend_find(s, f->path);
      /* a marker's create, attrib and close events each walk its folder:
       * a file already taken is not taken again */
      if (c->marker && p && p->due)
        start_hash(s, p);
      else if (!p && !known(s, f->path, f->size, f->mtime_ns))
        consider(s, NULL, f->path, c->marker || c->renamed, f->size,
                 f->mtime_ns);
    }
    if (c->next < c->sc->nfiles) break;
    if (!(s->ready = c->link)) s->ready_tail = &s->ready;
    scan_free(c);
  }
  if (!s->ready) uv_idle_stop(&s->judge_idle);
  arm_settle(s);
  cf__daemon_check_once(s->d);
}

static void scan_walked(struct cf_dscan *sc, int status) {
  struct scan *c = sc->data;
  struct cf_sensor *s = c->s;
  for (struct scan **pp = &s->walking; *pp; pp = &(*pp)->link)
    if (*pp == c) {
      *pp = c->link;
      break;
    }
  c->link = NULL;
  s->jobs--;
  if (s->stopped || status < 0) {
    scan_free(c);
    sensor_maybe_free(s);       /* may free s: last */
    return;
  }
  if (sc->err)
    cf__dlog(s->d, "warn", s->e->dag->id, 0, NULL, 0, "scan of %s "
             "incomplete: %s", sc->root, cf_strerror(sc->err));
  for (size_t i = 0; i < sc->ndirs; i++)
    watch_add(s, sc->dirs[i].wd, sc->dirs[i].path);
  if (c->redo)                  /* before this one ends: --once waits */
    start_scan(s, sc->root, sc->depth, 0, c->marker, c->full);
  *s->ready_tail = c;
  s->ready_tail = &c->link;
  uv_idle_start(&s->judge_idle, judge_cb);   /* no-op if active */
}

static void rescan_cb(uv_timer_t *h) {
  struct cf_sensor *s = h->data;
  if (s->stopped) return;
  /* a rescan still walking or being judged does this one's work */
  for (struct scan *c = s->walking; c; c = c->link)
    if (c->full) return;
  for (struct scan *c = s->ready; c; c = c->link)
    if (c->full) return;
  rescan(s);
}

static void on_inotify(uv_poll_t *h, int status, int events) {
  struct cf_sensor *s = h->data;
  char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
  (void)events;
  if (status < 0 || s->stopped) return;
  for (;;) {
    ssize_t n = read(s->ifd, buf, sizeof buf);
    if (n <= 0) break;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      p += sizeof *ev + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        cf__dlog(s->d, "warn", s->e->dag->id, 0, NULL, 0,
                 "inotify queue overflow: rescanning");
        rescan(s);
        continue;
      }
      if (ev->mask & IN_IGNORED) {
        wd_forget(s, ev->wd);
        continue;
      }
      const char *dir = wd_path(s, ev->wd);
      if (!dir && ev->len)      /* a walk's folder, watch not back yet */
        for (struct scan *c = s->walking; c; c = c->link)
          if (c->sc->ifd >= 0) c->redo = 1;
      if (!dir || !ev->len) continue;
      char *path = cf_asprintf("%s/%s", dir, ev->name);
      if (!path) continue;
      if (ev->mask & IN_ISDIR) {
        if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && dir_wanted(s, path))
          start_scan(s, path, 1, !!(ev->mask & IN_MOVED_TO), 0, 0);
      } else if (s->marker && !strcmp(ev->name, s->marker)) {
        if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
                        IN_ATTRIB))
          start_scan(s, dir, 0, 0, 1, 0);
      } else if (ev->mask & IN_MOVED_TO) {
        candidate(s, path, 1);
      } else if (ev->mask & IN_CLOSE_WRITE) {
        candidate(s, path, 0);
      } else if (ev->mask & (IN_MODIFY | IN_ATTRIB)) {
        struct pend *pd = pend_find(s, path);
        if (pd && !pd->due) pd->dirty = 1;
        else if (pd) pd->due = uv_now(&s->d->loop) + (uint64_t)s->settle_ms;
        else if (ev->mask & IN_ATTRIB) candidate(s, path, 0);  /* touch */
      }
      cf_free(path);
    }
  }
  arm_settle(s);
}

/* ---- lifecycle ------------------------------------------------------------*/

int cf__sensor_start(struct cf_daemon *d, struct cf_dentry *e) {
  json_t *file = json_object_get(e->dag->trigger, "file");
  const char *glob = json_string_value(json_object_get(file, "path"));
  if (!glob) return 0;
  struct cf_sensor *s = cf_calloc(1, sizeof *s);
  char *full = glob[0] == '/' ? cf_strdup(glob)
                              : cf_asprintf("%s/%s", e->dag->dir, glob);
  if (!s || !full || pend_reindex(s, 64) < 0) {    /* the empty index */
    cf_free(s);
    cf_free(full);
    return -ENOMEM;
  }
  s->d = d;
  s->e = e;
  s->ifd = -1;
  json_t *st = json_object_get(file, "settle_ms");
  s->settle_ms = st ? json_integer_value(st) : DEFAULT_SETTLE_MS;
  s->marker = cf_strdup(json_string_value(json_object_get(file, "marker")));
  /* base = the components before the first one with a glob character */
  char *comps[MAX_COMPS], *copy = cf_strdup(full);
  size_t nc = copy ? split(copy, comps, MAX_COMPS) : 0, lit = 0;
  while (lit + 1 < nc && !strpbrk(comps[lit], "*?[")) lit++;
  struct cf_buf b = CF_BUF_INIT(0);
  for (size_t i = 0; i < lit; i++) cf_buf_addf(&b, "/%s", comps[i]);
  s->base = cf_buf_detach(&b, NULL);
  for (size_t i = lit; i < nc; i++) s->pat[s->npat++] = cf_strdup(comps[i]);
  cf_free(copy);
  cf_free(full);
  e->sensor = s;

  int rc = cf_mkdir_p(s->base, 0755);    /* watch it from the start */
  if (rc < 0)
    cf__dlog(d, "warn", e->dag->id, 0, NULL, 0, "cannot create %s: %s",
             s->base, cf_strerror(rc));
  uv_timer_init(&d->loop, &s->settle_timer);
  uv_timer_init(&d->loop, &s->rescan_timer);
  uv_idle_init(&d->loop, &s->judge_idle);
  s->settle_timer.data = s->rescan_timer.data = s->judge_idle.data = s;
  s->open_handles = 3;
  s->ready_tail = &s->ready;
  s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (s->ifd >= 0 && uv_poll_init(&d->loop, &s->poll, s->ifd) == 0) {
    s->poll.data = s;
    s->open_handles++;
    s->has_poll = 1;
    uv_poll_start(&s->poll, UV_READABLE, on_inotify);
  } else {
    cf__dlog(d, "warn", e->dag->id, 0, NULL, 0, "no inotify (%s): "
             "rescanning only", strerror(errno));
  }
  cf__dlog(d, "info", e->dag->id, 0, NULL, 0, "watching %s for %s "
           "(settle %lld ms%s%s)", s->base, glob, (long long)s->settle_ms,
           s->marker ? ", marker " : "", s->marker ? s->marker : "");
  /* reconcile: files that landed while we were down, and arrivals that
   * were recorded but not yet given to a run */
  rescan(s);
  cf__sensor_attribute(d, e);
  if (!d->o.once && d->o.rescan_ms > 0)
    uv_timer_start(&s->rescan_timer, rescan_cb, (uint64_t)d->o.rescan_ms,
                   (uint64_t)d->o.rescan_ms);
  return 0;
}

static void sensor_maybe_free(struct cf_sensor *s) {
  if (!s->stopped || s->open_handles || s->jobs) return;
  if (s->ifd >= 0) close(s->ifd);
  for (size_t i = 0; i < s->nwd; i++) cf_free(s->wds[i].path);
  cf_free(s->wds);
  cf_free(s->pidx);
  for (size_t i = 0; i < s->npat; i++) cf_free(s->pat[i]);
  cf_free(s->base);
  cf_free(s->marker);
  cf_free(s);
}

static void sensor_closed(uv_handle_t *h) {
  struct cf_sensor *s = h->data;
  s->open_handles--;
  sensor_maybe_free(s);
}

void cf__sensor_stop(struct cf_sensor *s) {
  if (!s) return;
  s->stopped = 1;
  s->e = NULL;
  while (s->pend) pend_drop(s, s->pend);
  while (s->ready) {
    struct scan *c = s->ready;
    s->ready = c->link;
    scan_free(c);
  }
  s->ready_tail = &s->ready;
  /* a walk not started yet is dropped; one running ends, then its done
   * callback frees it (jobs keeps s and the inotify fd alive till then) */
  for (struct scan *c = s->walking; c; c = c->link) cf__dscan_cancel(c->sc);
  uv_close((uv_handle_t *)&s->settle_timer, sensor_closed);
  uv_close((uv_handle_t *)&s->rescan_timer, sensor_closed);
  uv_close((uv_handle_t *)&s->judge_idle, sensor_closed);
  if (s->has_poll) uv_close((uv_handle_t *)&s->poll, sensor_closed);
}
