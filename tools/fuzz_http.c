/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * fuzz_http.c - libFuzzer target for the strict response-head parsers
 * (src/rproxy_http.c). Each input is split into lines; every line goes
 * through both parsers, and whatever they accept is checked against the
 * grammar's invariants (abort on violation, ASan on any bad access).
 *
 *   make -f Makefile.apxs fuzz FUZZ_SECONDS=60
 */

#include "rproxy_http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
forbidden(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static void
check_line(const char *line, size_t len)
{
    size_t a, b, c, i;
    int minor, status;

    if (rp_http_parse_field(line, len, &a, &b, &c)) {
        if (a == 0 || a >= len || line[a] != ':' || b + c > len) {
            abort();
        }
        for (i = 0; i < c; i++) {
            if (forbidden((unsigned char)line[b + i])) {
                abort();
            }
        }
    }
    if (rp_http_parse_status(line, len, &minor, &status, &a)) {
        if (status < 100 || status > 999 || (minor != 0 && minor != 1)
            || a > len) {
            abort();
        }
        for (i = a ? a : len; i < len; i++) {
            if (forbidden((unsigned char)line[i])) {
                abort();
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;

    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        size_t len = (nl ? nl : end) - p;
        /* an exact-size copy, so that any overread is caught */
        char *line = malloc(len ? len : 1);

        memcpy(line, p, len);
        check_line(line, len);
        free(line);
        p += len + 1;
    }
    return 0;
}
