/* Param accessors shared by every host function table (the task-run
 * child's and verify's): the same params give a plugin the same text, so
 * `verify` recomputes exactly what a run computed. Strings handed to the
 * plugin live in a keeper until the attempt ends. */
#ifndef COSTFLOW_HOST_PARAMS_H
#define COSTFLOW_HOST_PARAMS_H

#include <stddef.h>
#include <jansson.h>

struct cf_keeper { char **v; size_t n, alloc; };
/* Keeps s (malloc'd) until release; returns it, or NULL (s freed). */
const char *cf_keep(struct cf_keeper *k, char *s);
void cf_keeper_release(struct cf_keeper *k);

/* Scalars as text (strings as is, integers, true/false, reals as JSON
 * prints them); NULL for a missing param or a list/map. */
const char *cf_params_text(json_t *params, const char *name,
                           struct cf_keeper *k);
/* Any param as compact JSON with sorted keys. */
const char *cf_params_json(json_t *params, const char *name,
                           struct cf_keeper *k);
/* Lists and maps: size, i-th value as text, i-th key. Map keys are in
 * sorted order, so plugins see a deterministic order. */
size_t cf_params_count(json_t *params, const char *name);
const char *cf_params_item(json_t *params, const char *name, size_t i,
                           struct cf_keeper *k);
const char *cf_params_key(json_t *params, const char *name, size_t i);

#endif
