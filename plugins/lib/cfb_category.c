/* ServiceCategory lookup: AWS product code / GCP service name -> FOCUS
 * category, from a built-in table plus optional CSV rows. Every row of a
 * file asks, so keys are hashed: the built-ins once per process
 * (pthread_once), loaded rows as they are loaded. Lookups only read, so
 * reader threads share one cfb_maps without locks once loading is done. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "cfb.h"
#include "costflow/hash.h"
#include "costflow/csv.h"

/* Most common codes (from the FOCUS converters' mapping files). */
static const char *const aws_builtin[][2] = {
  {"AmazonEC2", "Compute"}, {"AWSLambda", "Compute"},
  {"AmazonECS", "Compute"}, {"AmazonEKS", "Compute"},
  {"AmazonECR", "Compute"}, {"AmazonLightsail", "Compute"},
  {"AmazonS3", "Storage"}, {"AmazonEBS", "Storage"},
  {"AmazonEFS", "Storage"}, {"AWSBackup", "Storage"},
  {"AmazonRDS", "Databases"}, {"AmazonDynamoDB", "Databases"},
  {"AmazonElastiCache", "Databases"}, {"AmazonRedshift", "Databases"},
  {"AWSDataTransfer", "Networking"}, {"AWSELB", "Networking"},
  {"AmazonCloudFront", "Networking"}, {"AmazonRoute53", "Networking"},
  {"AmazonVPC", "Networking"}, {"AmazonApiGateway", "Networking"},
  {"AWSGlue", "Analytics"}, {"AmazonAthena", "Analytics"},
  {"AmazonKinesis", "Analytics"}, {"ElasticMapReduce", "Analytics"},
  {"AmazonES", "Analytics"}, {"AmazonMSK", "Analytics"},
  {"AWSQueueService", "Integration"}, {"AmazonSNS", "Integration"},
  {"AmazonStates", "Integration"}, {"AmazonMQ", "Integration"},
  {"AmazonCloudWatch", "Management and Governance"},
  {"AWSCloudTrail", "Management and Governance"},
  {"AWSConfig", "Management and Governance"},
  {"AWSSystemsManager", "Management and Governance"},
  {"AWSCostExplorer", "Management and Governance"},
  {"AWSCloudShell", "Developer Tools"},
  {"AWSCodeCommit", "Developer Tools"},
  {"AWSCodePipeline", "Developer Tools"},
  {"AWSSecretsManager", "Security"}, {"awskms", "Security"},
  {"AWSShield", "Security"}, {"awswaf", "Security"},
  {"AmazonGuardDuty", "Security"}, {"AmazonCognito", "Security"},
  {"AmazonInspector", "Security"}, {"AmazonMacie", "Security"},
  {"AWSIoT", "Internet of Things"},
  {"AWSMigrationHubRefactorSpaces", "Migration"},
  {"AmazonSageMaker", "AI and Machine Learning"},
};
static const char *const gcp_builtin[][2] = {
  {"Compute Engine", "Compute"}, {"Kubernetes Engine", "Compute"},
  {"Cloud Run", "Compute"}, {"Cloud Functions", "Compute"},
  {"App Engine", "Compute"}, {"Cloud Storage", "Storage"},
  {"Cloud Filestore", "Storage"}, {"BigQuery", "Databases"},
  {"Cloud SQL", "Databases"}, {"Cloud Spanner", "Databases"},
  {"Cloud Bigtable", "Databases"},
  {"Cloud Memorystore for Redis", "Databases"},
  {"Networking", "Networking"}, {"Cloud DNS", "Networking"},
  {"Cloud CDN", "Networking"}, {"Cloud Pub/Sub", "Integration"},
  {"Cloud Dataflow", "Analytics"}, {"Cloud Composer", "Analytics"},
  {"Cloud Logging", "Management and Governance"},
  {"Stackdriver Monitoring", "Compute"},
  {"Cloud Monitoring", "Management and Governance"},
  {"Security Command Center", "Security"},
  {"Secret Manager", "Security"},
  {"Cloud Key Management Service (KMS)", "Security"},
  {"Vertex AI", "AI and Machine Learning"},
  {"Artifact Registry", "Compute"}, {"Cloud Build", "Developer Tools"},
};

/* Open addressing over (key, category), at most half full. */
struct cat_slot { const char *key, *cat; size_t len; };
struct cat_table { struct cat_slot *slot; size_t mask, n; };

/* The slot holding key, or the empty slot where it would go. */
static struct cat_slot *probe(const struct cat_table *t, uint64_t h,
                              const char *key, size_t n) {
  for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
    struct cat_slot *s = &t->slot[i];
    if (!s->key || (s->len == n && !memcmp(s->key, key, n))) return s;
  }
}

/* Built-ins: fixed tables, filled once. */
#define BUILTIN_SLOTS 128
static struct cat_slot builtin_slot[2][BUILTIN_SLOTS];
static struct cat_table builtin[2] = {
  {builtin_slot[0], BUILTIN_SLOTS - 1, 0},
  {builtin_slot[1], BUILTIN_SLOTS - 1, 0}};
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

_Static_assert(2 * sizeof aws_builtin / sizeof *aws_builtin <= BUILTIN_SLOTS &&
               2 * sizeof gcp_builtin / sizeof *gcp_builtin <= BUILTIN_SLOTS,
               "built-in category tables must stay at most half full");

static void builtin_fill(void) {
  for (int p = 0; p < 2; p++) {
    const char *const (*v)[2] = p ? gcp_builtin : aws_builtin;
    size_t n = p ? sizeof gcp_builtin / sizeof *gcp_builtin
                 : sizeof aws_builtin / sizeof *aws_builtin;
    for (size_t i = 0; i < n; i++) {
      size_t len = strlen(v[i][0]);
      struct cat_slot *s =
          probe(&builtin[p], cf_hash64(v[i][0], len), v[i][0], len);
      if (s->key) continue;                       /* first row wins */
      *s = (struct cat_slot){v[i][0], v[i][1], len};
      builtin[p].n++;
    }
  }
}

struct cfb_maps {
  struct cat_table loaded[2];    /* per provider; owns keys and cats */
};

struct cfb_maps *cfb_maps_new(void) {
  return cf_calloc(1, sizeof(struct cfb_maps));
}

void cfb_maps_free(struct cfb_maps *m) {
  if (!m) return;
  for (int p = 0; p < 2; p++) {
    struct cat_table *t = &m->loaded[p];
    for (size_t i = 0; t->slot && i <= t->mask; i++) {
      cf_free((char *)t->slot[i].key);
      cf_free((char *)t->slot[i].cat);
    }
    cf_free(t->slot);
  }
  cf_free(m);
}

/* Doubles t (or makes its first 64 slots) when one more key would fill
 * it past half. */
static int table_reserve(struct cat_table *t) {
  size_t cap = t->slot ? t->mask + 1 : 0;
  if (2 * (t->n + 1) <= cap) return 0;
  size_t nc = cap ? 2 * cap : 64;
  struct cat_table g = {cf_calloc(nc, sizeof *g.slot), nc - 1, t->n};
  if (!g.slot) return -ENOMEM;
  for (size_t i = 0; i < cap; i++)
    if (t->slot[i].key)
      *probe(&g, cf_hash64(t->slot[i].key, t->slot[i].len), t->slot[i].key,
             t->slot[i].len) = t->slot[i];
  cf_free(t->slot);
  *t = g;
  return 0;
}

/* Adds key -> cat (both copied); a key loaded again takes the new cat. */
static int table_put(struct cat_table *t, const char *key, const char *cat) {
  size_t len = strlen(key);
  int r = table_reserve(t);
  if (r < 0) return r;
  char *c = cf_strdup(cat);
  if (!c) return -ENOMEM;
  struct cat_slot *s = probe(t, cf_hash64(key, len), key, len);
  if (s->key) {
    cf_free((char *)s->cat);
    s->cat = c;
    return 0;
  }
  char *k = cf_strdup(key);
  if (!k) {
    cf_free(c);
    return -ENOMEM;
  }
  *s = (struct cat_slot){k, c, len};
  t->n++;
  return 0;
}

int cfb_maps_load(struct cfb_maps *m, enum cfb_provider p, const char *path,
                  char **errmsg) {
  struct cf_csv *c;
  int ret = cf_csv_open(path, &c, errmsg);
  if (ret < 0) return ret;
  const char **f;
  const size_t *l;
  size_t nf;
  int64_t line;
  char *err = NULL;
  while ((ret = cf_csv_next(c, &f, &l, &nf, &line, &err)) != 0) {
    if (ret < 0) {
      cf_free(err);
      err = NULL;
      if (ret == CF_EDATA) continue;
      break;
    }
    if (line == 1 || nf < 2 || !l[0]) continue;      /* header */
    /* Keys are C strings (cut at a NUL); "" is never looked up. */
    if (*f[0] && (ret = table_put(&m->loaded[p != CFB_AWS], f[0], f[1])) < 0)
      break;
  }
  cf_csv_close(c);
  if (ret < 0 && errmsg && !*errmsg)
    *errmsg = cf_asprintf("%s: %s", path, cf_strerror(ret));
  return ret < 0 ? ret : 0;
}

const char *cfb_category_n(const struct cfb_maps *m, enum cfb_provider p,
                           const char *key, size_t n) {
  if (!key || !n) return "Other";
  int i = p != CFB_AWS;                /* 0: AWS, 1: GCP */
  uint64_t h = cf_hash64(key, n);
  /* Loaded rows override the built-ins. */
  if (m && m->loaded[i].slot) {
    const struct cat_slot *s = probe(&m->loaded[i], h, key, n);
    if (s->key) return s->cat;
  }
  pthread_once(&builtin_once, builtin_fill);
  const struct cat_slot *s = probe(&builtin[i], h, key, n);
  return s->key ? s->cat : "Other";
}

const char *cfb_category(const struct cfb_maps *m, enum cfb_provider p,
                         const char *key) {
  return cfb_category_n(m, p, key, key ? strlen(key) : 0);
}
