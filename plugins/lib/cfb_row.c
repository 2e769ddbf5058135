/* The unified cost row: column names and file classification (the
 * ServiceCategory lookup is cfb_category.c). */
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

int cfb_ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcasecmp(s + a - b, suf) == 0;
}

const char *cfb_file_ext(const char *path) {
  static const char *const exts[] = {".csv.gz", ".csv.zip", ".jsonl.gz",
                                     ".json.gz", ".csv", ".zip", ".jsonl",
                                     ".json", ".gz"};
  for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
    if (cfb_ends_with(path, exts[i])) return exts[i];
  return "";
}

const char *cfb_file_kind(enum cfb_provider p, const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (base[0] == '.' || base[0] == '_') return NULL;   /* hidden, markers */
  if (p == CFB_AWS) {
    if (cfb_ends_with(base, "Manifest.json")) return "aws_manifest";
    if (!cfb_ends_with(base, ".csv") && !cfb_ends_with(base, ".csv.gz") &&
        !cfb_ends_with(base, ".zip"))
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
  if (cfb_ends_with(base, ".jsonl") || cfb_ends_with(base, ".json") ||
      cfb_ends_with(base, ".jsonl.gz") || cfb_ends_with(base, ".json.gz"))
    return "gcp_jsonl";
  if (cfb_ends_with(base, ".csv") || cfb_ends_with(base, ".csv.gz") ||
      cfb_ends_with(base, ".zip"))
    return "gcp_csv";
  return NULL;
}
