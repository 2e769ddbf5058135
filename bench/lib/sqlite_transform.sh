#!/usr/bin/env bash
# sqlite3 CLI peer of the billing transform (bench/run).
#   sqlite_transform.sh OUT.csv FILE...   (files in delivery order)
# In-memory database; .import each delivery (every column TEXT), dedupe by
# identity/LineItemId + identity/TimeInterval with the latest delivery
# winning, then cost and row count by usage date x account x product.
# Money is exact: each cost text is turned into an INTEGER count of 10^-10
# (integer part and the fractional digits padded to 10, concatenated as
# text, then CAST; the generator writes at most 10 fractional digits and no
# exponents), summed as 64-bit integers (SQLite raises an error on
# overflow, it never rounds), and printed back as a decimal. No REAL.
set -euo pipefail
out=$1; shift
{
  echo ".bail on"
  echo "PRAGMA temp_store = memory;"
  i=0
  for f in "$@"; do
    echo ".import --csv '$f' d$i"
    i=$((i + 1))
  done
  echo "CREATE TABLE u AS"
  i=0
  for f in "$@"; do
    [ $i -gt 0 ] && echo "UNION ALL"
    echo "SELECT \"identity/LineItemId\" AS id, \"identity/TimeInterval\" AS ti, $i AS delivery,"
    echo "  substr(\"lineItem/UsageStartDate\", 1, 10) AS usage_date,"
    echo "  \"lineItem/UsageAccountId\" AS account,"
    echo "  coalesce(nullif(\"product/ProductName\", ''), \"lineItem/ProductCode\") AS product,"
    echo "  \"lineItem/UnblendedCost\" AS cost FROM d$i"
    i=$((i + 1))
  done
  echo ";"
  cat <<'SQL'
.headers on
.mode csv
.once OUTFILE
WITH latest AS (
  SELECT *, row_number() OVER (PARTITION BY id, ti ORDER BY delivery DESC) AS rn FROM u),
units AS (
  SELECT usage_date, account, product,
    CASE WHEN instr(cost, '.') = 0 THEN CAST(cost AS INTEGER) * 10000000000
         ELSE CAST(substr(cost, 1, instr(cost, '.') - 1)
                   || substr(substr(cost, instr(cost, '.') + 1) || '0000000000', 1, 10)
                   AS INTEGER) END AS u
  FROM latest WHERE rn = 1),
agg AS (SELECT usage_date, account, product, sum(u) AS s, count(*) AS n
        FROM units GROUP BY 1, 2, 3)
SELECT usage_date, account, product,
  printf('%s%d.%010d', CASE WHEN s < 0 THEN '-' ELSE '' END,
         abs(s) / 10000000000, abs(s) % 10000000000) AS cost,
  n AS rows
FROM agg ORDER BY 1, 2, 3;
SQL
} | sed "s|OUTFILE|$out|" | sqlite3 -batch :memory:
