/* Versioned schema of the store. Migrations are append-only: each entry
 * upgrades version i to i+1 inside one transaction. */
#include "store-int.h"

static const char *const migrations[] = {
  /* 1: initial schema */
  "CREATE TABLE dags("
  "  dag_id TEXT PRIMARY KEY, path TEXT, sha256 TEXT,"
  "  paused INTEGER NOT NULL DEFAULT 0, updated_at TEXT, import_error TEXT);"
  "CREATE TABLE runs("
  "  id INTEGER PRIMARY KEY, dag_id TEXT NOT NULL,"
  "  logical_date TEXT NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL,"
  "  state TEXT NOT NULL, conf TEXT NOT NULL DEFAULT '{}',"
  "  created_at TEXT NOT NULL, created_us INTEGER NOT NULL,"
  "  start_at TEXT, start_us INTEGER, end_at TEXT, end_us INTEGER,"
  "  UNIQUE(dag_id, logical_date));"
  "CREATE INDEX runs_state ON runs(state);"
  "CREATE TABLE task_instances("
  "  id INTEGER PRIMARY KEY,"
  "  run_pk INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
  "  task_id TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'none',"
  "  try_number INTEGER NOT NULL DEFAULT 0,"
  "  max_tries INTEGER NOT NULL DEFAULT 1, plugin TEXT NOT NULL,"
  "  params TEXT, start_at TEXT, start_us INTEGER, end_at TEXT,"
  "  end_us INTEGER, duration_ms INTEGER, exit_code INTEGER,"
  "  signal INTEGER, reason TEXT, next_retry_at TEXT,"
  "  next_retry_us INTEGER, pid INTEGER, pid_start INTEGER,"
  "  UNIQUE(run_pk, task_id));"
  "CREATE INDEX ti_state ON task_instances(state);"
  "CREATE TABLE attempts("
  "  id INTEGER PRIMARY KEY,"
  "  ti_pk INTEGER NOT NULL REFERENCES task_instances(id)"
  "    ON DELETE CASCADE,"
  "  try_number INTEGER NOT NULL, state TEXT NOT NULL,"
  "  pid INTEGER, pid_start INTEGER, start_at TEXT, start_us INTEGER,"
  "  end_at TEXT, end_us INTEGER, exit_code INTEGER, signal INTEGER,"
  "  reason TEXT, log_path TEXT);"
  "CREATE INDEX attempts_ti ON attempts(ti_pk);"
  "CREATE TABLE task_outputs("
  "  run_pk INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
  "  task_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,"
  "  PRIMARY KEY(run_pk, task_id, key));"
  "CREATE TABLE sensor_files("
  "  id INTEGER PRIMARY KEY, dag_id TEXT NOT NULL, path TEXT NOT NULL,"
  "  size INTEGER NOT NULL, mtime_us INTEGER NOT NULL,"
  "  sha256 TEXT NOT NULL, logical_date TEXT, run_pk INTEGER,"
  "  seen_at TEXT NOT NULL, UNIQUE(dag_id, path, sha256));"
  "CREATE TABLE dq_results("
  "  id INTEGER PRIMARY KEY, attempt_pk INTEGER, run_pk INTEGER,"
  "  dag_id TEXT, logical_date TEXT, task_id TEXT, rule TEXT NOT NULL,"
  "  severity TEXT NOT NULL, rows_checked INTEGER, rows_failed INTEGER,"
  "  passed INTEGER NOT NULL, samples TEXT, at TEXT NOT NULL);"
  "CREATE INDEX dq_run ON dq_results(run_pk);"
  "CREATE TABLE partitions("
  "  id INTEGER PRIMARY KEY, dataset TEXT NOT NULL,"
  "  partition_key TEXT NOT NULL, version INTEGER NOT NULL,"
  "  row_count INTEGER NOT NULL, checksum TEXT NOT NULL, inputs TEXT,"
  "  run_pk INTEGER, task_id TEXT, published_at TEXT NOT NULL,"
  "  UNIQUE(dataset, partition_key, version));"
  "CREATE TABLE events("
  "  id INTEGER PRIMARY KEY, at TEXT NOT NULL, at_us INTEGER NOT NULL,"
  "  dag_id TEXT, run_pk INTEGER, task_id TEXT, kind TEXT NOT NULL,"
  "  detail TEXT);"
  "CREATE INDEX events_run ON events(run_pk);",
  /* 2: hand-off instrumentation: when the child was spawned and when its
   * exit was reaped (microseconds since the epoch) */
  "ALTER TABLE attempts ADD COLUMN spawn_us INTEGER;"
  "ALTER TABLE attempts ADD COLUMN exit_us INTEGER;",
};

int cf__store_migrate(struct cf_store *st, char **errmsg) {
  int have = 0;
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_exec(st->db,
      "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);",
      NULL, NULL, NULL);
  if (rc != SQLITE_OK) goto fail;
  rc = sqlite3_prepare_v2(st->db, "SELECT max(version) FROM schema_version",
                          -1, &s, NULL);
  if (rc != SQLITE_OK) goto fail;
  if (sqlite3_step(s) == SQLITE_ROW) have = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  int want = (int)(sizeof migrations / sizeof *migrations);
  if (have > want) {
    *errmsg = cf_asprintf("store schema version %d is newer than this "
                          "costflow (%d)", have, want);
    return CF_ESTORE;
  }
  for (int v = have; v < want; v++) {
    if (cf_store_begin(st) < 0) goto fail;
    /* another process opening the store may have migrated since we
     * looked: look again under the write lock */
    int now = cf_store_schema_version(st);
    if (now > v) {
      if (cf_store_commit(st) < 0) goto fail;
      if (now > want) {                /* a newer costflow got there */
        *errmsg = cf_asprintf("store schema version %d is newer than this "
                              "costflow (%d)", now, want);
        return CF_ESTORE;
      }
      v = now - 1;
      continue;
    }
    char *sql = cf_asprintf("%s INSERT INTO schema_version VALUES(%d);",
                            migrations[v], v + 1);
    rc = sql ? sqlite3_exec(st->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    cf_free(sql);
    if (rc != SQLITE_OK) {
      *errmsg = cf_asprintf("migration %d: %s", v + 1,
                            sqlite3_errmsg(st->db));
      cf_store_rollback(st);
      return CF_ESTORE;
    }
    if (cf_store_commit(st) < 0) goto fail;
  }
  return 0;
fail:
  *errmsg = cf_asprintf("migrate: %s", sqlite3_errmsg(st->db));
  return CF_ESTORE;
}

int cf_store_schema_version(struct cf_store *st) {
  sqlite3_stmt *s = NULL;
  int v = 0;
  if (sqlite3_prepare_v2(st->db, "SELECT max(version) FROM schema_version",
                         -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return v;
}
