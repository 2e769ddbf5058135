/* Glue shared by the ingest stage plugins (see cfb_plugin.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cfb_plugin.h"

char *cfbp_path(const struct cfbp *h, const char *p) {
  if (!p) return NULL;
  if (p[0] == '/') return cf_strdup(p);
  const char *dir = h->api->dag_dir(h->ctx);
  return cf_asprintf("%s/%s", dir && *dir ? dir : ".", p);
}

void cfbp_log(void *ud, int level, const char *msg) {
  const struct cfbp *h = ud;
  h->api->log(h->ctx, (enum cf_log_level)level, "%s", msg);
}

int cfbp_bool(const char *s, int dflt) {
  if (!s || !*s) return dflt;
  return !strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes");
}

long long cfbp_int(const struct cfbp *h, const char *name, long long dflt) {
  const char *s = h->api->param(h->ctx, name);
  char *end;
  if (!s || !*s) return dflt;
  long long v = strtoll(s, &end, 10);
  return *end ? dflt : v;
}

struct cfb_maps *cfbp_maps(const struct cfbp *h) {
  static const char *const names[] = {"category_map_aws", "category_map_gcp"};
  struct cfb_maps *m = cfb_maps_new();
  for (int i = 0; m && i < 2; i++) {
    const char *cm = h->api->param(h->ctx, names[i]);
    if (!cm || !*cm) continue;
    char *path = cfbp_path(h, cm), *err = NULL;
    if (!path || cfb_maps_load(m, i ? CFB_GCP : CFB_AWS, path, &err) < 0) {
      h->api->log(h->ctx, CF_LOG_ERROR, "%s: %s", names[i],
                  err ? err : "out of memory");
      cfb_maps_free(m);
      m = NULL;
    }
    cf_free(err);
    cf_free(path);
  }
  return m;
}

char *cfbp_work(const struct cfbp *h, enum cfb_provider p) {
  char *w = cfb_work_dir(h->api->home(h->ctx), h->api->dag_id(h->ctx),
                         h->api->logical_date(h->ctx), p);
  if (w && cf_mkdir_p(w, 0755) < 0) {
    cf_free(w);
    return NULL;
  }
  return w;
}
