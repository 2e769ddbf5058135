/* GET /api/dags/ID/runs/DATE/tasks/TASK/log?try=N[&tail=BYTES|&download=1]
 * An attempt's log: the last `tail` bytes (default 64 KiB) as text, or
 * the whole file streamed in chunks (never read whole into memory). The
 * path comes from the store's attempt row, never from the request. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "web-int.h"

#define DEFAULT_TAIL 65536
#define MAX_TAIL (4 << 20)

void cf__api_log(struct cf_web_req *r) {
  struct cf_run_row run = {0};
  sqlite3_stmt *s = NULL;
  char *path = NULL;
  int tryno = 0, fd = -1;
  if (cf__req_run(r, &run) < 0) return;
  long want, tail;
  if (cf__query_long(r, "try", 0, 0, 1000000, &want) < 0 ||
      cf__query_long(r, "tail", DEFAULT_TAIL, 1, MAX_TAIL, &tail) < 0)
    goto done;
  if (sqlite3_prepare_v2(cf_store_db(r->web->st),
        "SELECT a.try_number, a.log_path FROM attempts a JOIN "
        "task_instances ti ON ti.id=a.ti_pk WHERE ti.run_pk=?1 AND "
        "ti.task_id=?2 AND (?3=0 OR a.try_number=?3) ORDER BY "
        "a.try_number DESC, a.id DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK) {
    cf__respond_error(r, 500, "store: %s", cf_store_errmsg(r->web->st));
    goto done;
  }
  sqlite3_bind_int64(s, 1, run.id);
  sqlite3_bind_text(s, 2, r->param[2], -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 3, (int)want);
  if (sqlite3_step(s) != SQLITE_ROW) {
    cf__respond_error(r, 404, "task '%s' of %s has no attempt%s",
                      r->param[2], run.run_id, want ? " with that try" : "");
    goto done;
  }
  tryno = sqlite3_column_int(s, 0);
  const char *lp = (const char *)sqlite3_column_text(s, 1);
  path = lp ? cf_strdup(lp) : NULL;
  if (!path) {
    cf__respond_error(r, 404, "attempt %d has no log", tryno);
    goto done;
  }
  struct stat sb;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
    cf__respond_error(r, 404, "log of try %d is gone", tryno);
    goto done;
  }
  char *dl = cf__query_get(r, "download");
  int download = dl && strcmp(dl, "0");
  cf_free(dl);
  int64_t size = sb.st_size, off = 0;
  char extra[512];
  if (download) {
    snprintf(extra, sizeof extra, "Content-Disposition: attachment; "
             "filename=\"%s_%s_%s_%d.log\"\r\nX-Log-Try: %d\r\n",
             run.dag_id, run.run_id, r->param[2], tryno, tryno);
  } else {
    if (size > tail) off = size - tail;
    snprintf(extra, sizeof extra, "X-Log-Try: %d\r\nX-Log-Size: %lld\r\n"
             "X-Log-Offset: %lld\r\n", tryno, (long long)size,
             (long long)off);
  }
  /* ids are [A-Za-z0-9_.-]: safe inside the quoted header value */
  cf__respond_file(r, fd, off, size - off, "text/plain; charset=utf-8",
                   extra);
  fd = -1;
done:
  if (fd >= 0) close(fd);
  sqlite3_finalize(s);
  cf_free(path);
  cf_run_row_release(&run);
}
