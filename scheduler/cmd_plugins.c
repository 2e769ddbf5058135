/* `costflow plugins list [--json]`: every plugin in the search path with
 * its params. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "costflow/common.h"
#include "costflow/plugin_host.h"
#include <jansson.h>

static const char usage[] = "usage: costflow plugins list [--json]\n";
static int broken;

static void on_error(const char *path, const char *msg) {
  fprintf(stderr, "costflow: %s: %s\n", path, msg);
  broken++;
}

int cmd_plugins(int argc, char **argv, struct cf_cli *cli) {
  static const struct option opts[] = {
    {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};
  int json = 0, c;
  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
    if (c == 'j') json = 1;
    else if (c == 'h') { fputs(usage, stdout); return CF_EXIT_OK; }
    else { fputs(usage, stderr); return CF_EXIT_USAGE; }
  }
  if (optind != argc - 1 || strcmp(argv[optind], "list")) {
    fputs(usage, stderr);
    return CF_EXIT_USAGE;
  }
  struct cf_plugin_registry *reg = NULL;
  if (cf_registry_new(cli->plugin_path, &reg) < 0) return CF_EXIT_FAIL;
  const struct cf_plugin *const *v = NULL;
  size_t n = 0;
  cf_registry_list(reg, &v, &n, on_error);
  json_t *arr = json ? json_array() : NULL;
  for (size_t i = 0; i < n; i++) {
    const struct cf_plugin *p = v[i];
    json_t *params = json ? json_array() : NULL;
    if (!json) printf("%s — %s\n", p->name, p->description);
    for (size_t k = 0; k < p->nparams; k++) {
      const struct cf_param_spec *s = &p->params[k];
      if (json)
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s?, s:s?}",
            "name", s->name, "type", cf_param_type_name(s->type), "required",
            s->required, "default", s->default_value, "help", s->help));
      else
        printf("    %-22s %-8s %s%s%s%s%s\n", s->name,
               cf_param_type_name(s->type), s->required ? "(required) " : "",
               s->help ? s->help : "", s->default_value ? " [default: " : "",
               s->default_value ? s->default_value : "",
               s->default_value ? "]" : "");
    }
    if (json)
      json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:o}", "name",
          p->name, "description", p->description, "abi", (int)p->abi,
          "params", params));
  }
  if (json) {
    json_dumpf(arr, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(arr);
  }
  cf_registry_free(reg);
  return broken ? CF_EXIT_FAIL : CF_EXIT_OK;
}
