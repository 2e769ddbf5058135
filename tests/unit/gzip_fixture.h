/* Writing .gz test inputs through libarchive (the library the CSV reader
 * reads them with). Used by test-csv and test-billing-ingest. */
#ifndef CF_GZIP_FIXTURE_H
#define CF_GZIP_FIXTURE_H

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>
#include "cf_test.h"

/* Writes the n bytes at body gzipped to path. */
static inline void fx_write_gzip(const char *path, const void *body,
                                 size_t n) {
  struct archive *a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_raw(a);
  CF_ASSERT_EQ(ARCHIVE_OK, archive_write_open_filename(a, path));
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, body, n);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

#endif
