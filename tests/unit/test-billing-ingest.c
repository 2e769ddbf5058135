/* Unit tests for the ingest half of cfbilling: text helpers, AWS and GCP
 * readers and mapping, bronze, silver dedupe/restatement, and the atomic,
 * deterministic partition writer. */
#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cf_test.h"
#include "gzip_fixture.h"
#include "cfb.h"
#include "cfb_lake.h"
#include "cfb_partition.h"
#include "cfb_silver_int.h"

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static char *mktmp(void) {
  char *d = strdup("/tmp/cf-test-billing-XXXXXX");
  if (!mkdtemp(d)) abort();
  return d;
}

static void put(const char *path, const char *text) {
  char *dir = strdup(path);
  *strrchr(dir, '/') = '\0';
  cf_mkdir_p(dir, 0755);
  free(dir);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

static char *slurp(const char *path) {
  struct cf_buf b = CF_BUF_INIT(0);
  if (cf_buf_read_file(&b, path) < 0) return strdup("(missing)");
  char *s = strdup(b.buf);
  cf_buf_release(&b);
  return s;
}

/* Collects reader output as "col=value;..." lines for selected columns. */
struct sink { struct cf_buf out; int rejects; struct cf_buf rej; };

static int on_row(void *ud, const struct cfb_cost *c) {
  struct sink *s = ud;
  static const int cols[] = {CFB_SubAccountId, CFB_ServiceName,
                             CFB_ServiceCategory, CFB_RegionId,
                             CFB_ChargeCategory, CFB_ChargePeriodStart,
                             CFB_BilledCost, CFB_EffectiveCost,
                             CFB_ConsumedQuantity, CFB_Tags, CFB_x_IsCredit};
  for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
    cf_buf_addf(&s->out, "%s%s", i ? "|" : "", c->col[cols[i]]);
  cf_buf_addch(&s->out, '\n');
  return 0;
}

static int on_reject(void *ud, const char *path, int64_t line,
                     const char *reason) {
  struct sink *s = ud;
  s->rejects++;
  cf_buf_addf(&s->rej, "%lld:%s\n", (long long)line, reason);
  return 0;
}

CF_TEST(header_matches_columns) {
  struct cf_buf b = CF_BUF_INIT(0);
  for (int i = 0; i < CFB_NCOLS; i++)
    cf_buf_addf(&b, "%s%s", i ? "," : "", cfb_col_names[i]);
  cf_buf_addch(&b, '\n');
  CF_ASSERT_STR(b.buf, cfb_header_line);
  cf_buf_release(&b);
}

/* The reference row: cfb_csv_field per field, comma-separated. */
static void row_by_fields(struct cf_buf *b, const char *const col[CFB_NCOLS]) {
  for (int i = 0; i < CFB_NCOLS; i++) {
    if (i) CF_ASSERT_EQ(0, cf_buf_addch(b, ','));
    CF_ASSERT_EQ(0, cfb_csv_field(b, col[i]));
  }
  CF_ASSERT_EQ(0, cf_buf_addch(b, '\n'));
}

CF_TEST(row_csv_one_pass_matches_field_by_field) {
  /* Random fields over the bytes that decide quoting, of lengths around
   * the 8-byte scan steps, through a rowbuf: the one-pass writer must
   * give what cfb_csv_field gives field by field. */
  static const char *const atoms[] = {"a", "bcdefgh", ",", "\"", "\"\"",
                                      "\n", "\r\n", "\r", "\xc3\xa9", " ",
                                      "{\"k\":\"v\"}", "0123456789"};
  unsigned seed = 777;
  struct cfb_rowbuf rb;
  struct cf_buf one = CF_BUF_INIT(0), gen = CF_BUF_INIT(0);
  struct cf_buf ref = CF_BUF_INIT(0), v = CF_BUF_INIT(0);
  int fits = 0, over = 0;
  cfb_rowbuf_init(&rb);
  for (int round = 0; round < 3000; round++) {
    cfb_rowbuf_reset(&rb);
    for (int c = 0; c < CFB_NCOLS; c++) {
      cf_buf_reset(&v);
      seed = seed * 1103515245u + 12345u;
      int natoms = (int)((seed >> 16) % 9);
      for (int i = 0; i < natoms; i++) {
        seed = seed * 1103515245u + 12345u;
        cf_buf_adds(&v, atoms[(seed >> 16) % (sizeof atoms / sizeof *atoms)]);
      }
      CF_ASSERT_EQ(0, c % 2 ? cfb_rowbuf_setn(&rb, c, v.buf, v.len)
                            : cfb_rowbuf_set(&rb, c, v.buf));
    }
    struct cfb_cost row;
    cfb_rowbuf_finish(&rb, &row);
    for (int c = 0; c < CFB_NCOLS; c++)
      CF_ASSERT_EQ(strlen(row.col[c]), row.len[c]);
    row_by_fields(&gen, row.col);
    CF_ASSERT_EQ(0, cfb_row_csv_len(&one, row.col, row.len));
    CF_ASSERT_EQ(gen.len, one.len);
    CF_ASSERT(memcmp(gen.buf, one.buf, gen.len) == 0);
    /* A capped buffer, already holding a few bytes, sized exactly for
     * the row, one byte short, or at 400: the row goes in whole, the same
     * bytes, or CF_ETOOBIG leaves the buffer as it was. */
    cf_buf_reset(&ref);
    row_by_fields(&ref, row.col);
    size_t caps[3] = {5 + ref.len, 5 + ref.len - 1, 400};
    for (int k = 0; k < 3; k++) {
      struct cf_buf capped = CF_BUF_INIT(caps[k]);
      CF_ASSERT_EQ(0, cf_buf_add(&capped, "pre:\n", 5));
      int r = cfb_row_csv_len(&capped, row.col, row.len);
      if (5 + ref.len <= caps[k]) {
        CF_ASSERT_EQ(0, r);
        CF_ASSERT_EQ(5 + ref.len, capped.len);
        CF_ASSERT(memcmp(capped.buf + 5, ref.buf, ref.len) == 0);
        fits += k == 2;
      } else {
        CF_ASSERT_EQ(CF_ETOOBIG, r);
        CF_ASSERT_STR(capped.buf, "pre:\n");
        over += k == 2;
      }
      cf_buf_release(&capped);
    }
    if (round % 100 == 0) {    /* rows appended to a non-empty buffer */
      cf_buf_reset(&gen);
      cf_buf_reset(&one);
    }
  }
  CF_ASSERT(fits > 0 && over > 0);    /* both sides of the 400 cap seen */
  CF_ASSERT_STR(one.buf, gen.buf);
  cf_buf_release(&one);
  cf_buf_release(&gen);
  cf_buf_release(&ref);
  cf_buf_release(&v);
  cfb_rowbuf_release(&rb);
}

static const char *rounded(const char *s) {
  static char out[CF_DEC_MAXSTR];
  cf_dec d;
  if (cfb_dec_parse_round(s, &d) < 0) return "ERR";
  cf_dec_format(d, out);
  return out;
}

CF_TEST(decimal_rounding_for_long_exports) {
  CF_ASSERT_STR(rounded("0.0010684211984159026"), "0.001068421198415903");
  CF_ASSERT_STR(rounded("2.3198314011096954e-05"), "0.000023198314011097");
  CF_ASSERT_STR(rounded("-0.0000000000000000004"), "0");
  CF_ASSERT_STR(rounded("-0.0000000000000000005"), "-0.000000000000000001");
  CF_ASSERT_STR(rounded("0.9999999999999999999"), "1");
  CF_ASSERT_STR(rounded("5e-06"), "0.000005");
  CF_ASSERT_STR(rounded("12"), "12");
  CF_ASSERT_STR(rounded("abc"), "ERR");
  CF_ASSERT_STR(rounded("1e"), "ERR");
  CF_ASSERT_STR(rounded(""), "ERR");
}

CF_TEST(timestamps) {
  int64_t t;
  CF_ASSERT_EQ(0, cfb_time_parse("2023-11-01T00:00:00.000Z", &t));
  CF_ASSERT_EQ(1698796800, t);
  CF_ASSERT_EQ(0, cfb_time_parse("2023-11-01 00:00:00", &t));
  CF_ASSERT_EQ(1698796800, t);
  CF_ASSERT_EQ(0, cfb_time_parse("2020-11-09 23:00:00+00:00", &t));
  CF_ASSERT_EQ(0, cfb_time_parse("2023-11-01 02:00:00+02:00", &t));
  CF_ASSERT_EQ(1698796800, t);
  CF_ASSERT_EQ(0, cfb_time_parse("2023-11-01 00:00:00 UTC", &t));
  CF_ASSERT_EQ(1698796800, t);
  CF_ASSERT_EQ(0, cfb_time_parse("2023-11-01", &t));
  CF_ASSERT(cfb_time_parse("2025-02-30T00:00:00Z", &t) < 0);
  CF_ASSERT(cfb_time_parse("2025-01-01T25:00:00Z", &t) < 0);
  CF_ASSERT(cfb_time_parse("yesterday", &t) < 0);
  CF_ASSERT(cfb_time_parse("", &t) < 0);
}

CF_TEST(time_text_kept_only_when_canonical) {
  /* cfb_rowbuf_time_text keeps the source text when it is what
   * cfb_rowbuf_time prints: every form cfb_time_parse takes, with random
   * fields, must come out as the formatted text. */
  static const char *const tails[] = {"Z", ".000Z", " UTC", "+00:00",
                                      "-05:30", "+0200", "", " Z", "Z "};
  struct cfb_rowbuf rb;
  cfb_rowbuf_init(&rb);
  unsigned seed = 99;
  for (int i = 0; i < 100000; i++) {
    char t[64];
    seed = seed * 1103515245u + 12345u;
    unsigned r = seed >> 8;
    int y = (int)(r % 3 ? 2025 : (r / 3) % 10000);
    seed = seed * 1103515245u + 12345u;
    r = seed >> 8;
    int n = snprintf(t, sizeof t, "%04d-%02u-%02u%c%02u:%02u", y,
                     1 + r % 12, 1 + (r / 12) % 31, r % 7 ? 'T' : ' ',
                     (r / 400) % 25, (r / 10000) % 60);
    seed = seed * 1103515245u + 12345u;
    r = seed >> 8;
    if (r % 5) n += snprintf(t + n, sizeof t - (size_t)n, ":%02u",
                             r % 11 ? (r / 5) % 60 : 60);
    if (r % 23 == 0) n = 10;                     /* date only */
    snprintf(t + n, sizeof t - (size_t)n, "%s",
             tails[(r / 300) % (sizeof tails / sizeof *tails)]);
    int64_t v;
    if (cfb_time_parse(t, &v) < 0) continue;
    cfb_rowbuf_reset(&rb);
    CF_ASSERT_EQ(0, cfb_rowbuf_time(&rb, CFB_ChargePeriodStart, v));
    CF_ASSERT_EQ(0, cfb_rowbuf_time_text(&rb, CFB_ChargePeriodEnd, t,
                                         strlen(t), v));
    struct cfb_cost c;
    cfb_rowbuf_finish(&rb, &c);
    if (strcmp(c.col[CFB_ChargePeriodStart], c.col[CFB_ChargePeriodEnd]))
      CF_FAIL_("%s: %s vs %s", t, c.col[CFB_ChargePeriodStart],
               c.col[CFB_ChargePeriodEnd]);
  }
  cfb_rowbuf_release(&rb);
}

CF_TEST(python_repr_to_json) {
  char *j = cfb_json_quote_numbers(
      "[{'name': 'It\\'s', 'amount': -5e-06, 'full_name': None, "
      "'ok': True}]");
  CF_ASSERT_STR(j, "[{\"name\": \"It's\", \"amount\": \"-5e-06\", "
                   "\"full_name\": null, \"ok\": true}]");
  cf_free(j);
  j = cfb_json_quote_numbers("{\"cost\":1.25,\"s\":\"a\\\"b\"}");
  CF_ASSERT_STR(j, "{\"cost\":\"1.25\",\"s\":\"a\\\"b\"}");
  cf_free(j);
}

static const char *aws_legacy =
    "identity/LineItemId,identity/TimeInterval,bill/InvoiceId,"
    "bill/PayerAccountId,bill/BillingPeriodStartDate,lineItem/UsageAccountId,"
    "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,"
    "lineItem/ProductCode,lineItem/AvailabilityZone,lineItem/UsageAmount,"
    "lineItem/UnblendedCost,lineItem/CurrencyCode,product/ProductName,"
    "savingsPlan/SavingsPlanEffectiveCost,reservation/UnusedRecurringFee,"
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod,"
    "resourceTags/user:team,resourceTags/aws:createdBy\n"
    "a,i1,,P,2023-11-01T00:00:00Z,S,Usage,2023-11-02T00:00:00Z,"
    "2023-11-03T00:00:00Z,AmazonEC2,us-east-1a,2.5,1.10,USD,"
    "Amazon Elastic Compute Cloud,,,,web,alice\n"
    "b,i1,,P,2023-11-01T00:00:00Z,S,SavingsPlanCoveredUsage,"
    "2023-11-02 00:00:00,2023-11-02 01:00:00,AmazonEC2,,1,10,USD,,0.1,,,,\n"
    "c,i1,,P,2023-11-01T00:00:00Z,S,RIFee,2023-11-01T00:00:00.000Z,"
    "2023-12-01T00:00:00.000Z,AmazonRDS,,1,30,USD,RDS,,2,3,,\n"
    "d,i1,,P,2023-11-01T00:00:00Z,S,Credit,2023-11-05T00:00:00Z,,"
    "AmazonS3,,,-4,USD,S3,,,,,\n"
    "e,i1,,P,2023-11-01T00:00:00Z,S,Refund,2023-11-05T00:00:00Z,,"
    "awskms,,,-1.5,USD,,,,,,\n"
    "f,i1,,P,2023-11-01T00:00:00Z,S,Tax,2023-11-01T00:00:00Z,,"
    "AWSCloudTrail,,1,0.7,USD,AWS CloudTrail,,,,,\n";

CF_TEST(aws_legacy_mapping) {
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/cur.csv", dir);
  put(path, aws_legacy);
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row, on_reject, &s));
  CF_ASSERT_EQ(0, s.rejects);
  CF_ASSERT_STR(s.out.buf,
    "S|Amazon Elastic Compute Cloud|Compute|us-east-1|Usage|"
    "2023-11-02T00:00:00Z|1.1|1.1|2.5|{\"aws:createdBy\":\"alice\","
    "\"team\":\"web\"}|false\n"
    "S|AmazonEC2|Compute||Usage|2023-11-02T00:00:00Z|10|0.1|1|{}|false\n"
    "S|RDS|Databases||Purchase|2023-11-01T00:00:00Z|30|5||{}|false\n"
    "S|S3|Storage||Credit|2023-11-05T00:00:00Z|-4|-4||{}|true\n"
    "S|awskms|Security||Credit|2023-11-05T00:00:00Z|-1.5|-1.5||{}|true\n"
    "S|AWS CloudTrail|Management and Governance||Tax|"
    "2023-11-01T00:00:00Z|0.7|0.7||{}|false\n");
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

/* Billed|Effective|List per row. */
static int on_row_costs(void *ud, const struct cfb_cost *c) {
  struct sink *s = ud;
  cf_buf_addf(&s->out, "%s|%s|%s|%s|%s\n", c->col[CFB_ChargeCategory],
              c->col[CFB_BilledCost], c->col[CFB_EffectiveCost],
              c->col[CFB_ListCost], c->col[CFB_x_IsCredit]);
  return 0;
}

CF_TEST(aws_credit_rows_effective_and_list_equal_billed) {
  /* FOCUS 1.2 EffectiveCost-C-010 / ListCost-C-008: a charge unrelated to
   * others (Credit) has EffectiveCost = ListCost = BilledCost. Real CURs
   * carry pricing/publicOnDemandCost 0.0 on non-usage lines (the
   * focus_converters sample's Tax rows) and, for accounts with discounts,
   * a NetUnblendedCost that BilledCost takes. Before the fix a refund had
   * ListCost 0 and EffectiveCost = UnblendedCost (-10, not -9.5), so the
   * credit vanished from list_cost and effective_cost differed from
   * billed_cost. Usage, SP and tax rows keep their own rules. */
  static const char text[] =
      "identity/LineItemId,identity/TimeInterval,bill/PayerAccountId,"
      "lineItem/UsageAccountId,lineItem/LineItemType,"
      "lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UnblendedCost,"
      "lineItem/NetUnblendedCost,pricing/publicOnDemandCost,"
      "savingsPlan/SavingsPlanEffectiveCost\n"
      "a,T,P,S,Credit,2024-01-31T00:00:00Z,AmazonEC2,-4,-4,0.0,\n"
      "b,T,P,S,Refund,2024-01-31T00:00:00Z,AmazonEC2,-10,-9.5,0.0,\n"
      "c,T,P,S,Usage,2024-01-31T00:00:00Z,AmazonEC2,2,1.9,2,\n"
      "d,T,P,S,SavingsPlanCoveredUsage,2024-01-31T00:00:00Z,AmazonEC2,"
      "3,2.85,3,1.2\n"
      "e,T,P,S,SavingsPlanNegation,2024-01-31T00:00:00Z,AmazonEC2,"
      "-3,-2.85,0.0,\n"
      "f,T,P,S,Tax,2024-01-31T00:00:00Z,AmazonEC2,0.07,0.07,0.0,\n";
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/cur.csv", dir);
  put(path, text);
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row_costs, on_reject, &s));
  CF_ASSERT_EQ(0, s.rejects);
  CF_ASSERT_STR(s.out.buf,
    "Credit|-4|-4|-4|true\n"
    "Credit|-9.5|-9.5|-9.5|true\n"
    "Usage|1.9|2|2|false\n"
    "Usage|2.85|1.2|3|false\n"
    "Usage|-2.85|0|0|false\n"
    "Tax|0.07|0.07|0|false\n");
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

/* Silver rows as the read phase writes them, checking len[] on the way. */
static int on_row_csv(void *ud, const struct cfb_cost *c) {
  for (int i = 0; i < CFB_NCOLS; i++)
    if (strlen(c->col[i]) != c->len[i]) return -1;
  return cfb_row_csv_len(ud, c->col, c->len);
}

static int reject_none(void *ud, const char *path, int64_t line,
                       const char *reason) {
  (void)ud, (void)path, (void)line, (void)reason;
  return -1;
}

CF_TEST(aws_nul_bytes_cut_values_as_c_strings) {
  /* A NUL byte inside a field ends that value (fields are C strings): the
   * lengths the CSV reader hands over must not carry what follows it. */
  static const char text[] =
      "identity/LineItemId,identity/TimeInterval,lineItem/UsageAccountId,"
      "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/ProductCode,"
      "lineItem/ResourceId,lineItem/UnblendedCost,product/ProductName\n"
      "id1\0tail,T,S,Usage,2024-01-01T00:00:00Z,AmazonS3,i-1\0x,1,"
      "\"Simple\0Storage\"\n"
      "id2,T,S\0,Usage,2024-01-01T00:00:00Z,AmazonS3,i-2,2,S3\n";
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/nul.csv", dir);
  FILE *fp = fopen(path, "wb");
  CF_ASSERT(fp != NULL);
  fwrite(text, 1, sizeof text - 1, fp);
  fclose(fp);
  struct cf_buf out = CF_BUF_INIT(0);
  struct cfb_src src = {path, "h", "t", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row_csv, reject_none, &out));
  CF_ASSERT_STR(out.buf,
    ",S,AWS,Simple,Storage,,i-1,Usage,2024-01-01T00:00:00Z,"
    "2024-01-01T01:00:00Z,1,1,1,USD,,,,{},false,id1|T,h,2,t\n"
    ",S,AWS,S3,Storage,,i-2,Usage,2024-01-01T00:00:00Z,"
    "2024-01-01T01:00:00Z,2,2,2,USD,,,,{},false,id2|T,h,3,t\n");
  cf_buf_release(&out);
  free(dir);
}

CF_TEST(aws_column_tags_match_jansson_output) {
  /* Two columns share the key "team" (the later non-empty one wins), keys
   * sort bytewise ("Z" < "a"), escapes follow json_dumps: \b \t \n, other
   * controls as \u00XX uppercase, '/' and UTF-8 as is. */
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/tags.csv", dir);
  put(path,
      "lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,"
      "lineItem/ProductCode,lineItem/UnblendedCost,resourceTags/user:team,"
      "resourceTags/user:a/b,resourceTags/team,resourceTags/user:Z\n"
      "S,Usage,2024-01-01T00:00:00Z,AmazonS3,1,web,\"q\"\"\\\x01\t\",data,\xc3\xa9\n"
      "S,Usage,2024-01-01T00:00:00Z,AmazonS3,1,web,,,\n"
      "S,Usage,2024-01-01T00:00:00Z,AmazonS3,1,,,,\n");
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row, on_reject, &s));
  CF_ASSERT_EQ(0, s.rejects);
  const char *want =
      "{\"Z\":\"\xc3\xa9\",\"a/b\":\"q\\\"\\\\\\u0001\\t\",\"team\":\"data\"}\n"
      "{\"team\":\"web\"}\n"
      "{}\n";
  /* on_row prints "...|TAGS|false" per row. */
  struct cf_buf tags = CF_BUF_INIT(0);
  for (const char *l = s.out.buf; *l;) {
    const char *e = strchr(l, '\n');
    const char *t = strstr(l, "|{");
    cf_buf_add(&tags, t + 1, (size_t)(e - strlen("|false") - (t + 1)));
    cf_buf_addch(&tags, '\n');
    l = e + 1;
  }
  CF_ASSERT_STR(tags.buf, want);
  cf_buf_release(&tags);
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

struct tag_check { struct cf_buf got; };

static int on_row_tags(void *ud, const struct cfb_cost *c) {
  struct tag_check *k = ud;
  cf_buf_add(&k->got, c->col[CFB_Tags], c->len[CFB_Tags]);
  return cf_buf_addch(&k->got, '\n');
}

CF_TEST(aws_column_tags_escape_every_byte_as_jansson) {
  /* Tags written straight from the columns must be what json_dumps
   * prints, for every byte a CSV field can carry (0x01..0x7f) and UTF-8. */
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/bytes.csv", dir);
  struct cf_buf b = CF_BUF_INIT(0), want = CF_BUF_INIT(0);
  cf_buf_adds(&b, "lineItem/UsageAccountId,lineItem/LineItemType,"
                  "lineItem/UsageStartDate,lineItem/ProductCode,"
                  "lineItem/UnblendedCost,resourceTags/user:k\"\\\x02\n");
  for (int c = 1; c < 129; c++) {
    char v[8];
    int n = c < 128 ? snprintf(v, sizeof v, "a%cb", c)
                    : snprintf(v, sizeof v, "\xc3\xa9/\xe2\x82\xac");
    cf_buf_adds(&b, "S,Usage,2024-01-01T00:00:00Z,AmazonS3,1,\"");
    for (int i = 0; i < n; i++) {
      if (v[i] == '"') cf_buf_addch(&b, '"');
      cf_buf_addch(&b, v[i]);
    }
    cf_buf_adds(&b, "\"\n");
    json_t *o = json_object();
    json_object_set_new(o, "k\"\\\x02", json_string(v));
    char *d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    cf_buf_adds(&want, d);
    cf_buf_addch(&want, '\n');
    free(d);
    json_decref(o);
  }
  put(path, b.buf);
  struct tag_check k = {CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row_tags, reject_none, &k));
  CF_ASSERT_STR(k.got.buf, want.buf);
  cf_buf_release(&k.got);
  cf_buf_release(&want);
  cf_buf_release(&b);
  free(dir);
}

CF_TEST(aws_cur2_snake_names) {
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/cur2.csv", dir);
  put(path,
      "identity_line_item_id,identity_time_interval,bill_payer_account_id,"
      "line_item_usage_account_id,line_item_line_item_type,"
      "line_item_usage_start_date,line_item_product_code,"
      "line_item_unblended_cost,line_item_net_unblended_cost,"
      "product_region_code,resource_tags\n"
      "x,y,P,S,Usage,2025-01-01T03:00:00Z,AmazonS3,2.00,1.80,eu-west-1,"
      "\"{\"\"user_team\"\":\"\"data\"\",\"\"user_env\"\":\"\"\"\"}\"\n");
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row, on_reject, &s));
  /* Net unblended is the billed cost; effective falls back to unblended. */
  CF_ASSERT_STR(s.out.buf, "S|AmazonS3|Storage|eu-west-1|Usage|"
                "2025-01-01T03:00:00Z|1.8|2||{\"user_team\":\"data\"}|false\n");
  CF_ASSERT_STR(cfb_file_kind(CFB_AWS, path), "aws_cur2");
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

/* CUR 2.0 has no product_product_name column: the service name legacy CUR
 * gives (product/ProductName) is the "product_name" key of the product
 * map, so both formats name the same service alike (a migration must not
 * split one service's series in two). */
CF_TEST(aws_cur2_service_name_from_product_map) {
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/cur2.csv", dir);
  put(path,
      "identity_line_item_id,identity_time_interval,"
      "line_item_line_item_type,line_item_usage_start_date,"
      "line_item_product_code,line_item_unblended_cost,product\n"
      "a,y,Usage,2025-01-01T03:00:00Z,AmazonEC2,1,\"{\"\"product_name\"\":"
      "\"\"Amazon Elastic Compute Cloud\"\",\"\"region\"\":\"\"us-east-1\"\"}\"\n"
      "b,y,Usage,2025-01-01T04:00:00Z,AmazonS3,2,\"{\"\"region\"\":\"\"x\"\"}\"\n"
      "c,y,Usage,2025-01-01T05:00:00Z,AWSGlue,3,\n");
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row, on_reject, &s));
  CF_ASSERT_EQ(0, s.rejects);
  CF_ASSERT_STR(s.out.buf,
    "|Amazon Elastic Compute Cloud|Compute||Usage|2025-01-01T03:00:00Z|1|1|"
    "|{}|false\n"
    "|AmazonS3|Storage||Usage|2025-01-01T04:00:00Z|2|2||{}|false\n"
    "|AWSGlue|Analytics||Usage|2025-01-01T05:00:00Z|3|3||{}|false\n");
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

CF_TEST(aws_rejects) {
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/bad.csv", dir);
  put(path,
      "identity/LineItemId,lineItem/UsageStartDate,lineItem/UnblendedCost\n"
      "a,2025-01-01T00:00:00Z,1\n"
      "b,2025-01-01T00:00:00Z\n"
      "c,2025-01-01T00:00:00Z,NaN\n"
      "d,2025-13-01T00:00:00Z,1\n"
      "e,\"2025-01-01,1\n"
      "f,2025-01-01T00:00:00Z,2\n");
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row, on_reject, &s));
  CF_ASSERT_STR(s.rej.buf, "3:wrong column count (2, header has 3)\n"
                "4:non-numeric cost 'NaN'\n"
                "5:invalid date '2025-13-01T00:00:00Z'\n"
                "6:unterminated quoted field\n");
  CF_ASSERT_EQ(2, count_lines(s.out.buf));        /* rows a and f */
  /* Not a CUR at all: one reject, no crash. */
  put(path, "hello,world\n1,2\n");
  cf_buf_reset(&s.rej);
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row, on_reject, &s));
  CF_ASSERT_CONTAINS(s.rej.buf, "not a CUR file");
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

/* Writes `rows` lines (row(i)) gzipped to path, then keeps only the
 * first half of the compressed bytes: a delivery cut short. */
static void put_cut_gzip(const char *path, const char *header,
                         void (*row)(struct cf_buf *, int), int rows) {
  struct cf_buf t = CF_BUF_INIT(0);
  cf_buf_adds(&t, header);
  for (int i = 0; i < rows; i++) row(&t, i);
  fx_write_gzip(path, t.buf, t.len);
  cf_buf_release(&t);
  struct stat st;
  CF_ASSERT_EQ(0, stat(path, &st));
  CF_ASSERT_EQ(0, truncate(path, st.st_size / 2));
}

static void cur_row(struct cf_buf *b, int i) {
  cf_buf_addf(b, "L%d,2025-01-01T00:00:00Z/2025-01-02T00:00:00Z,Usage,"
              "2025-01-01T00:00:00Z,%d.%07d\n", i, i % 977,
              (int)((unsigned)i * 2654435761u % 10000000u));
}

static void gcp_line(struct cf_buf *b, int i) {
  cf_buf_addf(b, "{\"billing_account_id\":\"B\",\"usage_start_time\":"
              "\"2025-01-01T00:00:00Z\",\"cost\":%d.%07d}\n", i % 977,
              (int)((unsigned)i * 2654435761u % 10000000u));
}

static void gcp_csv_row(struct cf_buf *b, int i) {
  cf_buf_addf(b, "B,2025-01-01 00:00:00 UTC,%d.%07d\n", i % 977,
              (int)((unsigned)i * 2654435761u % 10000000u));
}

/* Stops a reader that would go on rejecting forever. */
static int on_reject_capped(void *ud, const char *path, int64_t line,
                            const char *reason) {
  struct sink *s = ud;
  on_reject(ud, path, line, reason);
  return s->rejects > 100 ? -1 : 0;
}

/* A truncated .gz is not a file with one bad line: the reader reports it
 * once and returns -EIO, so extract fails instead of staging (and later
 * publishing) the rows before the cut as the whole delivery. It used to
 * report the same read error again and again, without end. */
CF_TEST(truncated_gzip_fails_the_read) {
  char *dir = mktmp(), path[256];
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  snprintf(path, sizeof path, "%s/cur-1.csv.gz", dir);
  put_cut_gzip(path, "identity/LineItemId,identity/TimeInterval,"
               "lineItem/LineItemType,lineItem/UsageStartDate,"
               "lineItem/UnblendedCost\n", cur_row, 60000);
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(-EIO, cfb_aws_read(&src, on_row, on_reject_capped, &s));
  CF_ASSERT_EQ(1, s.rejects);
  CF_ASSERT_CONTAINS(s.rej.buf, "read error: truncated gzip input");
  CF_ASSERT(count_lines(s.out.buf) > 1000);
  snprintf(path, sizeof path, "%s/export.jsonl.gz", dir);
  put_cut_gzip(path, "", gcp_line, 60000);
  cf_buf_reset(&s.rej);
  s.rejects = 0;
  CF_ASSERT_EQ(-EIO, cfb_gcp_read(&src, on_row, on_reject_capped, &s));
  CF_ASSERT_EQ(1, s.rejects);
  CF_ASSERT_CONTAINS(s.rej.buf, "read error: truncated gzip input");
  snprintf(path, sizeof path, "%s/export.csv.gz", dir);
  put_cut_gzip(path, "billing_account_id,usage_start_time,cost\n",
               gcp_csv_row, 60000);
  cf_buf_reset(&s.rej);
  s.rejects = 0;
  CF_ASSERT_EQ(-EIO, cfb_gcp_read(&src, on_row, on_reject_capped, &s));
  CF_ASSERT_EQ(1, s.rejects);
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

CF_TEST(gcp_csv_credits_become_rows) {
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/export.csv", dir);
  put(path,
      "billing_account_id,service.description,usage_start_time,"
      "usage_end_time,project.id,location.region,cost,currency,"
      "usage.amount,credits,cost_type,labels\n"
      "B,Compute Engine,2020-11-09 23:00:00+00:00,2020-11-10 00:00:00+00:00,"
      "p1,us-central1,5e-06,USD,24909.0,\"[{'name': 'Free', 'amount': "
      "-5e-06, 'type': 'PROMOTION'}, {'name': 'SUD', 'amount': -1e-06, "
      "'type': 'SUSTAINED_USAGE_DISCOUNT'}]\",regular,"
      "\"[{'key': 'env', 'value': 'prod'}]\"\n"
      "B,Cloud Storage,2020-11-10 00:00:00+00:00,,p1,,0.25,USD,0,[],tax,[]\n");
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_gcp_read(&src, on_row, on_reject, &s));
  CF_ASSERT_EQ(0, s.rejects);
  CF_ASSERT_STR(s.out.buf,
    "p1|Compute Engine|Compute|us-central1|Usage|2020-11-09T23:00:00Z|"
    "0.000005|0.000005|24909|{\"env\":\"prod\"}|false\n"
    "p1|Compute Engine|Compute|us-central1|Credit|2020-11-09T23:00:00Z|"
    "-0.000005|-0.000005||{\"env\":\"prod\",\"gcp:credit_name\":\"Free\","
    "\"gcp:credit_type\":\"PROMOTION\"}|true\n"
    "p1|Compute Engine|Compute|us-central1|Credit|2020-11-09T23:00:00Z|"
    "-0.000001|-0.000001||{\"env\":\"prod\",\"gcp:credit_name\":\"SUD\","
    "\"gcp:credit_type\":\"SUSTAINED_USAGE_DISCOUNT\"}|true\n"
    "p1|Cloud Storage|Storage||Tax|2020-11-10T00:00:00Z|0.25|0.25||{}|"
    "false\n");
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

CF_TEST(gcp_jsonl_nested) {
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/export.jsonl", dir);
  put(path,
      "{\"billing_account_id\":\"B\",\"service\":{\"description\":"
      "\"BigQuery\"},\"usage_start_time\":\"2025-01-01T05:00:00Z\","
      "\"project\":{\"id\":\"p2\"},\"cost\":0.1000000000000000055511,"
      "\"currency\":\"USD\",\"usage\":{\"amount\":3},\"credits\":[{\"name\":"
      "\"c\",\"amount\":-0.05,\"type\":\"PROMOTION\"}],\"labels\":[]}\r\n"
      "\n"
      "{\"broken\n");
  struct sink s = {CF_BUF_INIT(0), 0, CF_BUF_INIT(0)};
  struct cfb_src src = {path, "h", "", NULL};
  CF_ASSERT_EQ(0, cfb_gcp_read(&src, on_row, on_reject, &s));
  /* The number text is kept exactly (never through double). */
  CF_ASSERT_STR(s.out.buf,
    "p2|BigQuery|Databases||Usage|2025-01-01T05:00:00Z|0.100000000000000006|"
    "0.100000000000000006|3|{}|false\n"
    "p2|BigQuery|Databases||Credit|2025-01-01T05:00:00Z|-0.05|-0.05||"
    "{\"gcp:credit_name\":\"c\",\"gcp:credit_type\":\"PROMOTION\"}|true\n");
  CF_ASSERT_STR(s.rej.buf, "3:invalid JSON\n");
  cf_buf_release(&s.out);
  cf_buf_release(&s.rej);
  free(dir);
}

CF_TEST(category_map_csv_overrides) {
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/map.csv", dir);
  put(path, "product_code,ServiceCategory\nAmazonEC2,Other\nNewThing,Web\n");
  struct cfb_maps *m = cfb_maps_new();
  CF_ASSERT_STR(cfb_category(m, CFB_AWS, "AmazonEC2"), "Compute");
  CF_ASSERT_STR(cfb_category(m, CFB_AWS, "Unknown"), "Other");
  CF_ASSERT_EQ(0, cfb_maps_load(m, CFB_AWS, path, NULL));
  CF_ASSERT_STR(cfb_category(m, CFB_AWS, "AmazonEC2"), "Other");
  CF_ASSERT_STR(cfb_category(m, CFB_AWS, "NewThing"), "Web");
  CF_ASSERT_STR(cfb_category(m, CFB_GCP, "NewThing"), "Other");
  CF_ASSERT_STR(cfb_category(m, CFB_GCP, "Compute Engine"), "Compute");
  cfb_maps_free(m);
  free(dir);
}

/* Lookups from several threads on one loaded cfb_maps (as silver's
 * readers do): every answer as the tables say. Run under TSan too. */
struct cat_thread { const struct cfb_maps *m; int bad; };

static void *cat_lookups(void *ud) {
  struct cat_thread *t = ud;
  char key[32], want[32];
  for (int round = 0; round < 20; round++)
    for (int i = 0; i < 300; i++) {
      snprintf(key, sizeof key, "Gen%d", i);
      /* Gen0..149 were loaded twice: the second row wins. */
      snprintf(want, sizeof want, "Cat%d", i < 150 ? i + 1000 : i);
      t->bad += strcmp(cfb_category(t->m, CFB_AWS, key), want) != 0;
      t->bad += strcmp(cfb_category_n(t->m, CFB_AWS, key, 3), "Other") != 0;
      t->bad += strcmp(cfb_category(t->m, CFB_GCP, key), "Other") != 0;
    }
  t->bad += strcmp(cfb_category(t->m, CFB_AWS, "AmazonEC2"), "Other") != 0;
  t->bad += strcmp(cfb_category(t->m, CFB_AWS, "AmazonS3"), "Storage") != 0;
  t->bad += strcmp(cfb_category(t->m, CFB_GCP, "BigQuery"), "Databases") != 0;
  t->bad += strcmp(cfb_category(NULL, CFB_GCP, "Cloud Build"),
                   "Developer Tools") != 0;
  t->bad += strcmp(cfb_category_n(t->m, CFB_AWS, "AmazonEC2x", 9),
                   "Other") != 0;
  t->bad += strcmp(cfb_category_n(NULL, CFB_AWS, "AmazonEC2x", 9),
                   "Compute") != 0;
  t->bad += strcmp(cfb_category(t->m, CFB_AWS, ""), "Other") != 0;
  return NULL;
}

CF_TEST(category_lookup_shared_by_threads) {
  /* More rows than the first table holds (it grows while loading), keys
   * loaded twice, a built-in overridden. */
  char *dir = mktmp(), path[256];
  snprintf(path, sizeof path, "%s/map.csv", dir);
  struct cf_buf b = CF_BUF_INIT(0);
  cf_buf_adds(&b, "product_code,ServiceCategory\nAmazonEC2,Other\n");
  for (int i = 0; i < 300; i++) cf_buf_addf(&b, "Gen%d,Cat%d\n", i, i);
  for (int i = 0; i < 150; i++) cf_buf_addf(&b, "Gen%d,Cat%d\n", i, i + 1000);
  put(path, b.buf);
  cf_buf_release(&b);
  struct cfb_maps *m = cfb_maps_new();
  CF_ASSERT_EQ(0, cfb_maps_load(m, CFB_AWS, path, NULL));
  struct cat_thread t[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    t[i] = (struct cat_thread){m, 0};
    CF_ASSERT_EQ(0, pthread_create(&th[i], NULL, cat_lookups, &t[i]));
  }
  for (int i = 0; i < 4; i++) {
    CF_ASSERT_EQ(0, pthread_join(th[i], NULL));
    CF_ASSERT_EQ(0, t[i].bad);
  }
  cfb_maps_free(m);
  free(dir);
}

struct cat_check { const struct cfb_maps *m; int rows, bad; };

static int on_row_category(void *ud, const struct cfb_cost *c) {
  struct cat_check *k = ud;
  const char *want = cfb_category(k->m, CFB_AWS, c->col[CFB_ServiceName]);
  k->rows++;
  k->bad += strcmp(c->col[CFB_ServiceCategory], want) != 0;
  return 0;
}

CF_TEST(aws_category_per_row_matches_lookup) {
  /* Each row's category from the reader, by product code: similar
   * codes, a mapped override, unknown and long codes, and many codes
   * must all come out as cfb_category says, in any order. */
  static const char *const codes[] = {
      "AmazonEC2", "AmazonECR", "AmazonS3", "AmazonX3", "AmazonEC2",
      "NewThing", "awskms", "awswaf", "Unknown", "AmazonS3",
      "AVeryLongProductCodeThatDoesNotFitTheCacheSlotAtAll", "AWSELB",
      "AmazonRDS", "AmazonRDT", "NewThing", "AmazonX3"};
  char *dir = mktmp(), path[256], map[256];
  snprintf(map, sizeof map, "%s/map.csv", dir);
  put(map, "product_code,ServiceCategory\nAmazonEC2,Other\nNewThing,Web\n"
           "Gen65,Web\n");
  snprintf(path, sizeof path, "%s/cur.csv", dir);
  struct cf_buf b = CF_BUF_INIT(0);
  cf_buf_adds(&b, "lineItem/UsageAccountId,lineItem/LineItemType,"
                  "lineItem/UsageStartDate,lineItem/ProductCode,"
                  "lineItem/UnblendedCost\n");
  for (int i = 0; i < 200; i++) {      /* odd rows: more codes than fit */
    if (i % 2) cf_buf_addf(&b, "S,Usage,2024-01-01T00:00:00Z,Gen%d,1\n",
                           i % 70);
    else cf_buf_addf(&b, "S,Usage,2024-01-01T00:00:00Z,%s,1\n",
                     codes[(i * 7) % (sizeof codes / sizeof *codes)]);
  }
  put(path, b.buf);
  cf_buf_release(&b);
  struct cfb_maps *m = cfb_maps_new();
  CF_ASSERT_EQ(0, cfb_maps_load(m, CFB_AWS, map, NULL));
  struct cat_check k = {m, 0, 0};
  struct cfb_src src = {path, "h", "", m};
  CF_ASSERT_EQ(0, cfb_aws_read(&src, on_row_category, reject_none, &k));
  CF_ASSERT_EQ(200, k.rows);
  CF_ASSERT_EQ(0, k.bad);
  cfb_maps_free(m);
  free(dir);
}

/* Both publishing steps, as the silver stage runs them. */
static int stage_and_commit(const char *dir, const char *dataset,
                            const char *partition, const struct iovec *iov,
                            size_t niov, int64_t rows,
                            const char *inputs_json, int keep,
                            struct cfb_published *out, char **errmsg) {
  struct cfb_staged st;
  int ret = cfb_partition_stage(dir, dataset, partition, iov, niov, rows,
                                inputs_json, &st, errmsg);
  if (ret == 0) ret = cfb_partition_commit(&st, keep, out, errmsg);
  cfb_staged_release(&st);
  return ret;
}

CF_TEST(partition_atomic_swap_and_versions) {
  char *dir = mktmp(), part[256], link[300], buf[64];
  snprintf(part, sizeof part, "%s/usage_date=2025-01-01", dir);
  struct iovec a = {"a\n", 2}, b = {"b\n", 2};   /* data.csv bytes */
  struct cfb_published p;
  CF_ASSERT_EQ(0, stage_and_commit(part, "silver.cost", "k", &a, 1, 1,
                                        "[]", 2, &p, NULL));
  CF_ASSERT_EQ(1, p.version);
  CF_ASSERT_EQ(1, p.changed);
  /* Same bytes and inputs: nothing new. */
  CF_ASSERT_EQ(0, stage_and_commit(part, "silver.cost", "k", &a, 1, 1,
                                        "[]", 2, &p, NULL));
  CF_ASSERT_EQ(1, p.version);
  CF_ASSERT_EQ(0, p.changed);
  /* A crashed attempt's folder is never made live, and is skipped. */
  snprintf(link, sizeof link, "%s/v000002", part);
  mkdir(link, 0755);
  CF_ASSERT_EQ(0, stage_and_commit(part, "silver.cost", "k", &b, 1, 1,
                                        "[\"x\"]", 2, &p, NULL));
  CF_ASSERT_EQ(3, p.version);
  snprintf(link, sizeof link, "%s/current", part);
  ssize_t n = readlink(link, buf, sizeof buf - 1);
  CF_ASSERT(n > 0);
  buf[n] = '\0';
  CF_ASSERT_STR(buf, "v000003");
  CF_ASSERT_EQ(3, cfb_partition_current(part));
  snprintf(link, sizeof link, "%s/current/data.csv", part);
  char *d = slurp(link);
  CF_ASSERT_STR(d, "b\n");
  free(d);
  snprintf(link, sizeof link, "%s/current/_manifest.json", part);
  d = slurp(link);
  CF_ASSERT_CONTAINS(d, "\"version\":3,\"row_count\":1,\"checksum\":\"");
  CF_ASSERT_CONTAINS(d, "\"inputs\":[\"x\"]");
  free(d);
  /* keep=2: v000001 is pruned, no temp link is left behind. */
  snprintf(link, sizeof link, "%s/v000001", part);
  CF_ASSERT(access(link, F_OK) != 0);
  snprintf(link, sizeof link, "%s/.current.tmp.%ld", part, (long)getpid());
  CF_ASSERT(access(link, F_OK) != 0);
  free(dir);
}

CF_TEST(partition_staged_is_not_live_until_committed) {
  char *dir = mktmp(), part[256], link[300], buf[64];
  snprintf(part, sizeof part, "%s/usage_date=2025-01-02", dir);
  struct iovec a = {"a\n", 2}, b = {"b\n", 2};
  struct cfb_published p;
  struct cfb_staged st;
  CF_ASSERT_EQ(0, stage_and_commit(part, "silver.cost", "k", &a, 1, 1,
                                        "[]", 3, &p, NULL));
  CF_ASSERT_EQ(0, cfb_partition_stage(part, "silver.cost", "k", &b, 1, 1,
                                      "[]", &st, NULL));
  CF_ASSERT_EQ(2, st.version);
  CF_ASSERT_EQ(0, st.unchanged);
  /* Staged: the new folder is written, `current` still names v000001. */
  snprintf(link, sizeof link, "%s/v000002/data.csv", part);
  char *d = slurp(link);
  CF_ASSERT_STR(d, "b\n");
  free(d);
  CF_ASSERT_EQ(1, cfb_partition_current(part));
  CF_ASSERT_EQ(0, cfb_partition_commit(&st, 3, &p, NULL));
  cfb_staged_release(&st);
  CF_ASSERT_EQ(2, p.version);
  CF_ASSERT_EQ(1, p.changed);
  snprintf(link, sizeof link, "%s/current", part);
  ssize_t n = readlink(link, buf, sizeof buf - 1);
  CF_ASSERT(n > 0);
  buf[n] = '\0';
  CF_ASSERT_STR(buf, "v000002");
  /* A staged version never committed (a crash) is skipped, not reused. */
  CF_ASSERT_EQ(0, cfb_partition_stage(part, "silver.cost", "k", &a, 1, 1,
                                      "[\"y\"]", &st, NULL));
  CF_ASSERT_EQ(3, st.version);
  cfb_staged_release(&st);
  CF_ASSERT_EQ(2, cfb_partition_current(part));
  CF_ASSERT_EQ(0, cfb_partition_stage(part, "silver.cost", "k", &a, 1, 1,
                                      "[\"y\"]", &st, NULL));
  CF_ASSERT_EQ(4, st.version);
  CF_ASSERT_EQ(0, cfb_partition_commit(&st, 3, &p, NULL));
  cfb_staged_release(&st);
  CF_ASSERT_EQ(4, cfb_partition_current(part));
  /* Unchanged bytes and inputs: staged as unchanged, commit keeps v4. */
  CF_ASSERT_EQ(0, cfb_partition_stage(part, "silver.cost", "k", &a, 1, 1,
                                      "[\"y\"]", &st, NULL));
  CF_ASSERT_EQ(1, st.unchanged);
  CF_ASSERT_EQ(0, cfb_partition_commit(&st, 3, &p, NULL));
  cfb_staged_release(&st);
  CF_ASSERT_EQ(4, p.version);
  CF_ASSERT_EQ(0, p.changed);
  free(dir);
}

/* A tiny lake: deliveries over three days, run through extract, bronze and
 * silver like the stage plugins do. */
static void ingest_day(const char *home, const char *landing, const char *ds,
                       struct cf_buf *pub) {
  for (int p = CFB_AWS; p <= CFB_GCP; p++) {
    char day[512], *work = cfb_work_dir(home, "t", ds, p);
    snprintf(day, sizeof day, "%s/%s/year=%.4s/month=%.2s/day=%.2s", landing,
             cfb_provider_name(p), ds, ds + 5, ds + 8);
    struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
    char *err = NULL;
    struct cfb_extract_opts eo = {0};
    if (cfb_extract(p, day, work, &eo, &st, &err) < 0)
      CF_FAIL_("extract: %s", err);
    int64_t a, b;
    if (cfb_bronze_store(home, p, ds, work, &a, &b, &err) < 0)
      CF_FAIL_("bronze: %s", err);
    cf_buf_release(&st.usage_dates);
    cf_free(work);
  }
  char scratch[512];
  snprintf(scratch, sizeof scratch, "%s/scratch", home);
  struct cfb_silver_opts o = {.home = home, .ds = ds, .scratch = scratch};
  char *err = NULL;
  cf_buf_reset(pub);
  if (cfb_silver_build(&o, pub, &err) < 0) CF_FAIL_("silver: %s", err);
}

static void collect_log(void *ud, int level, const char *msg) {
  (void)level;
  cf_buf_addf(ud, "%s\n", msg);
}

static const char *cur_hdr =
    "identity/LineItemId,identity/TimeInterval,bill/InvoiceId,"
    "bill/BillingPeriodStartDate,lineItem/UsageAccountId,"
    "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/ProductCode,"
    "lineItem/UnblendedCost\n";

static char *cost_column(const char *home, const char *date) {
  char p[512];
  snprintf(p, sizeof p, "%s/lake/silver/cost/usage_date=%s/current/data.csv",
           home, date);
  return slurp(p);
}

CF_TEST(silver_dedupe_latest_wins_and_snapshots) {
  char *root = mktmp(), home[300], land[300], p[600];
  snprintf(home, sizeof home, "%s/home", root);
  snprintf(land, sizeof land, "%s/land", root);
  struct cf_buf pub = CF_BUF_INIT(0), t = CF_BUF_INIT(0);
  /* Day 1: K1 and K2 (twice: exact duplicate) for usage 01-01. */
  snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=01/d1.csv", land);
  cf_buf_addf(&t, "%sK1,I,,2025-01-01,A,Usage,2025-01-01T01:00:00Z,AmazonEC2,"
              "1.5\nK2,I,,2025-01-01,A,Usage,2025-01-01T02:00:00Z,AmazonS3,2\n"
              "K2,I,,2025-01-01,A,Usage,2025-01-01T02:00:00Z,AmazonS3,2\n",
              cur_hdr);
  put(p, t.buf);
  /* GCP: one row, resent byte for byte the next day. */
  const char *g = "billing_account_id,service.description,usage_start_time,"
                  "project.id,cost,credits\nB,BigQuery,2025-01-01 04:00:00,"
                  "p,0.25,[]\n";
  snprintf(p, sizeof p, "%s/gcp/year=2025/month=01/day=01/g.csv", land);
  put(p, g);
  ingest_day(home, land, "2025-01-01", &pub);
  CF_ASSERT_STR(pub.buf, "[\"2025-01-01\"]");
  char *s = cost_column(home, "2025-01-01");
  CF_ASSERT_CONTAINS(s, ",1.5,");
  CF_ASSERT_EQ(1 + 3, count_lines(s));     /* K1, K2 once, GCP row */
  free(s);
  /* Day 2: K1 restated to 3 (latest wins); GCP resend + a correction. */
  cf_buf_reset(&t);
  cf_buf_addf(&t, "%sK1,I,,2025-01-01,A,Usage,2025-01-01T01:00:00Z,AmazonEC2,"
              "3\n", cur_hdr);
  snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=02/d2.csv", land);
  put(p, t.buf);
  snprintf(p, sizeof p, "%s/gcp/year=2025/month=01/day=02/resend.csv", land);
  put(p, g);
  snprintf(p, sizeof p, "%s/gcp/year=2025/month=01/day=02/fix.csv", land);
  put(p, "billing_account_id,service.description,usage_start_time,"
         "project.id,cost,credits\nB,BigQuery,2025-01-01 04:00:00,p,-0.25,"
         "[]\nB,BigQuery,2025-01-01 04:00:00,p,0.2,[]\n");
  ingest_day(home, land, "2025-01-02", &pub);
  s = cost_column(home, "2025-01-01");
  CF_ASSERT(!strstr(s, ",1.5,"));
  CF_ASSERT_CONTAINS(s, ",3,3,3,");
  CF_ASSERT_CONTAINS(s, ",-0.25,");
  CF_ASSERT_CONTAINS(s, ",0.2,");
  /* header; K1, K2; GCP 0.25 once (resend deduped), -0.25, 0.2 */
  CF_ASSERT_EQ(1 + 2 + 3, count_lines(s));
  free(s);
  /* Day 3: a manifest snapshot of January without K2: K2 is gone. */
  snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=03/r/20250101-20250201/"
           "asm1/r-1.csv", land);
  cf_buf_reset(&t);
  cf_buf_addf(&t, "%sK1,I,,2025-01-01,A,Usage,2025-01-01T01:00:00Z,AmazonEC2,"
              "4\n", cur_hdr);
  put(p, t.buf);
  snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=03/r/20250101-20250201/"
           "r-Manifest.json", land);
  put(p, "{\"assemblyId\":\"asm1\",\"billingPeriod\":{\"start\":"
         "\"20250101T000000.000Z\"},\"reportKeys\":[\"r/20250101-20250201/"
         "asm1/r-1.csv\"]}");
  ingest_day(home, land, "2025-01-03", &pub);
  CF_ASSERT_STR(pub.buf, "[\"2025-01-01\"]");
  s = cost_column(home, "2025-01-01");
  CF_ASSERT_CONTAINS(s, ",4,4,4,");
  CF_ASSERT(!strstr(s, "K2|"));
  CF_ASSERT(!strstr(s, "AmazonS3"));
  free(s);
  /* Loading this lake's manifests under every failed allocation: -ENOMEM
   * or all of them, never fewer entries as success, never a crash or a
   * leak (a name list once counted a name it could not copy). */
  struct cfb_entries all = {0};
  char *err = NULL;
  CF_ASSERT_EQ(0, cfb_bronze_load_all(home, &all, &err));
  size_t want = all.n;
  CF_ASSERT(want >= 6);
  cfb_entries_release(&all);
  for (int n = 0;; n++) {
    memset(&all, 0, sizeof all);
    cf_alloc_fail_after(n);
    int r = cfb_bronze_load_all(home, &all, &err);
    cf_alloc_fail_after(-1);
    size_t got = all.n;
    cfb_entries_release(&all);
    free(err);
    err = NULL;
    if (r == 0) {
      CF_ASSERT_EQ(want, got);
      break;
    }
    CF_ASSERT_EQ(-ENOMEM, r);
  }
  cf_buf_release(&pub);
  cf_buf_release(&t);
  free(root);
}

/* Puts a CUR 2.0-style snapshot under DAY/exp/ as `aws s3 sync
 * s3://bucket/pre/ DAY/` leaves it -- the report keys keep the "pre/"
 * the copy dropped: a manifest naming `parts` files and, of those, the
 * first `delivered`, part k holding row Kk (cost `cost`) unless k is
 * `skip`. */
static void put_snapshot(const char *land, const char *day, const char *id,
                         int parts, int delivered, int skip,
                         const char *cost) {
  char p[700];
  struct cf_buf t = CF_BUF_INIT(0), m = CF_BUF_INIT(0);
  cf_buf_addf(&m, "{\"executionId\":\"%s\",\"billingPeriod\":{\"start\":"
              "\"2025-01-01T00:00:00.000Z\"},\"dataFiles\":[", id);
  for (int k = 1; k <= parts; k++) {
    cf_buf_addf(&m, "%s\"s3://bucket/pre/exp/data/BILLING_PERIOD=2025-01/"
                "exp-%05d.csv\"", k > 1 ? "," : "", k);
    if (k > delivered) continue;
    cf_buf_reset(&t);
    cf_buf_adds(&t, cur_hdr);
    if (k != skip)
      cf_buf_addf(&t, "K%d,I,,2025-01-01,A,Usage,2025-01-01T0%d:00:00Z,"
                  "AmazonS3,%s\n", k, k, cost);
    snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=%s/exp/data/"
             "BILLING_PERIOD=2025-01/exp-%05d.csv", land, day, k);
    put(p, t.buf);
  }
  cf_buf_adds(&m, "]}");
  snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=%s/exp/metadata/"
           "BILLING_PERIOD=2025-01/exp-Manifest.json", land, day);
  put(p, m.buf);
  cf_buf_release(&t);
  cf_buf_release(&m);
}

/* Report keys name the files even when the landing copy left out the
 * bucket prefix (they were plain files before: a row the newer snapshot
 * dropped stayed in silver); and a snapshot some of whose files have not
 * arrived fails the extract instead of replacing the month with the
 * parts that have. */
CF_TEST(snapshot_keys_without_prefix_and_incomplete_deliveries) {
  char *root = mktmp(), home[300], land[300];
  snprintf(home, sizeof home, "%s/home", root);
  snprintf(land, sizeof land, "%s/land", root);
  struct cf_buf pub = CF_BUF_INIT(0);
  put_snapshot(land, "02", "e1", 2, 2, 0, "1.5");
  ingest_day(home, land, "2025-01-02", &pub);
  char *s = cost_column(home, "2025-01-01");
  CF_ASSERT_EQ(1 + 2, count_lines(s));
  free(s);
  /* The next snapshot restates K1 and no longer has K2. */
  put_snapshot(land, "03", "e2", 2, 2, 2, "2.5");
  ingest_day(home, land, "2025-01-03", &pub);
  s = cost_column(home, "2025-01-01");
  CF_ASSERT_EQ(1 + 1, count_lines(s));
  CF_ASSERT_CONTAINS(s, "K1|");
  CF_ASSERT_CONTAINS(s, ",2.5,");
  free(s);
  /* Part 2 of e3 is still on its way. */
  put_snapshot(land, "04", "e3", 2, 1, 0, "9");
  char day[600], *work = cfb_work_dir(home, "t", "2025-01-04", CFB_AWS);
  snprintf(day, sizeof day, "%s/aws/year=2025/month=01/day=04", land);
  struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
  struct cfb_extract_opts eo = {0};
  char *err = NULL;
  CF_ASSERT_EQ(CF_EDATA, cfb_extract(CFB_AWS, day, work, &eo, &st, &err));
  CF_ASSERT_CONTAINS(err, "exp-Manifest.json: assembly e3 names 2 report "
                     "files, 1 of them not delivered (pre/exp/data/"
                     "BILLING_PERIOD=2025-01/exp-00002.csv)");
  cf_free(err);
  cf_free(work);
  cf_buf_release(&st.usage_dates);
  cf_buf_release(&pub);
  free(root);
}

CF_TEST(spill_records_hold_the_formatted_row_and_survive_failures) {
  /* Rows are formatted straight into a date's pending bytes: each record
   * read back must be (rank, key, the row as cfb_row_csv_len writes it),
   * across flushes, and an allocation failing mid-record must leave no
   * partial record behind. */
  char *dir = mktmp();
  cf_date dates[2] = {20089, 20090};
  struct cfb_spills sp;
  CF_ASSERT_EQ(0, cfb_spills_init(&sp, dir, "t", dates, 2));
  struct cfb_rowbuf rb;
  struct cf_buf want = CF_BUF_INIT(0), v = CF_BUF_INIT(0);
  cfb_rowbuf_init(&rb);
  int failed = 0;
  for (int i = 0; i < 3000; i++) {
    cfb_rowbuf_reset(&rb);
    cf_buf_reset(&v);
    /* Big rows grow the pending bytes after the frame and key are in;
     * rows 250, 1250, 2250 need more than ever held, and fail. */
    int n = i % 1000 == 250 ? 300000 : i % 1000 == 750 ? 100000 : i % 97;
    for (int k = 0; k < n; k++) cf_buf_adds(&v, k % 5 ? "x" : "\"y,");
    CF_ASSERT_EQ(0, cfb_rowbuf_set(&rb, CFB_Tags, v.buf));
    CF_ASSERT_EQ(0, cfb_rowbuf_setn(&rb, CFB_x_SourceLine, "1234", 1 + i % 4));
    struct cfb_cost row;
    cfb_rowbuf_finish(&rb, &row);
    struct cfb_rank rank = {(uint32_t)i, 1, 2, 0, i};
    char key[32];
    int kn = snprintf(key, sizeof key, "aws:K%d", i);
    if (i % 1000 == 250) cf_alloc_fail_after(0);   /* the next one fails */
    int r = cfb_spills_add(&sp, (size_t)(i % 2), &rank, key, (size_t)kn,
                           &row);
    cf_alloc_fail_after(-1);
    if (i % 1000 == 250) {
      CF_ASSERT(r < 0);
      failed++;
      continue;
    }
    CF_ASSERT_EQ(0, r);
    if (i % 2 == 0) {
      cf_buf_addf(&want, "%d|%s|", i, key);
      cfb_row_csv_len(&want, row.col, row.len);
    }
  }
  CF_ASSERT_EQ(3, failed);
  CF_ASSERT_EQ(0, cfb_spills_finish(&sp));
  struct cf_mapped m;
  CF_ASSERT_EQ(0, cf_map_file(sp.path[0], &m));
  struct cf_buf got = CF_BUF_INIT(0);
  struct cfb_spill_rec rec;
  size_t pos = 0;
  int r;
  while ((r = cfb_spill_next(&m, &pos, &rec)) == 1) {
    CF_ASSERT_EQ(rec.rank.delivery, (uint32_t)rec.rank.line);
    cf_buf_addf(&got, "%lld|%.*s|", (long long)rec.rank.line,
                (int)rec.key_len, rec.key);
    cf_buf_add(&got, rec.row, rec.row_len);
  }
  CF_ASSERT_EQ(0, r);
  CF_ASSERT_EQ(want.len, got.len);
  CF_ASSERT(memcmp(want.buf, got.buf, want.len) == 0);
  cf_unmap_file(&m);
  cfb_spills_release(&sp);
  cfb_rowbuf_release(&rb);
  cf_buf_release(&want);
  cf_buf_release(&got);
  cf_buf_release(&v);
  free(dir);
}

static int cmp_day_sha(const void *a, const void *b) {
  const struct cfb_entry *x = *(const struct cfb_entry *const *)a;
  const struct cfb_entry *y = *(const struct cfb_entry *const *)b;
  int c = strcmp(x->day, y->day);
  return c ? c : strcmp(x->sha256, y->sha256);
}

CF_TEST(silver_rank_candidates_many_files_with_ties) {
  /* Thousands of candidates drawn from few days, ingestion times and
   * hashes, so (ingested_at, sha256) ties are common (a file delivered on
   * several days): the sorted ranking must give every candidate the
   * ordinals the definition gives, counted one by one. */
  enum { N = 3000 };
  static char sha[N][8], ing[N][32];
  struct cfb_entry *e = calloc(N, sizeof *e);
  const struct cfb_entry **cand = calloc(N, sizeof *cand);
  struct cfb_rank *got = calloc(N, sizeof *got);
  CF_ASSERT(e && cand && got);
  unsigned seed = 4242;
  for (int round = 0; round < 3; round++) {
    size_t n = round == 0 ? N : round == 1 ? 1 : 17;
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      unsigned r = seed >> 8;
      snprintf(e[i].day, sizeof e[i].day, "2025-01-%02u", 1 + r % 9);
      snprintf(sha[i], sizeof sha[i], "%02x", (r >> 4) % 40);
      snprintf(ing[i], sizeof ing[i], "2025-01-%02uT00:00:00.%03uZ",
               1 + r % 9, (r >> 10) % 3);
      e[i].sha256 = sha[i];
      e[i].ingested_at = round == 2 ? "" : ing[i];  /* not yet in bronze */
      cand[i] = &e[i];
      got[i] = (struct cfb_rank){7, 7, 7, 7, 7};
    }
    qsort(cand, n, sizeof *cand, cmp_day_sha);
    CF_ASSERT_EQ(0, cfb_rank_candidates(cand, n, got));
    uint32_t delivery = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t file = 0;
      for (size_t j = 0; j < n; j++) {
        int c = strcmp(cand[j]->ingested_at, cand[i]->ingested_at);
        file += (c ? c : strcmp(cand[j]->sha256, cand[i]->sha256)) < 0;
      }
      delivery += i && strcmp(cand[i - 1]->day, cand[i]->day) != 0;
      if (got[i].delivery != delivery || got[i].file != file ||
          got[i].finalized || got[i].unused || got[i].line)
        CF_FAIL_("candidate %zu of %zu: delivery %u file %u, want %u %u", i,
                 n, got[i].delivery, got[i].file, delivery, file);
    }
  }
  CF_ASSERT_EQ(0, cfb_rank_candidates(cand, 0, got));
  free(e);
  free(cand);
  free(got);
}

/* Silver of `ds` in `home` with the given reading options; returns every
 * partition's data.csv and the rejects, concatenated, and the log. */
static char *silver_with(const char *home, const char *ds, int threads,
                         int64_t range_bytes, struct cf_buf *log) {
  char scratch[512], rp[512];
  snprintf(scratch, sizeof scratch, "%s/scratch", home);
  snprintf(rp, sizeof rp, "%s/rejects-%d.csv", home, threads);
  struct cfb_rejects rej;
  CF_ASSERT_EQ(0, cfb_rejects_open(&rej, rp));
  struct cfb_silver_opts o = {.home = home, .ds = ds, .scratch = scratch,
                              .rejects = &rej, .threads = threads,
                              .range_bytes = range_bytes, .log = collect_log,
                              .log_ud = log};
  struct cf_buf pub = CF_BUF_INIT(0), all = CF_BUF_INIT(0);
  char *err = NULL;
  if (cfb_silver_build(&o, &pub, &err) < 0) CF_FAIL_("silver: %s", err);
  CF_ASSERT_EQ(0, cfb_rejects_close(&rej));
  cf_buf_addf(&all, "%s\n", pub.buf);
  for (int d = 1; d <= 3; d++) {
    char day[16];
    snprintf(day, sizeof day, "2025-01-0%d", d);
    char *c = cost_column(home, day);
    cf_buf_adds(&all, c);
    free(c);
  }
  char *r = slurp(rp);
  cf_buf_adds(&all, r);
  free(r);
  cf_buf_release(&pub);
  return cf_buf_detach(&all, NULL);
}

/* A plain CUR file, big.csv of delivery day 2025-01-04 under land, big
 * enough to be split into 4 KiB byte ranges: 3,000 rows whose line items
 * repeat 1,000 rows later with a new cost (the latest line wins, wherever
 * the ranges are cut), a few bad rows (the order of rejects), and with
 * `multiline` descriptions full of quoted line breaks, so a cut guessed at
 * a line break lands inside quotes. */
static void put_split_cur(const char *land, int multiline) {
  struct cf_buf t = CF_BUF_INIT(0);
  char p[600];
  cf_buf_adds(&t, "identity/LineItemId,identity/TimeInterval,"
              "bill/InvoiceId,bill/BillingPeriodStartDate,"
              "lineItem/UsageAccountId,lineItem/LineItemType,"
              "lineItem/UsageStartDate,lineItem/ProductCode,"
              "lineItem/UnblendedCost,lineItem/LineItemDescription\n");
  for (int i = 0; i < 3000; i++) {
    cf_buf_addf(&t, "K%d,I,,2025-01-01,A%d,Usage,2025-01-0%dT%02d:00:00Z,"
                "AmazonEC2,%d.%03d,\"%s%d\"\n", i % 1000, i % 7,
                1 + i % 1000 % 3, i % 1000 % 24, i, i % 1000,
                multiline ? "a\nb\nc\nd\ne\nf\ng\nh, \"\"q\"\"\n" : "d ",
                i);
    if (i % 701 == 0) cf_buf_adds(&t, "bad,row\n");
  }
  snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=04/big.csv", land);
  put(p, t.buf);
  cf_buf_release(&t);
}

CF_TEST(silver_ranges_read_on_threads_give_the_same_bytes) {
  /* Two plain CUR files big enough to be split into ranges: one whose
   * line breaks are all record ends (ranges meet), one where most line
   * breaks sit inside quoted descriptions (a range guess lands inside
   * quotes, the file is read whole). Restatements cross range borders,
   * and a few bad rows test the order of rejects. Split or not, silver
   * and its rejects must be byte-identical. */
  for (int multiline = 0; multiline <= 1; multiline++) {
    char *root = mktmp(), home[300], land[300];
    snprintf(home, sizeof home, "%s/home", root);
    snprintf(land, sizeof land, "%s/land", root);
    struct cf_buf pub = CF_BUF_INIT(0);
    put_split_cur(land, multiline);
    ingest_day(home, land, "2025-01-04", &pub);    /* bronze (+ silver) */
    struct cf_buf log1 = CF_BUF_INIT(0), log2 = CF_BUF_INIT(0);
    char *whole = silver_with(home, "2025-01-04", 1, 0, &log1);
    char *split = silver_with(home, "2025-01-04", 4, 4096, &log2);
    CF_ASSERT_STR(split, whole);
    CF_ASSERT_CONTAINS(whole, ",2999.999,");       /* last K999 wins */
    CF_ASSERT(!strstr(whole, ",999.999,"));
    CF_ASSERT_CONTAINS(whole, "wrong column count");
    if (multiline)
      CF_ASSERT_CONTAINS(log2.buf, "read it whole");
    else
      CF_ASSERT(!strstr(log2.buf, "read it whole"));
    free(whole);
    free(split);
    cf_buf_release(&log1);
    cf_buf_release(&log2);
    cf_buf_release(&pub);
    free(root);
  }
}

/* Extract of one landing day with the given reading options; returns its
 * staging, rejects and files.jsonl, concatenated. */
static char *extract_with(const char *land, const char *work, int threads,
                          int64_t range_bytes, struct cf_buf *log) {
  char day[400], p[600];
  snprintf(day, sizeof day, "%s/aws/year=2025/month=01/day=04", land);
  struct cfb_extract_opts eo = {.threads = threads,
                                .range_bytes = range_bytes,
                                .log = collect_log, .log_ud = log};
  struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
  char *err = NULL;
  if (cfb_extract(CFB_AWS, day, work, &eo, &st, &err) < 0)
    CF_FAIL_("extract: %s", err);
  struct cf_buf all = CF_BUF_INIT(0);
  cf_buf_addf(&all, "%lld rows, %lld rejected, dates %s\n",
              (long long)st.rows, (long long)st.rejected, st.usage_dates.buf);
  /* The staging sequence as one file: later files' header lines off. */
  for (int i = 0;; i++) {
    char *sp = cfb_staging_path(work, i);
    if (access(sp, F_OK) != 0) {
      cf_free(sp);
      break;
    }
    char *c = slurp(sp);
    cf_buf_adds(&all, i ? strchr(c, '\n') + 1 : c);
    free(c);
    cf_free(sp);
  }
  static const char *const files[] = {"rejects.csv", "files.jsonl"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", work, files[i]);
    char *c = slurp(p);
    cf_buf_adds(&all, c);
    free(c);
  }
  cf_buf_release(&st.usage_dates);
  return cf_buf_detach(&all, NULL);
}

CF_TEST(extract_ranges_read_on_threads_give_the_same_bytes) {
  /* As silver's test above, for extract: a big plain CUR file read as
   * byte ranges on threads writes the same staging, rejects and file
   * list as one sequential read -- and falls back to that read when a cut
   * lands inside quotes. No range part file is left behind. */
  for (int multiline = 0; multiline <= 1; multiline++) {
    char *root = mktmp(), land[300], p[600], w1[320], w4[320];
    snprintf(land, sizeof land, "%s/land", root);
    snprintf(w1, sizeof w1, "%s/w1", root);
    snprintf(w4, sizeof w4, "%s/w4", root);
    put_split_cur(land, multiline);
    struct cf_buf log1 = CF_BUF_INIT(0), log4 = CF_BUF_INIT(0);
    char *whole = extract_with(land, w1, 1, 0, &log1);
    char *split = extract_with(land, w4, 4, 4096, &log4);
    CF_ASSERT_STR(split, whole);
    CF_ASSERT_CONTAINS(whole, "3000 rows, 5 rejected");
    CF_ASSERT_CONTAINS(whole, "wrong column count");
    if (multiline)
      CF_ASSERT_CONTAINS(log4.buf, "read it whole");
    else
      CF_ASSERT_CONTAINS(log4.buf, "big.csv: read as 4 byte ranges");
    CF_ASSERT(!strstr(log1.buf, "byte ranges"));
    snprintf(p, sizeof p, "%s/rejects.part0.csv", w4);
    CF_ASSERT(access(p, F_OK) != 0);
    /* ranges in files of their own, or (read whole) in one */
    snprintf(p, sizeof p, "%s/staging.3.csv", w4);
    CF_ASSERT_EQ(multiline ? -1 : 0, access(p, F_OK));
    snprintf(p, sizeof p, "%s/staging.1.csv", w4);
    if (multiline) CF_ASSERT(access(p, F_OK) != 0);
    /* a later run that reads it whole leaves no stale range file */
    char *again = extract_with(land, w4, 1, 0, &log1);
    CF_ASSERT_STR(again, whole);
    CF_ASSERT(access(p, F_OK) != 0);
    free(again);
    free(whole);
    free(split);
    cf_buf_release(&log1);
    cf_buf_release(&log4);
    free(root);
  }
}

CF_TEST(silver_ranges_with_a_line_longer_than_a_range) {
  /* Lines longer than a whole range share: a cut lands inside each, so
   * the range after it is empty (it starts and ends at the next line
   * break) and the range before reads the long line whole. The ranges
   * still meet (no whole-file re-read), and split or not, silver and its
   * rejects are byte-identical and hold the long rows. */
  char *root = mktmp(), home[300], land[300], p[600];
  snprintf(home, sizeof home, "%s/home", root);
  snprintf(land, sizeof land, "%s/land", root);
  struct cf_buf t = CF_BUF_INIT(0), pub = CF_BUF_INIT(0);
  cf_buf_adds(&t, "identity/LineItemId,identity/TimeInterval,"
              "bill/InvoiceId,bill/BillingPeriodStartDate,"
              "lineItem/UsageAccountId,lineItem/LineItemType,"
              "lineItem/UsageStartDate,lineItem/ProductCode,"
              "lineItem/UnblendedCost,lineItem/LineItemDescription\n");
  for (int i = 0; i < 2000; i++) {
    cf_buf_addf(&t, "K%d,I,,2025-01-01,A%d,Usage,2025-01-0%dT%02d:00:00Z,"
                "AmazonEC2,%d.5,", i, i % 7, 1 + i % 3, i % 24, i);
    /* Long lines: row 700 of 900 KB (under the 1 MiB record cap) spans
     * several shares of the ~1.3 MB file read as 8 ranges (~160 KB
     * each); a reject and the last line of 104 KB each. */
    int big = i == 700 ? 112500 : i == 1300 || i == 1999 ? 13000 : 1;
    for (int k = 0; k < big; k++) cf_buf_adds(&t, "long des");
    cf_buf_adds(&t, i == 1300 ? ",extra\n" : "\n");
  }
  snprintf(p, sizeof p, "%s/aws/year=2025/month=01/day=04/big.csv", land);
  put(p, t.buf);
  ingest_day(home, land, "2025-01-04", &pub);
  struct cf_buf log1 = CF_BUF_INIT(0), log2 = CF_BUF_INIT(0);
  char *whole = silver_with(home, "2025-01-04", 1, 0, &log1);
  char *split = silver_with(home, "2025-01-04", 8, 65536, &log2);
  CF_ASSERT_STR(split, whole);
  CF_ASSERT(!strstr(log2.buf, "read it whole"));
  CF_ASSERT_CONTAINS(whole, ",700.5,700.5,700.5,");
  CF_ASSERT_CONTAINS(whole, ",1999.5,1999.5,1999.5,");
  CF_ASSERT_CONTAINS(whole, ",1302,\"wrong column count (11, header has 10)\"");
  /* published dates; 3 headers and 1,999 rows; rejects header and line */
  CF_ASSERT_EQ(1 + 3 + 1999 + 2, count_lines(whole));
  free(whole);
  free(split);
  cf_buf_release(&log1);
  cf_buf_release(&log2);
  cf_buf_release(&t);
  cf_buf_release(&pub);
  free(root);
}

CF_TEST(silver_bytes_deterministic_under_tz_and_locale) {
  char *root = mktmp(), land[300], p[600];
  snprintf(land, sizeof land, "%s/land", root);
  snprintf(p, sizeof p, "%s/gcp/year=2025/month=01/day=05/g.csv", land);
  put(p, "billing_account_id,service.description,usage_start_time,"
         "project.id,cost,credits,labels\n"
         "B,Zeta,2025-01-05 22:00:00-05:00,p,1.000,[],\"[{'key': 'b', "
         "'value': '\xc3\xa9'}, {'key': 'a', 'value': 'x'}]\"\n"
         "B,alpha,2025-01-05 01:00:00+00:00,p,2E-3,[],[]\n"
         "B,\xc3\x89lan,2025-01-05 02:00:00+00:00,p,3,[],[]\n");
  char *data[2];
  const char *tz[2] = {"UTC", "Asia/Kolkata"};
  const char *lc[2] = {"C", "C.UTF-8"};
  for (int i = 0; i < 2; i++) {
    char home[400];
    snprintf(home, sizeof home, "%s/home%d", root, i);
    setenv("TZ", tz[i], 1);
    tzset();
    setlocale(LC_ALL, lc[i]);
    struct cf_buf pub = CF_BUF_INIT(0);
    ingest_day(home, land, "2025-01-05", &pub);
    /* x_IngestedAt differs between homes by design: blank it out. */
    char *s5 = cost_column(home, "2025-01-05");
    char *s6 = cost_column(home, "2025-01-06");
    char *all = cf_asprintf("%s%s", s5, s6);
    for (char *q = strstr(all, "Z\n"); q; q = strstr(q + 1, "Z\n")) {
      char *c = q;
      while (c > all && *c != ',') c--;
      memset(c + 1, '-', (size_t)(q - c));
    }
    data[i] = strdup(all);
    cf_free(all);
    free(s5);
    free(s6);
    cf_buf_release(&pub);
  }
  CF_ASSERT_STR(data[0], data[1]);
  /* Rows sorted bytewise: "B,,Google Cloud,Zeta" ... and Tags keys sorted. */
  CF_ASSERT_CONTAINS(data[0],
                     "{\"\"a\"\":\"\"x\"\",\"\"b\"\":\"\"\xc3\xa9\"\"}");
  CF_ASSERT_CONTAINS(data[0], "2025-01-06T03:00:00Z");
  free(data[0]);
  free(data[1]);
  free(root);
}

/* ---- Out-of-memory sweeps of extract, bronze and silver ----
 * For n = 0, 1, 2, ... the n-th allocation fails (and every later one):
 * each call must return an error and leave what was published before as
 * it was, or succeed with exactly what a run without failures gives --
 * never success with fewer rows, files or partitions. */

static void sh(const char *fmt, const char *a, const char *b) {
  char *cmd = cf_asprintf(fmt, a, b);
  if (!cmd || system(cmd) != 0) abort();
  cf_free(cmd);
}

/* Eight usage dates per provider (so date lists outgrow their first
 * buffer), a reject each, and an AWS manifest with its assembly. */
static void put_oom_landing(const char *land) {
  struct cf_buf t = CF_BUF_INIT(0), g = CF_BUF_INIT(0);
  char p[600];
  cf_buf_adds(&t, cur_hdr);
  cf_buf_adds(&g, "billing_account_id,service.description,usage_start_time,"
                  "project.id,cost,credits\n");
  for (int d = 24; d <= 31; d++) {
    cf_buf_addf(&t, "K%d,I,,2025-01-01,A,Usage,2025-01-%dT01:00:00Z,"
                "AmazonEC2,1.%d\n", d, d, d);
    cf_buf_addf(&g, "B,BigQuery,2025-01-%d 04:00:00,p,0.%d,\"[{'name': "
                "'c', 'amount': -0.01}]\"\n", d, d);
  }
  cf_buf_adds(&t, "K9,I,,2025-01-01,A,Usage,never,AmazonEC2,1\n");
  cf_buf_adds(&g, "B,BigQuery,never,p,1,[]\n");
  snprintf(p, sizeof p, "%s/aws/year=2025/month=02/day=01/d1.csv", land);
  put(p, t.buf);
  snprintf(p, sizeof p, "%s/gcp/year=2025/month=02/day=01/g.csv", land);
  put(p, g.buf);
  cf_buf_reset(&t);
  cf_buf_addf(&t, "%sD1,I,,2024-12-01,A,Usage,2024-12-30T01:00:00Z,"
              "AmazonS3,2\n", cur_hdr);
  snprintf(p, sizeof p, "%s/aws/year=2025/month=02/day=01/r/20241201-20250101"
           "/asm1/r-1.csv", land);
  put(p, t.buf);
  snprintf(p, sizeof p, "%s/aws/year=2025/month=02/day=01/r/20241201-20250101"
           "/r-Manifest.json", land);
  put(p, "{\"assemblyId\":\"asm1\",\"billingPeriod\":{\"start\":"
         "\"20241201T000000.000Z\"},\"reportKeys\":[\"r/20241201-20250101/"
         "asm1/r-1.csv\"]}");
  /* Day 2: K24 restated, a new usage date, a GCP correction. */
  cf_buf_reset(&t);
  cf_buf_addf(&t, "%sK24,I,,2025-01-01,A,Usage,2025-01-24T01:00:00Z,"
              "AmazonEC2,9\nK0,I,,2025-02-01,A,Usage,2025-02-01T01:00:00Z,"
              "AmazonEC2,5\n", cur_hdr);
  snprintf(p, sizeof p, "%s/aws/year=2025/month=02/day=02/d2.csv", land);
  put(p, t.buf);
  snprintf(p, sizeof p, "%s/gcp/year=2025/month=02/day=02/fix.csv", land);
  put(p, "billing_account_id,service.description,usage_start_time,"
         "project.id,cost,credits\nB,BigQuery,2025-01-25 04:00:00,p,-0.25,"
         "[]\n");
  cf_buf_release(&t);
  cf_buf_release(&g);
}

/* What an extract leaves: stats, usage dates, staging, rejects, files. */
static char *extract_result(const char *work,
                            const struct cfb_extract_stats *st) {
  struct cf_buf all = CF_BUF_INIT(0);
  char p[600];
  cf_buf_addf(&all, "%lld files, %lld rows, %lld rejected, dates %s\n",
              (long long)st->files, (long long)st->rows,
              (long long)st->rejected, st->usage_dates.buf);
  static const char *const files[] = {"staging.csv", "rejects.csv",
                                      "files.jsonl"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", work, files[i]);
    char *c = slurp(p);
    cf_buf_addf(&all, "== %s\n%s", files[i], c);
    free(c);
  }
  return cf_buf_detach(&all, NULL);
}

static void oom_day(const char *land, enum cfb_provider p, const char *ds,
                    char *out, size_t n) {
  snprintf(out, n, "%s/%s/year=%.4s/month=%.2s/day=%.2s", land,
           cfb_provider_name(p), ds, ds + 5, ds + 8);
}

CF_TEST(extract_survives_every_failed_allocation) {
  char *root = mktmp(), land[300], day[512], work[600];
  snprintf(land, sizeof land, "%s/land", root);
  put_oom_landing(land);
  for (int p = CFB_AWS; p <= CFB_GCP; p++) {
    struct cfb_extract_opts eo = {.threads = 1};
    struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
    char *err = NULL;
    oom_day(land, p, "2025-02-01", day, sizeof day);
    snprintf(work, sizeof work, "%s/clean-%d", root, p);
    CF_ASSERT_EQ(0, cfb_extract(p, day, work, &eo, &st, &err));
    char *want = extract_result(work, &st);
    CF_ASSERT_CONTAINS(want, "rejected");
    CF_ASSERT_CONTAINS(want, p == CFB_AWS ? "3 files, 9 rows, 1 rejected"
                                          : "1 files, 16 rows, 1 rejected");
    snprintf(work, sizeof work, "%s/work-%d", root, p);   /* retried */
    long n;
    for (n = 0;; n++) {
      cf_buf_release(&st.usage_dates);       /* its growth is swept too */
      cf_alloc_fail_after(n);
      int r = cfb_extract(p, day, work, &eo, &st, &err);
      cf_alloc_fail_after(-1);
      free(err);
      err = NULL;
      if (r == 0) break;
      CF_ASSERT(r < 0);
    }
    CF_ASSERT(n > 10);
    char *got = extract_result(work, &st);
    CF_ASSERT_STR(got, want);
    free(got);
    free(want);
    cf_buf_release(&st.usage_dates);
  }
  /* An unreadable manifest is one reject (it was once freed as if it
   * were the heap array of manifests). */
  char *err = NULL;
  struct cfb_extract_opts eo = {.threads = 1};
  struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
  oom_day(land, CFB_AWS, "2025-02-03", day, sizeof day);
  snprintf(work, sizeof work, "%s/r/x-Manifest.json", day);
  put(work, "{not json");
  snprintf(work, sizeof work, "%s/bad", root);
  CF_ASSERT_EQ(0, cfb_extract(CFB_AWS, day, work, &eo, &st, &err));
  CF_ASSERT_EQ(1, st.rejected);
  cf_buf_release(&st.usage_dates);
  sh("rm -rf '%s'%s", root, "");
  free(root);
}

/* A bronze manifest with its ingestion times blanked (they are the
 * clock's), or "(missing)". */
static char *bronze_manifest(const char *home, enum cfb_provider p,
                             const char *ds) {
  char *dir = cfb_bronze_dir(home, p, ds), path[600];
  snprintf(path, sizeof path, "%s/_manifest.jsonl", dir);
  cf_free(dir);
  char *s = slurp(path), *q = s;
  while ((q = strstr(q, "\"ingested_at\":\""))) {
    q += strlen("\"ingested_at\":\"");
    for (; *q && *q != '"'; q++) *q = 'T';
  }
  return s;
}

CF_TEST(bronze_store_survives_every_failed_allocation) {
  char *root = mktmp(), land[300], day[512], home[300];
  snprintf(land, sizeof land, "%s/land", root);
  snprintf(home, sizeof home, "%s/home", root);
  put_oom_landing(land);
  for (int p = CFB_AWS; p <= CFB_GCP; p++) {
    struct cfb_extract_opts eo = {.threads = 1};
    struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
    char *err = NULL, *work = cfb_work_dir(root, "t", "2025-02-01", p);
    int64_t stored, skipped, st0, sk0;
    oom_day(land, p, "2025-02-01", day, sizeof day);
    CF_ASSERT_EQ(0, cfb_extract(p, day, work, &eo, &st, &err));
    cf_buf_release(&st.usage_dates);
    CF_ASSERT_EQ(0, cfb_bronze_store(home, p, "2025-02-01", work, &st0, &sk0,
                                     &err));
    CF_ASSERT_EQ(p == CFB_AWS ? 3 : 1, st0);
    char *want = bronze_manifest(home, p, "2025-02-01");
    /* Into an empty lake, each attempt from scratch. */
    long n;
    for (n = 0;; n++) {
      sh("rm -rf '%s'%s", home, "");
      cf_alloc_fail_after(n);
      int r = cfb_bronze_store(home, p, "2025-02-01", work, &stored, &skipped,
                               &err);
      cf_alloc_fail_after(-1);
      free(err);
      err = NULL;
      if (r == 0) break;
      CF_ASSERT(r < 0);
      char *m = bronze_manifest(home, p, "2025-02-01");
      CF_ASSERT_STR(m, "(missing)");
      free(m);
    }
    CF_ASSERT(n > 10);
    CF_ASSERT_EQ(st0, stored);
    CF_ASSERT_EQ(sk0, skipped);
    char *got = bronze_manifest(home, p, "2025-02-01");
    CF_ASSERT_STR(got, want);
    free(got);
    /* The same files again, over the stored day: nothing may change. */
    char *dir = cfb_bronze_dir(home, p, "2025-02-01"), mp[600];
    snprintf(mp, sizeof mp, "%s/_manifest.jsonl", dir);
    char *before = slurp(mp);
    for (n = 0;; n++) {
      cf_alloc_fail_after(n);
      int r = cfb_bronze_store(home, p, "2025-02-01", work, &stored, &skipped,
                               &err);
      cf_alloc_fail_after(-1);
      free(err);
      err = NULL;
      char *m = slurp(mp);
      CF_ASSERT_STR(m, before);
      free(m);
      if (r == 0) break;
      CF_ASSERT(r < 0);
    }
    CF_ASSERT_EQ(0, stored);
    CF_ASSERT_EQ(st0 + sk0, skipped);
    free(before);
    free(want);
    cf_free(dir);
    cf_free(work);
  }
  sh("rm -rf '%s'%s", root, "");
  free(root);
}

/* Every live silver partition: "date sha256-of-current-data.csv"
 * lines, in date order (versions left out: a failed attempt's staged
 * folder uses up a number). */
static char *silver_state(const char *home) {
  char dir[400];
  snprintf(dir, sizeof dir, "%s/lake/silver/cost", home);
  struct dirent **names = NULL;
  int k = scandir(dir, &names, NULL, alphasort);
  struct cf_buf b = CF_BUF_INIT(0);
  for (int i = 0; i < k; i++) {
    char p[800], sum[65] = "-";
    if (!strncmp(names[i]->d_name, "usage_date=", 11)) {
      snprintf(p, sizeof p, "%s/%s/current/data.csv", dir, names[i]->d_name);
      if (cf_sha256_file(p, sum) == 0)    /* else staged, never live */
        cf_buf_addf(&b, "%s %s\n", names[i]->d_name + 11, sum);
    }
    free(names[i]);
  }
  free(names);
  return cf_buf_detach(&b, NULL);
}

/* Each date of `before` is in `now`, and each line of `now` (a date and
 * its bytes) is as before or as the clean build made it. */
static void partitions_as_before_or_clean(const char *now,
                                          const char *before,
                                          const char *clean) {
  char line[128];
  for (const char *p = before; *p; p = strchr(p, '\n') + 1) {
    snprintf(line, sizeof line, "%.*s ", 10, p);
    CF_ASSERT_CONTAINS(now, line);
  }
  for (const char *p = now; *p; p = strchr(p, '\n') + 1) {
    snprintf(line, sizeof line, "%.*s", (int)(strchr(p, '\n') - p + 1), p);
    if (!strstr(before, line)) CF_ASSERT_CONTAINS(clean, line);
  }
}

/* Extract and bronze of day ds, both providers, without silver. */
static void extract_bronze(const char *home, const char *land,
                           const char *ds) {
  for (int p = CFB_AWS; p <= CFB_GCP; p++) {
    struct cfb_extract_opts eo = {.threads = 1};
    struct cfb_extract_stats st = {.usage_dates = CF_BUF_INIT(0)};
    char *err = NULL, *work = cfb_work_dir(home, "t", ds, p), day[512];
    int64_t a, b;
    oom_day(land, p, ds, day, sizeof day);
    CF_ASSERT_EQ(0, cfb_extract(p, day, work, &eo, &st, &err));
    CF_ASSERT_EQ(0, cfb_bronze_store(home, p, ds, work, &a, &b, &err));
    cf_buf_release(&st.usage_dates);
    cf_free(work);
  }
}

/* Silver of day ds on `home` for every failed allocation; `ref` is a
 * copy of home on which the clean build runs first. A failed build must
 * return an error and leave every partition as it was or as the clean
 * build makes it: never a date with fewer rows or gone. */
static void sweep_silver(const char *home, const char *ref, const char *ds,
                         int threads) {
  char scratch[400];
  struct cf_buf pub = CF_BUF_INIT(0), want_pub = CF_BUF_INIT(0);
  char *err = NULL;
  snprintf(scratch, sizeof scratch, "%s/scratch", ref);
  struct cfb_silver_opts o = {.home = ref, .ds = ds, .scratch = scratch,
                              .threads = threads, .keep_versions = 100};
  CF_ASSERT_EQ(0, cfb_silver_build(&o, &want_pub, &err));
  char *want = silver_state(ref);
  char *before = silver_state(home);
  CF_ASSERT(strcmp(want, before) != 0);
  snprintf(scratch, sizeof scratch, "%s/scratch", home);
  o.home = home;
  long n;
  for (n = 0;; n++) {                  /* a few hundred allocations */
    cf_buf_reset(&pub);
    cf_alloc_fail_after(n);
    int r = cfb_silver_build(&o, &pub, &err);
    cf_alloc_fail_after(-1);
    free(err);
    err = NULL;
    if (r == 0) break;
    CF_ASSERT(r < 0);
    /* A date that fails keeps its old version (docs/billing-ingest.md);
     * the others may be live already, as the clean build made them. */
    char *now = silver_state(home);
    partitions_as_before_or_clean(now, before, want);
    free(now);
  }
  CF_ASSERT(n > 10);
  char *got = silver_state(home);
  CF_ASSERT_STR(got, want);
  CF_ASSERT_STR(pub.buf, want_pub.buf);
  free(got);
  free(want);
  free(before);
  cf_buf_release(&pub);
  cf_buf_release(&want_pub);
}

CF_TEST(silver_survives_every_failed_allocation) {
  /* Day 1 into an empty silver (eight dates a provider), then day 2
   * restating two published partitions and adding one: a successful
   * build publishes what the clean build on a copy of the lake gives. */
  char *root = mktmp(), land[300], home[300], ref[300];
  snprintf(land, sizeof land, "%s/land", root);
  snprintf(home, sizeof home, "%s/home", root);
  snprintf(ref, sizeof ref, "%s/ref", root);
  put_oom_landing(land);
  extract_bronze(home, land, "2025-02-01");
  sh("cp -a '%s' '%s'", home, ref);
  sweep_silver(home, ref, "2025-02-01", 1);
  extract_bronze(home, land, "2025-02-02");
  sh("rm -rf '%s'%s", ref, "");
  sh("cp -a '%s' '%s'", home, ref);
  sweep_silver(home, ref, "2025-02-02", 3);   /* readers on threads */
  sh("rm -rf '%s'%s", root, "");
  free(root);
}

CF_TEST_MAIN()
