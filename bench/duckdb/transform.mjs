// DuckDB peer of the billing transform (bench/run, docs/performance.md).
//   node transform.mjs THREADS OUT.csv FILE...   (files in delivery order)
// Dedupe by identity/LineItemId + identity/TimeInterval, the latest
// delivery wins (file order given), then total cost and row count by
// usage date x account x product. Money: DECIMAL(38,18), exact; the sum is
// written as text, never through a double.
import { DuckDBInstance } from '@duckdb/node-api';
import { writeFileSync } from 'node:fs';

const [threads, out, ...files] = process.argv.slice(2);
if (!threads || !out || files.length === 0) {
  console.error('usage: node transform.mjs THREADS OUT.csv FILE...');
  process.exit(2);
}
const db = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await db.connect();
const list = files.map((f, i) => `SELECT *, ${i} AS delivery FROM read_csv('${f.replace(/'/g, "''")}', header = true, all_varchar = true)`).join(' UNION ALL ');
const sql = `
WITH src AS (${list}),
latest AS (
  SELECT * FROM src
  QUALIFY row_number() OVER (PARTITION BY "identity/LineItemId", "identity/TimeInterval"
                             ORDER BY delivery DESC) = 1)
SELECT substr("lineItem/UsageStartDate", 1, 10) AS usage_date,
       "lineItem/UsageAccountId" AS account,
       coalesce(nullif("product/ProductName", ''), "lineItem/ProductCode") AS product,
       CAST(sum(CAST("lineItem/UnblendedCost" AS DECIMAL(38, 18))) AS VARCHAR) AS cost,
       count(*) AS rows
FROM latest GROUP BY ALL ORDER BY ALL`;
const reader = await con.runAndReadAll(sql);
const rows = reader.getRows();
const q = (s) => (/[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);
let text = 'usage_date,account,product,cost,rows\n';
for (const r of rows) text += [r[0], r[1], q(r[2]), r[3], String(r[4])].join(',') + '\n';
writeFileSync(out, text);
