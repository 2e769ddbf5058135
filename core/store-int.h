/* Store internals shared by core/store*.c. */
#ifndef COSTFLOW_STORE_INT_H
#define COSTFLOW_STORE_INT_H

#include "costflow/store.h"

struct cf_store {
  sqlite3 *db;
  char *path;
  char *reserve;   /* ballast file released when the disk fills (or NULL) */
};

int cf__store_migrate(struct cf_store *st, char **errmsg);

#endif
