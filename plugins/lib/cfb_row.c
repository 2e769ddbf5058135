/* The unified cost row: column names, file classification and the
 * ServiceCategory lookup tables (built-in plus optional CSV). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "cfb.h"
#include "costflow/csv.h"

#define CFB__COL_NAME(n) #n,
const char *const cfb_col_names[CFB_NCOLS] = {CFB_COLS(CFB__COL_NAME)};
#undef CFB__COL_NAME

const char cfb_header_line[] =
    "BillingAccountId,SubAccountId,ProviderName,ServiceName,"
    "ServiceCategory,RegionId,ResourceId,ChargeCategory,ChargePeriodStart,"
    "ChargePeriodEnd,BilledCost,EffectiveCost,ListCost,BillingCurrency,"
    "ConsumedQuantity,ConsumedUnit,SkuId,Tags,x_IsCredit,x_LineItemId,"
    "x_SourceFileHash,x_SourceLine,x_IngestedAt\n";
/* The unit tests check this line against cfb_col_names. */

const char *cfb_provider_name(enum cfb_provider p) {
  return p == CFB_AWS ? "aws" : "gcp";
}

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

struct cfb_map_ent { char *key, *cat; };
struct cfb_maps {
  struct cfb_map_ent *ent[3];     /* indexed by provider */
  size_t n[3], cap[3];
};

struct cfb_maps *cfb_maps_new(void) {
  return cf_calloc(1, sizeof(struct cfb_maps));
}

void cfb_maps_free(struct cfb_maps *m) {
  if (!m) return;
  for (int p = 0; p < 3; p++) {
    for (size_t i = 0; i < m->n[p]; i++) {
      cf_free(m->ent[p][i].key);
      cf_free(m->ent[p][i].cat);
    }
    cf_free(m->ent[p]);
  }
  cf_free(m);
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
    if (m->n[p] == m->cap[p]) {
      size_t nc = m->cap[p] ? 2 * m->cap[p] : 64;
      struct cfb_map_ent *e = cf_realloc(m->ent[p], nc * sizeof *e);
      if (!e) { ret = -ENOMEM; break; }
      m->ent[p] = e;
      m->cap[p] = nc;
    }
    struct cfb_map_ent *e = &m->ent[p][m->n[p]];
    e->key = cf_strdup(f[0]);
    e->cat = cf_strdup(f[1]);
    if (!e->key || !e->cat) {
      cf_free(e->key);
      cf_free(e->cat);
      ret = -ENOMEM;
      break;
    }
    m->n[p]++;
  }
  cf_csv_close(c);
  if (ret < 0 && errmsg && !*errmsg)
    *errmsg = cf_asprintf("%s: %s", path, cf_strerror(ret));
  return ret < 0 ? ret : 0;
}

const char *cfb_category(const struct cfb_maps *m, enum cfb_provider p,
                         const char *key) {
  if (!key || !*key) return "Other";
  /* Loaded rows override the built-ins; the last loaded row wins. */
  for (size_t i = m ? m->n[p] : 0; i-- > 0;)
    if (!strcmp(m->ent[p][i].key, key)) return m->ent[p][i].cat;
  const char *const (*t)[2] = p == CFB_AWS ? aws_builtin : gcp_builtin;
  size_t n = p == CFB_AWS ? sizeof aws_builtin / sizeof *aws_builtin
                          : sizeof gcp_builtin / sizeof *gcp_builtin;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(t[i][0], key)) return t[i][1];
  return "Other";
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcasecmp(s + a - b, suf) == 0;
}

const char *cfb_file_ext(const char *path) {
  static const char *const exts[] = {".csv.gz", ".csv.zip", ".jsonl.gz",
                                     ".json.gz", ".csv", ".zip", ".jsonl",
                                     ".json", ".gz"};
  for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
    if (ends_with(path, exts[i])) return exts[i];
  return "";
}

const char *cfb_file_kind(enum cfb_provider p, const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (base[0] == '.' || base[0] == '_') return NULL;   /* hidden, markers */
  if (p == CFB_AWS) {
    if (ends_with(base, "Manifest.json")) return "aws_manifest";
    if (!ends_with(base, ".csv") && !ends_with(base, ".csv.gz") &&
        !ends_with(base, ".zip"))
      return NULL;
    /* Sniff the header: CUR 2.0 names have no '/'. */
    struct cf_csv *c;
    const char *kind = "aws_cur_legacy";
    if (cf_csv_open(path, &c, NULL) == 0) {
      const char **f;
      const size_t *l;
      size_t n;
      int64_t line;
      char *err = NULL;
      if (cf_csv_next(c, &f, &l, &n, &line, &err) == 1 && n &&
          !strchr(f[0], '/'))
        kind = "aws_cur2";
      cf_free(err);
      cf_csv_close(c);
    }
    return kind;
  }
  if (ends_with(base, ".jsonl") || ends_with(base, ".json") ||
      ends_with(base, ".jsonl.gz") || ends_with(base, ".json.gz"))
    return "gcp_jsonl";
  if (ends_with(base, ".csv") || ends_with(base, ".csv.gz") ||
      ends_with(base, ".zip"))
    return "gcp_csv";
  return NULL;
}
