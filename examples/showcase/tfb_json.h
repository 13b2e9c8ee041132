/* examples/showcase/tfb_json.h -- a small JSON writer for the TechEmpower
 * response shapes: {"message":...}, {"id":N,"randomNumber":N} and arrays
 * of those, written straight into a caller's buffer.
 *
 * Issue 15 found jansson to be most of a /json request's user-space work
 * (a tree of objects, 7 allocations, a snprintf per response) for output
 * whose shape is fixed. The writer here builds no tree and allocates
 * nothing; it belongs to the example, not to the library (the issue's
 * rule), because it knows only these shapes. Strings are escaped as
 * RFC 8259 requires: '"', '\\' and the control characters; anything else,
 * UTF-8 included, is copied as it is. */
#ifndef SHOWCASE_TFB_JSON_H
#define SHOWCASE_TFB_JSON_H

#include <stddef.h>

#include "greentor.h"

/* The most bytes tfb_json_world() writes: two ints of 11 characters. */
#define TFB_JSON_WORLD_MAX 48

/* The most bytes tfb_json_worlds() writes for 'n' worlds. */
#define TFB_JSON_WORLDS_MAX(n) (2 + (size_t)(n) * (TFB_JSON_WORLD_MAX + 1))

/* Write {"message":"<msg escaped>"} into buf[0..cap). Returns the length
 * (no NUL is written), or 0 when it does not fit. */
size_t tfb_json_message(char *buf, size_t cap, const char *msg);

/* Write {"id":<id>,"randomNumber":<rn>} at buf, which must have room for
 * TFB_JSON_WORLD_MAX bytes. Returns the length. */
size_t tfb_json_world(char *buf, int id, int rn);

/* Write a JSON array of 'n' worlds (ids[i], rns[i]) at buf, which must
 * have room for TFB_JSON_WORLDS_MAX(n) bytes. Returns the length. */
size_t tfb_json_worlds(char *buf, int n, const int *ids, const int *rns);

/* Answer with buf[0..len) as the body (copied) and Content-Type
 * application/json. Returns 0, -EINVAL (len 0: what a writer returns when
 * its output does not fit) or -ENOMEM. */
int tfb_json_send(gt_http_res *res, const char *buf, size_t len);

#endif
