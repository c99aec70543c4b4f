/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_http.h - strict parsers for backend response heads. Pure
 * functions over a buffer: no httpd or APR types, so that the unit tests
 * (t/unit/test_http.c) and the fuzzer (tools/fuzz_http.c) build them
 * without httpd.
 */

#ifndef RPROXY_HTTP_H
#define RPROXY_HTTP_H

#include <stddef.h>

/**
 * Parses "HTTP/1.x SP 3DIGIT [SP reason]" (line without its CRLF).
 * @return 1 when valid, with *minor (0 or 1), *status (100..999) and
 *         *reason_off (offset of the reason phrase, 0 when there is none);
 *         0 when the line is malformed.
 */
int rp_http_parse_status(const char *line, size_t len, int *minor,
                         int *status, size_t *reason_off);

/**
 * Parses one "name: value" field line (without its CRLF). Leading and
 * trailing whitespace of the value is not part of it.
 * @return 1 when valid, with the name's length and the value's offset and
 *         length; 0 when the line is malformed (including a line starting
 *         with whitespace, i.e. obsolete folding).
 */
int rp_http_parse_field(const char *line, size_t len, size_t *name_len,
                        size_t *value_off, size_t *value_len);

#endif /* RPROXY_HTTP_H */
