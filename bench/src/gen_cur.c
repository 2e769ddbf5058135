/* gen_cur: AWS CUR (legacy CSV) deliveries for the billing-transform
 * benchmark, plus the exact expected answer.
 *
 *   gen_cur --mb N --out DIR [--seed S]
 *
 * Writes
 *   DIR/landing/aws/year=2025/month=03/day=01/cur-base.csv     (~N MB)
 *   DIR/landing/aws/year=2025/month=03/day=02/cur-corrections.csv
 *   DIR/expected.csv   usage_date,account,product,cost,rows
 * The base delivery covers usage dates 2025-02-01..2025-02-28. The later
 * corrections delivery restates ~5% of the line items (same
 * identity/LineItemId + identity/TimeInterval, new cost; the latest
 * delivery wins) and adds ~1% new line items, spread over every usage date.
 * The job: deduplicate by line item (latest delivery wins), then total
 * cost and row count by usage date x account x product.
 *
 * Money is int64 units of 10^-10 here (costs carry up to 10 fractional
 * digits, as real CURs do), never double. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_DAYS 28
#define N_ACCT 20
#define N_SVC 12

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static const struct {
  const char *code, *name, *usage_type, *unit, *sku;
} svcs[N_SVC] = {
  {"AmazonEC2", "Amazon Elastic Compute Cloud", "BoxUsage:m5.large", "Hrs", "VEAJHRNKTJZA"},
  {"AmazonS3", "Amazon Simple Storage Service", "TimedStorage-ByteHrs", "GB-Mo", "WP9ANXZGBYYS"},
  {"AmazonRDS", "Amazon Relational Database Service", "InstanceUsage:db.t3.medium", "Hrs", "QZ4Y8XKJ9M2W"},
  {"AWSLambda", "AWS Lambda", "Request", "Requests", "8BYM2E7XUNSK"},
  {"AmazonCloudWatch", "AmazonCloudWatch", "MetricMonitorUsage", "Metrics", "9VHXQ4TUD6H3"},
  {"AmazonDynamoDB", "Amazon DynamoDB", "ReadCapacityUnit-Hrs", "ReadCapacityUnit-Hrs", "K3RW9DQ2ZC7F"},
  {"AmazonVPC", "Amazon Virtual Private Cloud", "NatGateway-Hours", "Hrs", "M8XH2T4WQJ6P"},
  {"AmazonEKS", "Amazon Elastic Container Service for Kubernetes", "AmazonEKS-Hours:perCluster", "Hours", "E5KS7PL3NV2Q"},
  {"AmazonSNS", "Amazon Simple Notification Service", "Requests-Tier1", "Requests", "S9NS4RT6YU1B"},
  {"AmazonSQS", "Amazon Simple Queue Service", "Requests-RBP", "Requests", "Q7SQ2WE8RT5Y"},
  {"AWSDataTransfer", "AWS Data Transfer", "DataTransfer-Out-Bytes", "GB", "D4TR9AN5SF3E"},
  {"AmazonES", "Amazon OpenSearch Service", "ESInstance:r6g.large", "Hrs", "O2SE6AR1CH8X"},
};

static int64_t expect_cost[N_DAYS][N_ACCT][N_SVC];
static int64_t expect_rows[N_DAYS][N_ACCT][N_SVC];

struct item { /* one line item as first delivered */
  uint64_t id;
  unsigned char day, hour, acct, svc, type;
  int64_t cost;
};

static const char *hdr =
    "identity/LineItemId,identity/TimeInterval,bill/InvoiceId,"
    "bill/BillingEntity,bill/BillType,bill/PayerAccountId,"
    "bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,"
    "lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,"
    "lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,"
    "lineItem/Operation,lineItem/AvailabilityZone,lineItem/ResourceId,"
    "lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedCost,"
    "lineItem/LineItemDescription,product/ProductName,product/region,"
    "product/sku,pricing/publicOnDemandCost,pricing/unit,"
    "resourceTags/user:team,resourceTags/user:env\n";

static void money(int64_t v, char *out) { /* 10^-10 units -> text */
  uint64_t a = v < 0 ? (uint64_t)-v : (uint64_t)v;
  int n = sprintf(out, "%s%" PRIu64 ".%010" PRIu64, v < 0 ? "-" : "",
                  (uint64_t)(a / 10000000000ULL), (uint64_t)(a % 10000000000ULL));
  while (out[n - 1] == '0') out[--n] = '\0'; /* CUR style: 0.0123 */
  if (out[n - 1] == '.') out[--n] = '\0';
}

static const char *types[] = {"Usage", "Credit", "Tax"};

static size_t write_row(FILE *f, const struct item *it) {
  char cost[48], usage[32];
  int d = it->day + 1, h = it->hour;
  int d2 = h == 23 ? d + 1 : d, h2 = (h + 1) % 24;
  int m2 = 2;
  if (d2 > 28) { d2 = 1; m2 = 3; }
  money(it->cost, cost);
  snprintf(usage, sizeof usage, "%" PRIu64 ".%03u", (it->id >> 20) % 1000,
           (unsigned)(it->id % 1000));
  char acct[24];
  snprintf(acct, sizeof acct, "%012" PRIu64,
           (uint64_t)100000000000ULL + it->acct * 7919u);
  int usage_row = it->type == 0;
  char res[32] = "";
  if (usage_row) snprintf(res, sizeof res, "i-%010" PRIx64, it->id >> 24);
  int n = fprintf(
      f,
      "%016" PRIx64 "%08x,2025-02-%02dT%02d:00:00Z/2025-%02d-%02dT%02d:00:00Z,,"
      "AWS,Anniversary,100000000000,2025-02-01T00:00:00Z,2025-03-01T00:00:00Z,"
      "%s,%s,2025-02-%02dT%02d:00:00Z,2025-%02d-%02dT%02d:00:00Z,%s,%s,%s,"
      "us-east-1a,%s,%s,USD,%s,\"%s %s, generated\",%s,us-east-1,%s,%s,"
      "%s,%s,%s\n",
      it->id, (unsigned)(it->id >> 40), d, h, m2, d2, h2, acct,
      types[it->type], d, h, m2, d2, h2, svcs[it->svc].code,
      usage_row ? svcs[it->svc].usage_type : "",
      usage_row ? "RunInstances" : "", res, usage_row ? usage : "", cost,
      types[it->type], svcs[it->svc].name, svcs[it->svc].name,
      svcs[it->svc].sku, usage_row ? cost : "",
      usage_row ? svcs[it->svc].unit : "",
      it->acct % 3 ? "data" : "web", it->acct % 2 ? "dev" : "prod");
  return n > 0 ? (size_t)n : 0;
}

static void count(const struct item *it, int sign) {
  expect_cost[it->day][it->acct][it->svc] += sign * it->cost;
  expect_rows[it->day][it->acct][it->svc] += sign;
}

static void new_item(struct item *it) {
  it->id = rnd();
  it->day = (unsigned char)(rnd() % N_DAYS);
  it->hour = (unsigned char)(rnd() % 24);
  it->acct = (unsigned char)(rnd() % N_ACCT);
  it->svc = (unsigned char)(rnd() % N_SVC);
  unsigned r = (unsigned)(rnd() % 100);
  it->type = r < 94 ? 0 : r < 97 ? 1 : 2;
  /* up to 10 fractional digits; some small, some large amounts */
  int64_t c = (int64_t)(rnd() % 50000000000ULL);    /* < 5.0 */
  if (rnd() % 50 == 0) c *= 1000;                   /* a few big rows */
  if (rnd() % 4 == 0) c -= c % 1000000;             /* 4 digits only */
  it->cost = it->type == 1 ? -c : c;
}

static int mkdirs(char *p) {
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return -1;
    *s = '/';
  }
  return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv) {
  double mb = 100;
  const char *out = NULL;
  rng_state = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--mb")) mb = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
    else if (!strcmp(argv[i], "--seed")) rng_state = strtoull(argv[i + 1], NULL, 10);
  }
  if (!out || mb <= 0) {
    fprintf(stderr, "usage: gen_cur --mb N --out DIR [--seed S]\n");
    return 2;
  }
  char p1[4096], p2[4096], pe[4096];
  snprintf(p1, sizeof p1, "%s/landing/aws/year=2025/month=03/day=01", out);
  snprintf(p2, sizeof p2, "%s/landing/aws/year=2025/month=03/day=02", out);
  if (mkdirs(p1) < 0 || mkdirs(p2) < 0) { perror(out); return 1; }
  strcat(p1, "/cur-base.csv");
  strcat(p2, "/cur-corrections.csv");
  snprintf(pe, sizeof pe, "%s/expected.csv", out);
  FILE *f = fopen(p1, "w");
  if (!f) { perror(p1); return 1; }
  size_t target = (size_t)(mb * 1e6), bytes = fputs(hdr, f) >= 0 ? strlen(hdr) : 0;
  size_t cap = 1 << 16, nres = 0;
  struct item *restate = malloc(cap * sizeof *restate);
  if (!restate) return 1;
  long rows = 0;
  while (bytes < target) {
    struct item it;
    new_item(&it);
    bytes += write_row(f, &it);
    rows++;
    count(&it, 1);
    if (rnd() % 100 < 5) {
      if (nres == cap) {
        cap *= 2;
        struct item *n = realloc(restate, cap * sizeof *restate);
        if (!n) return 1;
        restate = n;
      }
      restate[nres++] = it;
    }
  }
  if (fclose(f) != 0) { perror(p1); return 1; }
  f = fopen(p2, "w");
  if (!f) { perror(p2); return 1; }
  fputs(hdr, f);
  long crows = 0;
  for (size_t i = 0; i < nres; i++) {
    struct item it = restate[i];
    count(&it, -1);                              /* replaced */
    int64_t delta = (int64_t)(rnd() % 2000000000ULL) - 1000000000;
    it.cost += it.type == 1 ? -(delta < 0 ? -delta : delta) : delta;
    if (it.type != 1 && it.cost < 0) it.cost = -it.cost;
    if (it.type == 1 && it.cost > 0) it.cost = -it.cost;
    write_row(f, &it);
    count(&it, 1);
    crows++;
    if (i % 5 == 0) {                            /* late new line items */
      struct item n;
      new_item(&n);
      write_row(f, &n);
      count(&n, 1);
      crows++;
    }
  }
  if (fclose(f) != 0) { perror(p2); return 1; }
  free(restate);
  f = fopen(pe, "w");
  if (!f) { perror(pe); return 1; }
  fputs("usage_date,account,product,cost,rows\n", f);
  for (int d = 0; d < N_DAYS; d++)
    for (int a = 0; a < N_ACCT; a++)
      for (int s = 0; s < N_SVC; s++) {
        if (!expect_rows[d][a][s]) continue;
        char c[48];
        money(expect_cost[d][a][s], c);
        fprintf(f, "2025-02-%02d,%012" PRIu64 ",%s,%s,%" PRId64 "\n", d + 1,
                (uint64_t)100000000000ULL + (uint64_t)a * 7919u, svcs[s].name, c,
                expect_rows[d][a][s]);
      }
  if (fclose(f) != 0) { perror(pe); return 1; }
  fprintf(stderr, "gen_cur: base %ld rows (%zu bytes), corrections %ld rows\n",
          rows, bytes, crows);
  return 0;
}
