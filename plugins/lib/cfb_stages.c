/* Bodies of the ingest stages: extract, bronze, silver, availability.
 * Each returns an enum cf_result; details go to the attempt's log. */
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include "cfb_plugin.h"

int cfbp_extract_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api,
                     enum cfb_provider p) {
  struct cfbp h = {ctx, api};
  const char *ds = api->logical_date(ctx);
  const char *landing = api->param(ctx, "landing");
  struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
  char *root = NULL, *day = NULL, *work = NULL, *err = NULL, num[32];
  struct cfb_maps *maps = NULL;
  int res = CF_RESULT_FAIL;
  if (!landing || !*landing) {
    api->log(ctx, CF_LOG_ERROR, "param 'landing' is required");
    goto done;
  }
  root = cfbp_path(&h, landing);
  day = root ? cf_asprintf("%s/%s/year=%.4s/month=%.2s/day=%.2s", root,
                           cfb_provider_name(p), ds, ds + 5, ds + 8)
             : NULL;
  work = cfbp_work(&h, p);
  if (!day || !work || !(maps = cfbp_maps(&h))) goto done;
  struct cfb_extract_opts eo = {.maps = maps, .log = cfbp_log, .log_ud = &h};
  if (cfb_extract(p, day, work, &eo, &st, &err) < 0) {
    api->log(ctx, CF_LOG_ERROR, "%s", err ? err : "extract failed");
    goto done;
  }
  long long ce = 0;
  if (p == CFB_AWS && cfbp_bool(api->param(ctx, "ce_live"), 0)) {
    ce = cfbp_ce_pull(&h, work);
    if (ce < 0) goto done;
  }
  api->log(ctx, CF_LOG_INFO,
           "%s %s: %lld files, %lld rows, %lld rejected, usage dates %s",
           cfb_provider_name(p), ds, (long long)st.files, (long long)st.rows,
           (long long)st.rejected, st.usage_dates.buf);
  snprintf(num, sizeof num, "%lld", (long long)st.files);
  api->output_set(ctx, "files", num);
  snprintf(num, sizeof num, "%lld", (long long)st.rows);
  api->output_set(ctx, "rows", num);
  snprintf(num, sizeof num, "%lld", (long long)st.rejected);
  api->output_set(ctx, "rejected", num);
  snprintf(num, sizeof num, "%lld", ce);
  api->output_set(ctx, "ce_rows", num);
  api->output_set(ctx, "usage_dates", st.usage_dates.buf);
  api->output_set(ctx, "work_dir", work);
  res = CF_RESULT_OK;
done:
  cf_buf_release(&st.usage_dates);
  cfb_maps_free(maps);
  cf_free(root);
  cf_free(day);
  cf_free(work);
  cf_free(err);
  return res;
}

int cfbp_bronze_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  struct cfbp h = {ctx, api};
  const char *ds = api->logical_date(ctx);
  int64_t tot_stored = 0, tot_skipped = 0;
  for (int p = CFB_AWS; p <= CFB_GCP; p++) {
    char *work = cfbp_work(&h, (enum cfb_provider)p), *err = NULL;
    int64_t stored = 0, skipped = 0;
    int r = work ? cfb_bronze_store(api->home(ctx), (enum cfb_provider)p, ds,
                                    work, &stored, &skipped, &err)
                 : -ENOMEM;
    if (r < 0)
      api->log(ctx, CF_LOG_ERROR, "%s", err ? err : cf_strerror(r));
    else
      api->log(ctx, CF_LOG_INFO, "bronze %s %s: %lld stored, %lld already "
               "there", cfb_provider_name((enum cfb_provider)p), ds,
               (long long)stored, (long long)skipped);
    cf_free(work);
    cf_free(err);
    if (r < 0) return CF_RESULT_FAIL;
    tot_stored += stored;
    tot_skipped += skipped;
  }
  char num[32];
  snprintf(num, sizeof num, "%lld", (long long)tot_stored);
  api->output_set(ctx, "stored", num);
  snprintf(num, sizeof num, "%lld", (long long)tot_skipped);
  api->output_set(ctx, "unchanged", num);
  return CF_RESULT_OK;
}

static int on_partition(void *ud, const char *usage_date, int64_t rows,
                        const struct cfb_published *pub,
                        const char *inputs_json) {
  const struct cfbp *h = ud;
  char key[32];
  snprintf(key, sizeof key, "usage_date=%s", usage_date);
  if (pub->changed) {
    int64_t v = h->api->partition_record(h->ctx, "silver.cost", key, rows,
                                         pub->checksum, inputs_json);
    if (v < 0) {
      h->api->log(h->ctx, CF_LOG_ERROR, "partition_record %s: %s", key,
                  cf_strerror((int)v));
      return (int)v;
    }
  }
  h->api->log(h->ctx, CF_LOG_INFO, "silver %s: v%06lld %s, %lld rows, %s",
              key, (long long)pub->version,
              pub->changed ? "published" : "unchanged", (long long)rows,
              pub->checksum);
  return 0;
}

int cfbp_silver_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  struct cfbp h = {ctx, api};
  const char *ds = api->logical_date(ctx);
  struct cf_buf pub = CF_BUF_INIT(0);
  struct cfb_rejects rej = {0};
  char *rp = cf_asprintf("%s/work/%s/%s/silver_rejects.csv", api->home(ctx),
                         api->dag_id(ctx), ds);
  char *rdir = rp ? cf_strdup(rp) : NULL, *err = NULL;
  struct cfb_maps *maps = cfbp_maps(&h);
  const char *scratch = api->scratch_dir(ctx);
  int res = CF_RESULT_FAIL;
  if (!rp || !rdir || !maps || !scratch) goto done;
  *strrchr(rdir, '/') = '\0';
  if (cf_mkdir_p(rdir, 0755) < 0 || cfb_rejects_open(&rej, rp) < 0) {
    api->log(ctx, CF_LOG_ERROR, "cannot write %s", rp);
    goto done;
  }
  const char *only = api->param(ctx, "dates");
  struct cfb_silver_opts o = {
    .home = api->home(ctx), .ds = ds, .scratch = scratch, .maps = maps,
    .rejects = &rej, .log = cfbp_log, .log_ud = &h,
    .on_partition = on_partition, .part_ud = &h,
    .keep_versions = (int)cfbp_int(&h, "keep_versions", 3),
    .threads = (int)cfbp_int(&h, "threads", 0),
    .only_dates = only && *only ? only : NULL,
  };
  if (cfb_silver_build(&o, &pub, &err) < 0) {
    api->log(ctx, CF_LOG_ERROR, "%s", err ? err : "silver failed");
    goto done;
  }
  char num[32];
  snprintf(num, sizeof num, "%lld", (long long)rej.count);
  api->output_set(ctx, "partitions", pub.buf);
  api->output_set(ctx, "rejected", num);
  api->log(ctx, CF_LOG_INFO, "silver partitions %s", pub.buf);
  res = CF_RESULT_OK;
done:
  cfb_rejects_close(&rej);
  cf_buf_release(&pub);
  cfb_maps_free(maps);
  cf_free(rp);
  cf_free(rdir);
  cf_free(err);
  return res;
}

/* Counts regular, non-hidden files and bytes under path (recursive). */
static void count_tree(const char *path, long long *files, long long *bytes,
                       int depth) {
  struct stat st;
  if (stat(path, &st) < 0) return;
  if (S_ISREG(st.st_mode)) {
    (*files)++;
    *bytes += st.st_size;
    return;
  }
  if (!S_ISDIR(st.st_mode) || depth > 16) return;
  DIR *d = opendir(path);
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char *p = cf_asprintf("%s/%s", path, e->d_name);
    if (p) count_tree(p, files, bytes, depth + 1);
    cf_free(p);
  }
  closedir(d);
}

int cfbp_check_run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  struct cfbp h = {ctx, api};
  size_t n = api->param_count(ctx, "paths");
  long long min_files = cfbp_int(&h, "min_files", 1);
  long long min_bytes = cfbp_int(&h, "min_bytes", 0);
  const char *marker = api->param(ctx, "marker");
  long long files = 0, bytes = 0;
  int missing_marker = 0;
  if (n == 0) {
    api->log(ctx, CF_LOG_ERROR, "param 'paths' must list at least one path");
    return CF_RESULT_FAIL;
  }
  for (size_t i = 0; i < n; i++) {
    char *p = cfbp_path(&h, api->param_item(ctx, "paths", i));
    if (!p) return CF_RESULT_FAIL;
    glob_t g;
    long long f0 = files;
    if (glob(p, GLOB_NOSORT, NULL, &g) == 0) {
      for (size_t k = 0; k < g.gl_pathc; k++)
        count_tree(g.gl_pathv[k], &files, &bytes, 0);
      if (marker && *marker && !strchr(marker, '/')) {
        /* A marker name must sit in every matched folder. */
        for (size_t k = 0; k < g.gl_pathc; k++) {
          char *m = cf_asprintf("%s/%s", g.gl_pathv[k], marker);
          struct stat st;
          if (!m || stat(m, &st) < 0) missing_marker = 1;
          cf_free(m);
        }
      }
      globfree(&g);
    } else if (marker && *marker && !strchr(marker, '/')) {
      missing_marker = 1;
    }
    api->log(ctx, CF_LOG_INFO, "%s: %lld files", p, files - f0);
    cf_free(p);
  }
  if (marker && strchr(marker, '/')) {
    char *m = cfbp_path(&h, marker);
    struct stat st;
    missing_marker = !m || stat(m, &st) < 0;
    cf_free(m);
  }
  char num[32];
  snprintf(num, sizeof num, "%lld", files);
  api->output_set(ctx, "files", num);
  snprintf(num, sizeof num, "%lld", bytes);
  api->output_set(ctx, "bytes", num);
  if (files < min_files || bytes < min_bytes || missing_marker) {
    api->log(ctx, CF_LOG_WARN,
             "input not ready: %lld/%lld files, %lld/%lld bytes%s; retry",
             files, min_files, bytes, min_bytes,
             missing_marker ? ", marker missing" : "");
    return CF_RESULT_RETRY;
  }
  return CF_RESULT_OK;
}
