/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_http.c - the only HTTP/1.1 parsing mod_rproxy does itself: the
 * status line and single header field lines of a backend response.
 * (httpd's ap_get_mime_headers_core() cannot be used for responses: it
 * merges repeated fields with commas, which breaks Set-Cookie.)
 *
 * Both parsers are strict (RFC 9112 sections 4 and 5, RFC 9110 section
 * 5.5): no whitespace before the colon, token field names, no control
 * characters, no obsolete line folding. They take a buffer and a length and
 * touch nothing else, so tools/fuzz_http.c can drive them directly.
 */

#include "rproxy_http.h"

#include <string.h>

static int
is_tchar(unsigned char c)
{
    /* RFC 9110 section 5.6.2: token = 1*tchar */
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z')
           || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* field-vchar, SP and HTAB (obs-text included) */
static int
is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int
rp_http_parse_status(const char *line, size_t len, int *minor, int *status,
                     size_t *reason_off)
{
    size_t i;

    if (len < 12 || memcmp(line, "HTTP/1.", 7)
        || (line[7] != '0' && line[7] != '1') || line[8] != ' ') {
        return 0;
    }
    for (i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9') {
            return 0;
        }
    }
    *minor = line[7] - '0';
    *status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + line[11] - '0';
    if (*status < 100) {
        return 0;
    }
    *reason_off = 0;
    if (len == 12) {
        return 1;
    }
    if (line[12] != ' ') {
        return 0;
    }
    for (i = 13; i < len; i++) {
        if (!is_field_char((unsigned char)line[i])) {
            return 0;
        }
    }
    *reason_off = 13;
    return 1;
}

int
rp_http_parse_field(const char *line, size_t len, size_t *name_len,
                    size_t *value_off, size_t *value_len)
{
    size_t i = 0, end;

    while (i < len && is_tchar((unsigned char)line[i])) {
        i++;
    }
    if (i == 0 || i >= len || line[i] != ':') {
        return 0;
    }
    *name_len = i++;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    end = len;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t')) {
        end--;
    }
    *value_off = i;
    *value_len = end - i;
    for (; i < end; i++) {
        if (!is_field_char((unsigned char)line[i])) {
            return 0;
        }
    }
    return 1;
}
