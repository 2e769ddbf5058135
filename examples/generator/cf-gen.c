/* cf-gen: writes a realistic AWS CUR + GCP billing export landing tree for
 * a date range, with the mess real deliveries have (exact duplicates,
 * late rows, restated deliveries and a CUR manifest snapshot, credits,
 * refunds, taxes, corrections, idle resources, one spike), and the exact
 * expected totals computed independently in integer micro-units.
 *
 *   cf-gen --from 2025-01-01 --to 2025-01-07 --rows-per-day 200 \
 *          --seed 42 --out DIR
 *   cf-gen --verify --home COSTFLOW_HOME --expected DIR/expected_totals.csv
 *
 * Money is int64 micro-units here, never double. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include "costflow/common.h"
#include "costflow/csv.h"
#include "costflow/decimal.h"

/* ---- deterministic randomness ---- */
static uint64_t rng_state;
static uint64_t rnd(void) {                   /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
static int64_t rnd_range(int64_t lo, int64_t hi) {      /* inclusive */
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}
static int chance(int pct) { return (int)(rnd() % 100) < pct; }

/* ---- money text ---- */
static void micro_plain(int64_t v, char *out) {  /* "-12.345600" */
  int64_t a = v < 0 ? -v : v;
  sprintf(out, "%s%" PRId64 ".%06" PRId64, v < 0 ? "-" : "", a / 1000000,
          a % 1000000);
}
/* Like GCP's float text: scientific for small values ("1.5e-05"). */
static void micro_float(int64_t v, char *out) {
  int64_t a = v < 0 ? -v : v;
  if (a > 0 && a < 1000) {
    /* a micro-units = a * 1e-6; write mantissa with exponent. */
    int exp = -6;
    while (a % 10 == 0) { a /= 10; exp++; }
    sprintf(out, "%s%" PRId64 "e%03d", v < 0 ? "-" : "", a, exp);
    /* "15e-06" -> "1.5e-05" style when more than one digit. */
    char m[32];
    sprintf(m, "%" PRId64, a);
    size_t n = strlen(m);
    if (n > 1)
      sprintf(out, "%s%c.%se-%02d", v < 0 ? "-" : "", m[0], m + 1,
              -(exp + (int)n - 1));
    else
      sprintf(out, "%s%se-%02d", v < 0 ? "-" : "", m, -exp);
    return;
  }
  micro_plain(v, out);
  size_t n = strlen(out);                     /* trim like repr() */
  while (n > 0 && out[n - 1] == '0') out[--n] = '\0';
  if (out[n - 1] == '.') { out[n] = '0'; out[n + 1] = '\0'; }
}

/* ---- model ---- */
static const char *const aws_accts[] = {"111111111111", "222222222222"};
static const char *const aws_payer = "111111111111";
struct svc {
  const char *code, *name, *usage_type, *unit, *sku;
  int64_t lo, hi;                 /* micro-units per row */
};
static const struct svc aws_svcs[] = {
  {"AmazonEC2", "Amazon Elastic Compute Cloud", "BoxUsage:m5.large", "Hrs",
   "VEAJHRNKTJZA", 20000, 400000},
  {"AmazonS3", "Amazon Simple Storage Service", "TimedStorage-ByteHrs",
   "GB-Mo", "WP9ANXZGBYYS", 1000, 90000},
  {"AmazonRDS", "Amazon Relational Database Service",
   "InstanceUsage:db.t3.medium", "Hrs", "QZ4Y8XKJ9M2W", 30000, 250000},
  {"AWSLambda", "AWS Lambda", "Request", "Requests", "8BYM2E7XUNSK", 5,
   20000},
  {"AmazonCloudWatch", "AmazonCloudWatch", "MetricMonitorUsage", "Metrics",
   "9VHXQ4TUD6H3", 100, 30000},
};
#define N_AWS_SVC (sizeof aws_svcs / sizeof *aws_svcs)
static const char *const gcp_projects[] = {"shop-prod", "shop-dev"};
static const char *const gcp_account = "01A2B3-C4D5E6-F7A8B9";
static const struct svc gcp_svcs[] = {
  {"6F81-5844-456A", "Compute Engine", "N1 Predefined Instance Core", "hour",
   "2E27-4F75-95CD", 10000, 300000},
  {"95FF-2EF5-5EA1", "Cloud Storage", "Standard Storage US Multi-region",
   "gibibyte month", "E5F0-6A5D-7BAD", 500, 60000},
  {"24E6-581D-38E5", "BigQuery", "Analysis", "tebibyte", "F17B-412E-CB64",
   1, 150000},
  {"9662-B51E-5089", "Cloud SQL", "DB custom CORE running in Americas",
   "hour", "D973-5D65-BAB2", 20000, 120000},
};
#define N_GCP_SVC (sizeof gcp_svcs / sizeof *gcp_svcs)

enum { T_USAGE, T_TAX, T_CREDIT, T_REFUND };
static const char *const aws_type_names[] = {"Usage", "Tax", "Credit",
                                             "Refund"};

struct arow {                     /* one AWS line item */
  char id[41];
  cf_date date;
  int hour, acct, svc, type, zombie;
  int64_t cost, usage_milli;
  char bp[11];
};
struct grow {                     /* one GCP export row */
  cf_date date;
  int hour, proj, svc, tax, zombie;
  int64_t cost, credit1, credit2, usage_milli;
  int64_t export_s;               /* export_time */
  char label[16];
};

/* Expected totals: (date, provider, account, service) -> micro sum. */
struct exp {
  cf_date date;
  int prov;                       /* 1 aws, 2 gcp */
  char acct[32], svc[64];
  int64_t sum;                    /* micro-units */
};
static struct exp *expv;
static size_t expn, expcap;
static void exp_add(cf_date d, int prov, const char *acct, const char *svc,
                    int64_t v) {
  for (size_t i = 0; i < expn; i++)
    if (expv[i].date == d && expv[i].prov == prov &&
        !strcmp(expv[i].acct, acct) && !strcmp(expv[i].svc, svc)) {
      expv[i].sum += v;
      return;
    }
  if (expn == expcap) {
    expcap = expcap ? expcap * 2 : 256;
    expv = realloc(expv, expcap * sizeof *expv);
    if (!expv) abort();
  }
  struct exp *e = &expv[expn++];
  e->date = d;
  e->prov = prov;
  snprintf(e->acct, sizeof e->acct, "%s", acct);
  snprintf(e->svc, sizeof e->svc, "%s", svc);
  e->sum = v;
}

/* The live AWS line items (key -> latest row), as silver should see them. */
static struct arow *live;
static size_t nlive, caplive;
static struct arow *live_find(const char *id, cf_date d, int hour) {
  for (size_t i = 0; i < nlive; i++)
    if (!strcmp(live[i].id, id) && live[i].date == d && live[i].hour == hour)
      return &live[i];
  return NULL;
}
static void live_put(const struct arow *r) {
  struct arow *x = live_find(r->id, r->date, r->hour);
  if (x) { *x = *r; return; }
  if (nlive == caplive) {
    caplive = caplive ? caplive * 2 : 1024;
    live = realloc(live, caplive * sizeof *live);
    if (!live) abort();
  }
  live[nlive++] = *r;
}

/* ---- output helpers ---- */
static int mkdirs(const char *p) { return cf_mkdir_p(p, 0755); }

static char *day_dir(const char *out, const char *prov, cf_date d) {
  int y, m, dd;
  cf_date_to_ymd(d, &y, &m, &dd);
  return cf_asprintf("%s/%s/year=%04d/month=%02d/day=%02d", out, prov, y, m,
                     dd);
}

static void write_out(const char *path, const struct cf_buf *b, int gz) {
  if (!gz) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->buf, 1, b->len, f) != b->len) {
      perror(path);
      exit(2);
    }
    fclose(f);
    return;
  }
  struct archive *a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_raw(a);
  /* No timestamp in the gzip header: same seed, same bytes. */
  archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
  if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
    fprintf(stderr, "%s: %s\n", path, archive_error_string(a));
    exit(2);
  }
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, b->buf, b->len);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

static void csvf(struct cf_buf *b, const char *s) {
  if (!s[strcspn(s, ",\"\n\r")]) { cf_buf_adds(b, s); return; }
  cf_buf_addch(b, '"');
  for (; *s; s++) {
    if (*s == '"') cf_buf_addch(b, '"');
    cf_buf_addch(b, *s);
  }
  cf_buf_addch(b, '"');
}

static void iso(cf_date d, int hour, int sep_t, char *out) {
  int y, m, dd;
  cf_date_to_ymd(d, &y, &m, &dd);
  sprintf(out,
          sep_t ? "%04d-%02d-%02dT%02d:00:00Z" : "%04d-%02d-%02d %02d:00:00",
          y, m, dd, hour);
}

/* ---- AWS ---- */
static const char *const aws_legacy_hdr =
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
static const char *const aws_cur2_hdr =
    "identity_line_item_id,identity_time_interval,bill_invoice_id,"
    "bill_billing_entity,bill_bill_type,bill_payer_account_id,"
    "bill_billing_period_start_date,bill_billing_period_end_date,"
    "line_item_usage_account_id,line_item_line_item_type,"
    "line_item_usage_start_date,line_item_usage_end_date,"
    "line_item_product_code,line_item_usage_type,line_item_operation,"
    "line_item_availability_zone,line_item_resource_id,"
    "line_item_usage_amount,line_item_currency_code,"
    "line_item_unblended_cost,line_item_line_item_description,"
    "product_product_name,product_region_code,product_sku,"
    "pricing_public_on_demand_cost,pricing_unit,resource_tags\n";

static void aws_row(struct cf_buf *b, const struct arow *r, int cur2) {
  const struct svc *s = &aws_svcs[r->svc];
  char t0[32], t1[32], i0[32], i1[32], cost[32], usage[32], bpe[32];
  iso(r->date, r->hour, 1, i0);
  iso(r->date, r->hour, 0, t0);
  if (r->type == T_TAX) {
    iso(r->date, 0, 1, i0);
    iso(r->date + 1, 0, 1, i1);
    iso(r->date, 0, 0, t0);
    iso(r->date + 1, 0, 0, t1);
  } else {
    iso(r->date + (r->hour == 23), (r->hour + 1) % 24, 1, i1);
    iso(r->date + (r->hour == 23), (r->hour + 1) % 24, 0, t1);
  }
  micro_plain(r->cost, cost);
  sprintf(usage, "%" PRId64 ".%03" PRId64, r->usage_milli / 1000,
          r->usage_milli % 1000);
  int y = 0, m = 1, d = 1;
  sscanf(r->bp, "%d-%d-%d", &y, &m, &d);
  sprintf(bpe, "%04d-%02d-01T00:00:00Z", m == 12 ? y + 1 : y,
          m == 12 ? 1 : m + 1);
  char res[64] = "";
  if (r->zombie) sprintf(res, "vol-0zombie%s", aws_accts[r->acct] + 8);
  else if (r->type == T_USAGE) sprintf(res, "i-%.10s", r->id);
  cf_buf_addf(b, "%s,%s/%s,,AWS,Anniversary,%s,%sT00:00:00Z,%s,%s,%s,%s,%s,"
              "%s,%s,%s,us-east-1a,%s,%s,USD,%s,",
              r->id, i0, i1, aws_payer, r->bp, bpe, aws_accts[r->acct],
              aws_type_names[r->type], cur2 ? i0 : t0, cur2 ? i1 : t1,
              s->code, r->zombie ? "EBS:VolumeUsage.gp3" : s->usage_type,
              r->type == T_TAX ? "" : "RunInstances", res,
              r->type == T_USAGE ? usage : "", cost);
  char desc[96];
  snprintf(desc, sizeof desc, "%s %s, generated", aws_type_names[r->type],
           s->name);
  csvf(b, desc);
  cf_buf_addf(b, ",%s,us-east-1,%s,%s,%s,", s->name, s->sku,
              r->type == T_USAGE ? cost : "",
              r->type == T_USAGE ? s->unit : "");
  const char *team = r->acct ? "data" : "web";
  if (cur2)
    cf_buf_addf(b, "\"{\"\"user_team\"\":\"\"%s\"\"}\"\n", team);
  else
    cf_buf_addf(b, "%s,%s\n", team, r->acct ? "dev" : "prod");
}

static void new_aws(struct arow *r, cf_date d, int acct, int svc, int type,
                    int64_t cost, const char *salt) {
  memset(r, 0, sizeof *r);
  r->date = d;
  r->hour = type == T_TAX ? 0 : (int)rnd_range(0, 23);
  r->acct = acct;
  r->svc = svc;
  r->type = type;
  r->cost = cost;
  r->usage_milli = type == T_USAGE ? rnd_range(1, 5000000) : 0;
  uint64_t a = rnd(), b2 = rnd();
  snprintf(r->id, sizeof r->id, "%016" PRIx64 "%016" PRIx64 "%.8s", a, b2,
           salt);
  int y, m, dd;
  cf_date_to_ymd(d, &y, &m, &dd);
  sprintf(r->bp, "%04d-%02d-01", y, m);
}

/* ---- GCP ---- */
static const char *const gcp_hdr =
    "billing_account_id,service.id,service.description,sku.id,"
    "sku.description,usage_start_time,usage_end_time,project.id,"
    "project.name,labels,location.location,location.region,export_time,"
    "cost,currency,currency_conversion_rate,usage.amount,usage.unit,"
    "credits,invoice.month,cost_type\n";

static void ts_gcp(int64_t s, char *out) {
  cf_date d = (cf_date)(s / 86400);
  int64_t r = s % 86400;
  int y, m, dd;
  cf_date_to_ymd(d, &y, &m, &dd);
  sprintf(out, "%04d-%02d-%02d %02d:%02d:%02d+00:00", y, m, dd,
          (int)(r / 3600), (int)(r / 60 % 60), (int)(r % 60));
}

static void gcp_credits(struct cf_buf *b, const struct grow *r, int json) {
  const char *q = json ? "\"" : "'";
  cf_buf_addch(b, '[');
  int n = 0;
  int64_t cr[2] = {r->credit1, r->credit2};
  const char *types[2] = {"PROMOTION", "SUSTAINED_USAGE_DISCOUNT"};
  for (int i = 0; i < 2; i++) {
    if (!cr[i]) continue;
    char a[40];
    micro_float(cr[i], a);
    cf_buf_addf(b, "%s{%sname%s: %s%s%s, %samount%s: %s, %stype%s: %s%s%s}",
                n++ ? ", " : "", q, q, q,
                i ? "Sustained usage discount" : "FreeTrial:Credit-123", q,
                q, q, a, q, q, q, types[i], q);
  }
  cf_buf_addch(b, ']');
}

static void gcp_row(struct cf_buf *b, const struct grow *r, int json) {
  const struct svc *s = &gcp_svcs[r->svc];
  char t0[40], t1[40], ex[40], cost[40], usage[40];
  int64_t st = (int64_t)r->date * 86400 + r->hour * 3600;
  ts_gcp(st, t0);
  ts_gcp(st + 3600, t1);
  ts_gcp(r->export_s, ex);
  micro_float(r->cost, cost);
  sprintf(usage, "%" PRId64 ".%03" PRId64, r->usage_milli / 1000,
          r->usage_milli % 1000);
  int y, m, d;
  cf_date_to_ymd(r->date, &y, &m, &d);
  const char *proj = gcp_projects[r->proj];
  const char *sku = r->tax ? "Tax" : r->zombie ? "Storage PD Capacity"
                                                : s->usage_type;
  if (json) {
    cf_buf_addf(b, "{\"billing_account_id\":\"%s\",\"service\":{\"id\":\"%s\","
                "\"description\":\"%s\"},\"sku\":{\"id\":\"%s\","
                "\"description\":\"%s\"},\"usage_start_time\":\"%s\","
                "\"usage_end_time\":\"%s\",\"project\":{\"id\":\"%s\","
                "\"name\":\"%s\"},\"labels\":[{\"key\":\"team\",\"value\":"
                "\"%s\"}],\"location\":{\"location\":\"us-central1\","
                "\"region\":\"us-central1\"},\"export_time\":\"%s\","
                "\"cost\":%s,\"currency\":\"USD\","
                "\"currency_conversion_rate\":1.0,\"usage\":{\"amount\":%s,"
                "\"unit\":\"%s\"},\"credits\":",
                gcp_account, s->code, s->name, s->sku, sku, t0, t1, proj,
                proj, r->label, ex, cost, r->tax ? "0" : usage, s->unit);
    gcp_credits(b, r, 1);
    cf_buf_addf(b, ",\"invoice\":{\"month\":\"%04d%02d\"},\"cost_type\":"
                "\"%s\"}\n", y, m, r->tax ? "tax" : "regular");
    return;
  }
  cf_buf_addf(b, "%s,%s,%s,%s,", gcp_account, s->code, s->name, s->sku);
  csvf(b, sku);
  cf_buf_addf(b, ",%s,%s,%s,%s,\"[{'key': 'team', 'value': '%s'}]\","
              "us-central1,us-central1,%s,%s,USD,1.0,%s,%s,",
              t0, t1, proj, proj, r->label, ex, cost, r->tax ? "0" : usage,
              s->unit);
  struct cf_buf c = CF_BUF_INIT(0);
  gcp_credits(&c, r, 0);
  csvf(b, c.buf);
  cf_buf_release(&c);
  cf_buf_addf(b, ",%04d%02d,%s\n", y, m, r->tax ? "tax" : "regular");
}

static void new_gcp(struct grow *r, cf_date d, int proj, int svc,
                    int64_t cost, int64_t export_s) {
  memset(r, 0, sizeof *r);
  r->date = d;
  r->hour = (int)rnd_range(0, 23);
  r->proj = proj;
  r->svc = svc;
  r->cost = cost;
  r->usage_milli = rnd_range(1, 9000000);
  r->export_s = export_s + rnd_range(0, 3000);
  snprintf(r->label, sizeof r->label, "%s", proj ? "data" : "web");
  if (chance(15)) r->credit1 = -rnd_range(1, cost > 10 ? cost / 10 : 1);
  if (chance(10)) r->credit2 = -rnd_range(1, cost > 20 ? cost / 20 : 1);
}

static void gcp_expect(const struct grow *r) {
  exp_add(r->date, 2, gcp_projects[r->proj], gcp_svcs[r->svc].name,
          r->cost + r->credit1 + r->credit2);
}

/* ---- generation ---- */
struct opts { cf_date from, to; long rows; uint64_t seed; const char *out; };

static void generate(const struct opts *o) {
  rng_state = o->seed;
  cf_date mid = o->from + (o->to - o->from) / 2;    /* snapshot day */
  int y0, m0, d0;
  cf_date_to_ymd(o->from, &y0, &m0, &d0);
  char snap_bp[11];
  sprintf(snap_bp, "%04d-%02d-01", y0, m0);
  long aws_n = o->rows / 2, gcp_n = o->rows - o->rows / 2;
  struct arow prev_aws[64];
  int nprev_aws = 0;
  struct cf_buf prev_gcp_rows = CF_BUF_INIT(0);   /* for resend */
  int prev_gcp_json = 0;
  for (cf_date day = o->from; day <= o->to; day++) {
    int idx = (int)(day - o->from), last = day == o->to;
    /* ---------- AWS ---------- */
    char *dir = day_dir(o->out, "aws", day);
    mkdirs(dir);
    int cur2 = idx % 4 == 3, gz = idx % 3 == 1;
    struct cf_buf b = CF_BUF_INIT(0);
    cf_buf_adds(&b, cur2 ? aws_cur2_hdr : aws_legacy_hdr);
    struct arow r;
    for (long i = 0; i < aws_n; i++) {
      /* Stable daily spend per (account, service), +-10% noise, so the
       * one spike on the last day is the clear anomaly. */
      int acct = (int)(i % 2), svc = (int)(i / 2 % N_AWS_SVC);
      int64_t base = aws_svcs[svc].hi * (acct + 2) / 3;
      int64_t cost = base * rnd_range(90, 110) / 100;
      if (last && svc == 0 && acct == 1) cost *= 6;      /* the spike */
      new_aws(&r, day, acct, svc, T_USAGE, cost, "u");
      aws_row(&b, &r, cur2);
      live_put(&r);
      if (chance(3)) aws_row(&b, &r, cur2);      /* exact duplicate */
      if (nprev_aws < 64 && chance(20)) prev_aws[nprev_aws++] = r;
    }
    /* One idle volume (account 2): cost every day, zero usage. */
    new_aws(&r, day, 1, 1, T_USAGE, rnd_range(20000, 30000), "z");
    r.zombie = 1;
    r.usage_milli = 0;
    r.hour = 0;
    aws_row(&b, &r, cur2);
    live_put(&r);
    for (int acct = 0; acct < 2; acct++) {
      new_aws(&r, day, acct, 0, T_TAX, rnd_range(40000, 44000), "t");
      aws_row(&b, &r, cur2);
      live_put(&r);
    }
    if (idx % 2 == 1) {
      new_aws(&r, day, 0, 0, T_CREDIT, -rnd_range(1000, 50000), "c");
      aws_row(&b, &r, cur2);
      live_put(&r);
    }
    if (idx % 3 == 2) {
      new_aws(&r, day, 1, 2, T_REFUND, -rnd_range(1000, 40000), "r");
      aws_row(&b, &r, cur2);
      live_put(&r);
    }
    /* Late rows for yesterday, and restated ones (same line item, new
     * cost): latest delivery wins. */
    if (idx > 0) {
      for (int k = 0; k < 3; k++) {
        new_aws(&r, day - 1, (int)rnd_range(0, 1), 3, T_USAGE,
                rnd_range(10, 5000), "l");
        aws_row(&b, &r, cur2);
        live_put(&r);
      }
      for (int k = 0; k < nprev_aws && k < 4; k++) {
        struct arow x = prev_aws[k];
        x.cost += rnd_range(-x.cost / 10, x.cost / 10);
        aws_row(&b, &x, cur2);
        live_put(&x);
      }
    }
    nprev_aws = 0;
    char *path = cf_asprintf("%s/cur-%s%s", dir,
                             cur2 ? "v2" : "legacy",
                             gz ? ".csv.gz" : ".csv");
    write_out(path, &b, gz);
    cf_free(path);
    cf_buf_release(&b);
    if (day == mid) {
      /* CUR manifest snapshot of the first month so far: restates some
       * items, drops some, adds a refund; replaces every older delivery
       * of that billing period. */
      char yyyymmdd[16], next[32], per[64];
      sprintf(yyyymmdd, "%.4s%.2s01", snap_bp, snap_bp + 5);
      int ny = y0 + (m0 == 12), nm = m0 == 12 ? 1 : m0 + 1;
      sprintf(next, "%04d%02d01", ny, nm);
      sprintf(per, "%s-%s", yyyymmdd, next);
      char asm_id[40];
      sprintf(asm_id, "%08" PRIx64 "-aaaa-bbbb-cccc-%012" PRIx64,
              (uint64_t)(rnd() & 0xffffffff),
              (uint64_t)(rnd() & 0xffffffffffffULL));
      char *adir = cf_asprintf("%s/cur/billing/%s/%s", dir, per, asm_id);
      mkdirs(adir);
      struct cf_buf s = CF_BUF_INIT(0);
      cf_buf_adds(&s, aws_legacy_hdr);
      size_t w = 0;
      for (size_t i = 0; i < nlive; i++) {
        if (strcmp(live[i].bp, snap_bp)) { live[w++] = live[i]; continue; }
        /* Dropped from the restated snapshot: some late line items. */
        size_t il = strlen(live[i].id);
        if (il && live[i].id[il - 1] == 'l' && chance(30)) continue;
        if (live[i].type == T_USAGE && chance(5))
          live[i].cost += rnd_range(1, 1000);      /* restated */
        aws_row(&s, &live[i], 0);
        live[w++] = live[i];
      }
      nlive = w;
      new_aws(&r, day, 0, 1, T_REFUND, -rnd_range(1000, 20000), "s");
      aws_row(&s, &r, 0);
      live_put(&r);
      char *gzp = cf_asprintf("%s/billing-1.csv.gz", adir);
      write_out(gzp, &s, 1);
      char *key = cf_asprintf("cur/billing/%s/%s/billing-1.csv.gz", per,
                              asm_id);
      struct cf_buf man = CF_BUF_INIT(0);
      cf_buf_addf(&man, "{\"assemblyId\":\"%s\",\"account\":\"%s\","
                  "\"compression\":\"GZIP\",\"contentType\":\"text/csv\","
                  "\"reportName\":\"billing\",\"billingPeriod\":{\"start\":"
                  "\"%sT000000.000Z\",\"end\":\"%sT000000.000Z\"},"
                  "\"bucket\":\"\",\"reportKeys\":[\"%s\"]}\n",
                  asm_id, aws_payer, yyyymmdd, next, key);
      char *mp = cf_asprintf("%s/billing-Manifest.json", adir);
      write_out(mp, &man, 0);
      cf_free(mp);
      mp = cf_asprintf("%s/cur/billing/%s/billing-Manifest.json", dir, per);
      write_out(mp, &man, 0);
      cf_free(mp);
      cf_free(key);
      cf_free(gzp);
      cf_free(adir);
      cf_buf_release(&man);
      cf_buf_release(&s);
    }
    cf_free(dir);
    /* ---------- GCP ---------- */
    dir = day_dir(o->out, "gcp", day);
    mkdirs(dir);
    int json = idx % 2 == 1;
    int64_t export_base = ((int64_t)day + 1) * 86400 + 3600;
    b = (struct cf_buf)CF_BUF_INIT(0);
    if (!json) cf_buf_adds(&b, gcp_hdr);
    struct cf_buf resend = CF_BUF_INIT(0);
    struct grow g;
    for (long i = 0; i < gcp_n; i++) {
      int proj = (int)(i % 2), svc = (int)(i / 2 % N_GCP_SVC);
      int64_t base = gcp_svcs[svc].hi * (proj + 2) / 3;
      int64_t cost = base * rnd_range(90, 110) / 100;
      new_gcp(&g, day, proj, svc, cost, export_base);
      gcp_row(&b, &g, json);
      gcp_expect(&g);
      if (chance(3)) gcp_row(&b, &g, json);      /* exact duplicate */
      if (chance(10)) gcp_row(&resend, &g, json);
    }
    /* Idle disk: cost, zero usage, all day. */
    new_gcp(&g, day, 1, 0, rnd_range(15000, 25000), export_base);
    g.zombie = 1;
    g.usage_milli = 0;
    g.credit1 = g.credit2 = 0;
    g.hour = 0;
    gcp_row(&b, &g, json);
    gcp_expect(&g);
    new_gcp(&g, day, 0, 1, rnd_range(20000, 22000), export_base);
    g.tax = 1;
    g.credit1 = g.credit2 = 0;
    gcp_row(&b, &g, json);
    gcp_expect(&g);
    if (idx > 0) {
      /* Late usage of yesterday, and a correction pair that negates a
       * charge and re-issues it at another price. */
      new_gcp(&g, day - 1, 0, 2, rnd_range(100, 9000), export_base);
      gcp_row(&b, &g, json);
      gcp_expect(&g);
      new_gcp(&g, day - 1, 1, 3, rnd_range(5000, 9000), export_base);
      g.credit1 = g.credit2 = 0;
      struct grow neg = g;
      neg.cost = -g.cost;
      neg.export_s += 60;
      gcp_row(&b, &neg, json);
      gcp_expect(&neg);
      g.cost = g.cost * 9 / 10;
      g.export_s += 120;
      gcp_row(&b, &g, json);
      gcp_expect(&g);
    }
    path = cf_asprintf("%s/billing-export-%d.%s", dir, idx,
                       json ? "jsonl" : "csv");
    write_out(path, &b, 0);
    cf_free(path);
    /* Yesterday's resent rows, byte for byte, in a file of their own. */
    if (prev_gcp_rows.len) {
      struct cf_buf rb = CF_BUF_INIT(0);
      if (!prev_gcp_json) cf_buf_adds(&rb, gcp_hdr);
      cf_buf_add(&rb, prev_gcp_rows.buf, prev_gcp_rows.len);
      path = cf_asprintf("%s/billing-export-%d-resend.%s", dir, idx - 1,
                         prev_gcp_json ? "jsonl" : "csv");
      write_out(path, &rb, 0);
      cf_free(path);
      cf_buf_release(&rb);
    }
    cf_buf_release(&prev_gcp_rows);
    prev_gcp_rows = resend;
    prev_gcp_json = json;
    cf_buf_release(&b);
    cf_free(dir);
  }
  cf_buf_release(&prev_gcp_rows);
  for (size_t i = 0; i < nlive; i++)
    exp_add(live[i].date, 1, aws_accts[live[i].acct],
            aws_svcs[live[i].svc].name, live[i].cost);
}

static int cmp_exp(const void *a, const void *b) {
  const struct exp *x = a, *y = b;
  if (x->date != y->date) return x->date < y->date ? -1 : 1;
  if (x->prov != y->prov) return x->prov - y->prov;
  int c = strcmp(x->acct, y->acct);
  return c ? c : strcmp(x->svc, y->svc);
}

static void write_expected(const char *out) {
  qsort(expv, expn, sizeof *expv, cmp_exp);
  struct cf_buf b = CF_BUF_INIT(0);
  cf_buf_adds(&b, "usage_date,provider,account,service,total_cost\n");
  for (size_t i = 0; i < expn; i++) {
    char d[11], m[40];
    cf_date_format(expv[i].date, d);
    micro_plain(expv[i].sum, m);
    cf_buf_addf(&b, "%s,%s,%s,", d, expv[i].prov == 1 ? "aws" : "gcp",
                expv[i].acct);
    csvf(&b, expv[i].svc);
    cf_buf_addf(&b, ",%s\n", m);
  }
  char *p = cf_asprintf("%s/expected_totals.csv", out);
  write_out(p, &b, 0);
  cf_free(p);
  cf_buf_release(&b);
}

/* ---- verify: sum silver per key with cf_dec, compare exactly ---- */
struct sum { char key[160]; cf_dec v; int seen; };

static int verify(const char *home, const char *expected) {
  struct sum *s = NULL;
  size_t n = 0, cap = 0;
  struct cf_csv *c;
  char *err = NULL;
  const char **f;
  const size_t *l;
  size_t nf;
  int64_t line;
  if (cf_csv_open(expected, &c, &err) < 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  while (cf_csv_next(c, &f, &l, &nf, &line, &err) == 1) {
    if (line == 1 || nf != 5) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      s = realloc(s, cap * sizeof *s);
    }
    snprintf(s[n].key, sizeof s[n].key, "%s|%s|%s|%s", f[0], f[1], f[2],
             f[3]);
    if (cf_dec_parse(f[4], l[4], &s[n].v) < 0) return 2;
    s[n].v = cf_dec_neg(s[n].v);                 /* subtract silver later */
    s[n].seen = 0;
    n++;
  }
  cf_csv_close(c);
  int bad = 0;
  long rows = 0;
  for (size_t i = 0; i < n; i++) {
    char date[11];
    memcpy(date, s[i].key, 10);
    date[10] = '\0';
    if (s[i].seen) continue;
    /* Read each silver partition once (mark all keys of that date). */
    for (size_t j = i; j < n; j++)
      if (!strncmp(s[j].key, date, 10)) s[j].seen = 1;
    char *p = cf_asprintf("%s/lake/silver/cost/usage_date=%s/current/data.csv",
                          home, date);
    if (cf_csv_open(p, &c, &err) < 0) {
      printf("MISSING partition %s\n", date);
      cf_free(err);
      err = NULL;
      cf_free(p);
      bad++;
      continue;
    }
    cf_free(p);
    while (cf_csv_next(c, &f, &l, &nf, &line, &err) == 1) {
      if (line == 1 || nf < 11) continue;
      rows++;
      char key[160];
      const char *prov = !strcmp(f[2], "AWS") ? "aws" : "gcp";
      snprintf(key, sizeof key, "%s|%s|%s|%s", date, prov, f[1], f[3]);
      cf_dec v;
      if (cf_dec_parse(f[10], l[10], &v) < 0) { bad++; continue; }
      size_t k = 0;
      while (k < n && strcmp(s[k].key, key)) k++;
      if (k == n) {
        if (n == cap) {
          cap *= 2;
          s = realloc(s, cap * sizeof *s);
        }
        snprintf(s[n].key, sizeof s[n].key, "%s", key);
        s[n].v = CF_DEC_ZERO;
        s[n].seen = 1;
        k = n++;
      }
      s[k].v = cf_dec_add(s[k].v, v);
    }
    cf_csv_close(c);
  }
  for (size_t i = 0; i < n; i++)
    if (cf_dec_sign(s[i].v)) {
      char d[CF_DEC_MAXSTR];
      cf_dec_format(s[i].v, d);
      printf("MISMATCH %s: silver - expected = %s\n", s[i].key, d);
      bad++;
    }
  printf("verified %zu groups over %ld silver rows: %d mismatches\n", n, rows,
         bad);
  free(s);
  return bad ? 1 : 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: cf-gen --from YYYY-MM-DD --to YYYY-MM-DD [--rows-per-day N]"
          " [--seed S] --out DIR\n"
          "       cf-gen --verify --home COSTFLOW_HOME --expected FILE\n");
  exit(2);
}

int main(int argc, char **argv) {
  struct opts o = {.rows = 200, .seed = 42};
  const char *home = NULL, *expected = NULL;
  int do_verify = 0, have_from = 0, have_to = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--verify")) { do_verify = 1; continue; }
    if (!v) usage();
    if (!strcmp(a, "--from")) have_from = cf_date_parse(v, &o.from) == 0;
    else if (!strcmp(a, "--to")) have_to = cf_date_parse(v, &o.to) == 0;
    else if (!strcmp(a, "--rows-per-day")) o.rows = atol(v);
    else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--out")) o.out = v;
    else if (!strcmp(a, "--home")) home = v;
    else if (!strcmp(a, "--expected")) expected = v;
    else usage();
    i++;
  }
  if (do_verify) {
    if (!home || !expected) usage();
    return verify(home, expected);
  }
  if (!have_from || !have_to || !o.out || o.to < o.from || o.rows < 2)
    usage();
  if (mkdirs(o.out) < 0) {
    perror(o.out);
    return 2;
  }
  generate(&o);
  write_expected(o.out);
  printf("wrote %s: %ld days, %zu expected groups\n", o.out,
         (long)(o.to - o.from + 1), expn);
  return 0;
}
