/* GET / and GET /assets/NAME: the UI, embedded at build time (see
 * web/CMakeLists.txt and web/embed.cmake). Looked up by exact name only:
 * the request never touches the file system. */
#include <string.h>
#include "web-int.h"

void cf__api_asset(struct cf_web_req *r) {
  const char *name = r->nparam ? r->param[0] : "index.html";
  for (size_t i = 0; i < cf__nassets; i++) {
    if (strcmp(cf__assets[i].name, name)) continue;
    cf__respond(r, 200, cf__assets[i].ctype, cf__assets[i].data,
                cf__assets[i].len, NULL);
    return;
  }
  cf__respond_error(r, 404, "no asset '%s'", name);
}
