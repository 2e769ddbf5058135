/* Inline SVG charts for the static report, drawn by hand (no JS, no CDN).
 * Values are exact decimals; they become doubles only for pixel
 * positions, and labels print the exact value. */
#ifndef CFB_REPORT_SVG_H
#define CFB_REPORT_SVG_H

#include <stddef.h>
#include "costflow/common.h"
#include "costflow/decimal.h"

struct cfb_series {
  const char *name;
  const cf_dec *y;        /* one value per x label */
};

/* Line chart: `nx` labels on the x axis (dates), one polyline per series,
 * a legend. Appends <svg>...</svg> to b. Returns 0 or CF_ETOOBIG/-ENOMEM.*/
int cfb_svg_lines(struct cf_buf *b, const char *title,
                  const char *const *xlabels, size_t nx,
                  const struct cfb_series *s, size_t ns);

/* Horizontal bar chart, one bar per label, exact value printed. */
int cfb_svg_bars(struct cf_buf *b, const char *title,
                 const char *const *labels, const cf_dec *values, size_t n);

/* Appends s with & < > " ' escaped for HTML text and attributes. */
int cfb_html_esc(struct cf_buf *b, const char *s);

#endif
