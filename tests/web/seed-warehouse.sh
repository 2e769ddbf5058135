#!/bin/bash
# Seeds a small gold warehouse (tables as plugins/lib/gold_schema.c and
# docs/warehouse.md) for the web tests: 30 days of AWS and GCP spend by
# account x service x region, a few anomalies and zombies.
# usage: seed-warehouse.sh PATH/warehouse.db [LAST_DATE]
set -euo pipefail
db=$1
last=${2:-2025-01-30}
rm -f "$db"
sqlite3 "$db" <<SQL
CREATE TABLE fact_daily_cost(
  usage_date TEXT NOT NULL, provider TEXT NOT NULL,
  billing_account_id TEXT NOT NULL, sub_account_id TEXT NOT NULL,
  service_name TEXT NOT NULL, service_category TEXT NOT NULL,
  region_id TEXT NOT NULL, currency TEXT NOT NULL,
  billed_cost TEXT NOT NULL, effective_cost TEXT NOT NULL,
  list_cost TEXT NOT NULL, credit_cost TEXT NOT NULL,
  usage_quantity TEXT NOT NULL, row_count INTEGER NOT NULL,
  partition_version INTEGER NOT NULL,
  PRIMARY KEY(usage_date, provider, billing_account_id, sub_account_id,
    service_name, service_category, region_id, currency));
CREATE TABLE agg_top_services(
  month TEXT NOT NULL, rank INTEGER NOT NULL, provider TEXT NOT NULL,
  service_name TEXT NOT NULL, currency TEXT NOT NULL,
  billed_cost TEXT NOT NULL, effective_cost TEXT NOT NULL,
  PRIMARY KEY(month, provider, service_name, currency));
CREATE TABLE anomalies(
  usage_date TEXT NOT NULL, provider TEXT NOT NULL,
  account TEXT NOT NULL, service TEXT NOT NULL, currency TEXT NOT NULL,
  cost TEXT NOT NULL, trailing_avg TEXT NOT NULL,
  trailing_stddev TEXT NOT NULL, pct_above TEXT,
  window_days INTEGER NOT NULL, provisional INTEGER NOT NULL,
  PRIMARY KEY(usage_date, provider, account, service, currency));
CREATE TABLE zombies(
  usage_date TEXT NOT NULL, provider TEXT NOT NULL,
  account TEXT NOT NULL, resource_id TEXT NOT NULL,
  service TEXT NOT NULL, cost TEXT NOT NULL,
  usage_quantity TEXT NOT NULL, usage_rows INTEGER NOT NULL,
  PRIMARY KEY(usage_date, provider, account, resource_id, service));
CREATE TEMP TABLE svc(provider, acct, service, cat, region, base);
INSERT INTO svc VALUES
 ('aws','111111111111','AmazonEC2','Compute','us-east-1', 412.25),
 ('aws','111111111111','AmazonS3','Storage','us-east-1', 96.40),
 ('aws','222222222222','AmazonRDS','Databases','eu-west-1', 188.10),
 ('aws','222222222222','AWSLambda','Compute','eu-west-1', 21.75),
 ('aws','111111111111','AmazonCloudWatch','Management','us-east-1', 14.05),
 ('gcp','proj-analytics','BigQuery','Analytics','us', 233.90),
 ('gcp','proj-web','Compute Engine','Compute','europe-west1', 301.35),
 ('gcp','proj-web','Cloud Storage','Storage','europe-west1', 44.20);
WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 29)
INSERT INTO fact_daily_cost
SELECT date('$last', '-' || n || ' days'), provider,
       CASE provider WHEN 'aws' THEN '999999999999' ELSE 'billing-01' END,
       acct, service, cat, region, 'USD',
       printf('%.6f', base * (1 + ((n * 7 + length(service)) % 11) / 50.0)
              + CASE WHEN n = 3 AND service = 'AmazonEC2' THEN 900 ELSE 0
                END),
       printf('%.6f', base * 0.97), printf('%.6f', base * 1.1), '0',
       printf('%.3f', base / 3), 24, 1
FROM d, svc;
-- exact-decimal probe: 0.1 + 0.2 on one day must sum to 0.3, not
-- 0.30000000000000004
INSERT INTO fact_daily_cost VALUES
 ('$last','azure','ea-1','sub-a','Probe','Other','westus','USD','0.1','0.1',
  '0.1','0',1,1,1),
 ('$last','azure','ea-1','sub-b','Probe','Other','westus','USD','0.2','0.2',
  '0.2','0',1,1,1);
INSERT INTO agg_top_services
SELECT substr('$last', 1, 7), row_number() OVER (ORDER BY base DESC),
       provider, service, 'USD', printf('%.2f', base * 30),
       printf('%.2f', base * 29.1) FROM svc;
INSERT INTO anomalies VALUES
 (date('$last','-3 days'),'aws','111111111111','AmazonEC2','USD',
  '1325.250000','430.120000','12.400000','208.11',14,0),
 (date('$last','-1 days'),'gcp','proj-analytics','BigQuery','USD',
  '612.400000','240.500000','20.100000','154.64',14,1);
INSERT INTO zombies VALUES
 (date('$last','-1 days'),'aws','111111111111','vol-0abc123','AmazonEC2',
  '18.240000','0','24'),
 (date('$last','-1 days'),'gcp','proj-web','disk-orphan-7',
  'Compute Engine','9.100000','0','24');
SQL
