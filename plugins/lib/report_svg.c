/* Hand-drawn inline SVG line and bar charts. */
#include <errno.h>
#include <string.h>
#include "report_svg.h"

static const char *const palette[] = {
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define NPAL (sizeof palette / sizeof *palette)

/* Display only: pixels, never money. */
static double to_double(cf_dec d) { return (double)d.v / 1e18; }

int cfb_html_esc(struct cf_buf *b, const char *s) {
  int r = 0;
  for (; s && *s && r >= 0; s++) {
    switch (*s) {
    case '&': r = cf_buf_adds(b, "&amp;"); break;
    case '<': r = cf_buf_adds(b, "&lt;"); break;
    case '>': r = cf_buf_adds(b, "&gt;"); break;
    case '"': r = cf_buf_adds(b, "&quot;"); break;
    case '\'': r = cf_buf_adds(b, "&#39;"); break;
    default: r = cf_buf_addch(b, *s);
    }
  }
  return r;
}

/* Legend text: at most `max` bytes (whole UTF-8 characters) + "...". */
static int esc_short(struct cf_buf *b, const char *s, size_t max) {
  size_t n = strlen(s);
  if (n <= max) return cfb_html_esc(b, s);
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
  char *t = cf_strndup(s, max);
  int r = t ? cfb_html_esc(b, t) : -ENOMEM;
  cf_free(t);
  return r < 0 ? r : cf_buf_adds(b, "...");
}

int cfb_svg_lines(struct cf_buf *b, const char *title,
                  const char *const *xlabels, size_t nx,
                  const struct cfb_series *s, size_t ns) {
  const double W = 860, H = 300, L = 80, R = 260, T = 30, B = 40;
  double lo = 0, hi = 0;
  char num[CF_DEC_MAXSTR];
  int r = 0;
  for (size_t i = 0; i < ns; i++)
    for (size_t x = 0; x < nx; x++) {
      double v = to_double(s[i].y[x]);
      if (v > hi) hi = v;
      if (v < lo) lo = v;
    }
  if (hi - lo <= 0) hi = lo + 1;
  double pw = W - L - R, ph = H - T - B;
  r |= cf_buf_addf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "width=\"%.0f\" height=\"%.0f\" role=\"img\" "
                   "class=\"chart\"><title>", W, H);
  r |= cfb_html_esc(b, title);
  r |= cf_buf_addf(b, "</title><text x=\"%.0f\" y=\"18\" class=\"ct\">", L);
  r |= cfb_html_esc(b, title);
  r |= cf_buf_addf(b, "</text><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
                   "height=\"%.0f\" fill=\"none\" stroke=\"#ccc\"/>",
                   L, T, pw, ph);
  /* y axis: 5 gridlines labelled with rounded values */
  for (int g = 0; g <= 4; g++) {
    double v = lo + (hi - lo) * g / 4, y = T + ph - ph * g / 4;
    r |= cf_buf_addf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
                     "y2=\"%.1f\" stroke=\"#eee\"/><text x=\"%.0f\" "
                     "y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%.2f"
                     "</text>", L, L + pw, y, y, L - 4, y + 4, v);
  }
  for (size_t x = 0; x < nx; x++) {
    double px = L + (nx > 1 ? pw * x / (nx - 1) : pw / 2);
    if (nx <= 10 || x % ((nx + 9) / 10) == 0 || x == nx - 1) {
      r |= cf_buf_addf(b, "<text x=\"%.1f\" y=\"%.0f\" class=\"ax\" "
                       "text-anchor=\"middle\">", px, T + ph + 16);
      r |= cfb_html_esc(b, xlabels[x] + (strlen(xlabels[x]) > 5 ? 5 : 0));
      r |= cf_buf_adds(b, "</text>");
    }
  }
  for (size_t i = 0; i < ns; i++) {
    const char *col = palette[i % NPAL];
    r |= cf_buf_addf(b, "<polyline fill=\"none\" stroke=\"%s\" "
                     "stroke-width=\"2\" points=\"", col);
    for (size_t x = 0; x < nx; x++) {
      double px = L + (nx > 1 ? pw * x / (nx - 1) : pw / 2);
      double py = T + ph - ph * (to_double(s[i].y[x]) - lo) / (hi - lo);
      r |= cf_buf_addf(b, "%s%.1f,%.1f", x ? " " : "", px, py);
    }
    r |= cf_buf_adds(b, "\"/>");
    for (size_t x = 0; x < nx; x++) {   /* hover shows the exact value */
      double px = L + (nx > 1 ? pw * x / (nx - 1) : pw / 2);
      double py = T + ph - ph * (to_double(s[i].y[x]) - lo) / (hi - lo);
      cf_dec_format(s[i].y[x], num);
      r |= cf_buf_addf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
                       "fill=\"%s\"><title>", px, py, col);
      r |= cfb_html_esc(b, s[i].name);
      r |= cf_buf_addf(b, " %s: %s</title></circle>", xlabels[x], num);
    }
    double ly = T + 14 + 18 * (double)i;
    r |= cf_buf_addf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" "
                     "height=\"12\" fill=\"%s\"/><text x=\"%.0f\" "
                     "y=\"%.0f\" class=\"lg\">", L + pw + 12, ly - 10, col,
                     L + pw + 30, ly);
    r |= esc_short(b, s[i].name, 28);
    r |= cf_buf_adds(b, "<title>");
    r |= cfb_html_esc(b, s[i].name);
    r |= cf_buf_adds(b, "</title></text>");
  }
  r |= cf_buf_adds(b, "</svg>\n");
  return r < 0 ? r : 0;
}

int cfb_svg_bars(struct cf_buf *b, const char *title,
                 const char *const *labels, const cf_dec *values, size_t n) {
  const double W = 760, L = 260, R = 150, T = 30, BH = 20, GAP = 6;
  double H = T + (BH + GAP) * (double)(n ? n : 1) + 10, hi = 0;
  char num[CF_DEC_MAXSTR];
  int r = 0;
  for (size_t i = 0; i < n; i++)
    if (to_double(values[i]) > hi) hi = to_double(values[i]);
  if (hi <= 0) hi = 1;
  r |= cf_buf_addf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "width=\"%.0f\" height=\"%.0f\" role=\"img\" "
                   "class=\"chart\"><title>", W, H);
  r |= cfb_html_esc(b, title);
  r |= cf_buf_addf(b, "</title><text x=\"10\" y=\"18\" class=\"ct\">");
  r |= cfb_html_esc(b, title);
  r |= cf_buf_adds(b, "</text>");
  for (size_t i = 0; i < n; i++) {
    double v = to_double(values[i]), y = T + (BH + GAP) * (double)i;
    double w = v > 0 ? (W - L - R) * v / hi : 0;
    cf_dec_format_fixed(values[i], 2, num);
    r |= cf_buf_addf(b, "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\" "
                     "text-anchor=\"end\">", L - 6, y + 14);
    r |= cfb_html_esc(b, labels[i]);
    r |= cf_buf_addf(b, "</text><rect x=\"%.0f\" y=\"%.0f\" width=\"%.1f\" "
                     "height=\"%.0f\" fill=\"%s\"/><text x=\"%.1f\" "
                     "y=\"%.0f\" class=\"ax\">%s</text>", L, y, w, BH,
                     palette[0], L + w + 6, y + 14, num);
  }
  r |= cf_buf_adds(b, "</svg>\n");
  return r < 0 ? r : 0;
}
