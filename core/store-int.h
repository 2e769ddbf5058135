/* Store internals shared by core/store*.c. */
#ifndef COSTFLOW_STORE_INT_H
#define COSTFLOW_STORE_INT_H

#include "costflow/store.h"

/* Prepared statements kept for reuse, by the address of their SQL text
 * (a string literal in core/store.c): parsing costs more than running the
 * small statements of a task hand-off. */
#define CF_STORE_STMTS 64
struct cf_store_stmt {
  const char *sql;
  sqlite3_stmt *stmt;
};

struct cf_store {
  sqlite3 *db;
  char *path;
  char *reserve;   /* ballast file released when the disk fills (or NULL) */
  struct cf_store_stmt stmts[CF_STORE_STMTS];
  size_t nstmts;
};

int cf__store_migrate(struct cf_store *st, char **errmsg);

#endif
