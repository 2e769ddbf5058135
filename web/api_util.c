/* JSON helpers shared by the api_*.c handlers. */
#include <string.h>
#include "web-int.h"

json_t *cf__json_time(int64_t us) {
  char iso[32];
  if (!us) return json_null();
  cf_us_to_iso(us, iso);
  return json_string(iso);
}

json_t *cf__json_col_text(sqlite3_stmt *s, int col) {
  const unsigned char *t = sqlite3_column_text(s, col);
  return t ? json_string((const char *)t) : json_null();
}

json_t *cf__run_json(const struct cf_run_row *run) {
  char ds[11];
  cf_date_format(run->logical_date, ds);
  json_t *conf = run->conf ? json_loads(run->conf, 0, NULL) : NULL;
  json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id",
                        (json_int_t)run->id, "dag_id", run->dag_id,
                        "run_id", run->run_id, "logical_date", ds, "kind",
                        run->kind, "state", run->state);
  if (!o) {
    json_decref(conf);
    return NULL;
  }
  json_object_set_new(o, "conf", conf ? conf : json_object());
  json_object_set_new(o, "created", cf__json_time(run->created_us));
  json_object_set_new(o, "start", cf__json_time(run->start_us));
  json_object_set_new(o, "end", cf__json_time(run->end_us));
  json_object_set_new(o, "duration_s",
                      run->start_us && run->end_us
                          ? json_real((double)(run->end_us - run->start_us)
                                      / 1e6)
                          : json_null());
  return o;
}

int cf__req_run(struct cf_web_req *r, struct cf_run_row *run) {
  cf_date d;
  if (cf_date_parse(r->param[1], &d) < 0) {
    cf__respond_error(r, 400, "'%s' is not a YYYY-MM-DD date", r->param[1]);
    return -1;
  }
  int rc = cf_store_run_get(r->web->st, r->param[0], d, run);
  if (rc == CF_ENOTFOUND) {
    cf__respond_error(r, 404, "%s has no run for %s", r->param[0],
                      r->param[1]);
    return -1;
  }
  if (rc < 0) {
    cf__respond_error(r, 500, "store: %s", cf_store_errmsg(r->web->st));
    return -1;
  }
  return 0;
}
