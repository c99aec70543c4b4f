/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * test_http.c - unit tests for the strict response-head parsers in
 * src/rproxy_http.c, run without httpd, plus a randomized pass that feeds
 * them mutated inputs and checks they never accept a line containing
 * bytes the grammar forbids (run under ASan by `make unit-asan`).
 * Prints TAP.
 */

#include "rproxy_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_no;
static int failures;

static void
check(int cond, const char *what)
{
    test_no++;
    printf("%sok %d - %s\n", cond ? "" : "not ", test_no, what);
    failures += !cond;
}

typedef struct {
    const char *line;
    int ok, minor, status;
    const char *reason;
} status_case;

static const status_case status_cases[] = {
    { "HTTP/1.1 200 OK", 1, 1, 200, "OK" },
    { "HTTP/1.0 404 Not Found", 1, 0, 404, "Not Found" },
    { "HTTP/1.1 204", 1, 1, 204, NULL },
    { "HTTP/1.1 200 ", 1, 1, 200, "" },
    { "HTTP/1.1 500 caf\xc3\xa9 \t x", 1, 1, 500, "caf\xc3\xa9 \t x" },
    { "HTTP/1.1 099 Low", 0, 0, 0, NULL },
    { "HTTP/1.1 2000 OK", 0, 0, 0, NULL },
    { "HTTP/1.1 20 OK", 0, 0, 0, NULL },
    { "HTTP/1.2 200 OK", 0, 0, 0, NULL },
    { "HTTP/2 200", 0, 0, 0, NULL },
    { "http/1.1 200 OK", 0, 0, 0, NULL },
    { "HTTP/1.1  200 OK", 0, 0, 0, NULL },
    { "HTTP/1.1 2x0 OK", 0, 0, 0, NULL },
    { "HTTP/1.1 200\tOK", 0, 0, 0, NULL },
    { "HTTP/1.1 200 O\rK", 0, 0, 0, NULL },
    { "HTTP/1.1 200 O\x7fK", 0, 0, 0, NULL },
    { "", 0, 0, 0, NULL },
};

typedef struct {
    const char *line;
    int ok;
    const char *name, *value;
} field_case;

static const field_case field_cases[] = {
    { "Content-Type: text/html", 1, "Content-Type", "text/html" },
    { "X-A:b", 1, "X-A", "b" },
    { "X-A:   spaced \t ", 1, "X-A", "spaced" },
    { "X-Empty:", 1, "X-Empty", "" },
    { "Set-Cookie: a=b; Expires=Wed, 21 Oct 2026 07:28:00 GMT", 1,
      "Set-Cookie", "a=b; Expires=Wed, 21 Oct 2026 07:28:00 GMT" },
    { "X~!#$%&'*+-.^_`|: v", 1, "X~!#$%&'*+-.^_`|", "v" },
    { "X-Obs: caf\xc3\xa9", 1, "X-Obs", "caf\xc3\xa9" },
    { "Content-Length : 5", 0, NULL, NULL },
    { " folded", 0, NULL, NULL },
    { "\tfolded", 0, NULL, NULL },
    { ": novalue", 0, NULL, NULL },
    { "NoColon", 0, NULL, NULL },
    { "Bad Name: v", 0, NULL, NULL },
    { "Bad(Name): v", 0, NULL, NULL },
    { "X-A: a\rb", 0, NULL, NULL },
    { "X-A: a\x01" "b", 0, NULL, NULL },
    { "X-A: a\x7f", 0, NULL, NULL },
};

static void
run_tables(void)
{
    size_t i;
    char what[256];

    for (i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const status_case *c = &status_cases[i];
        int minor = -1, status = -1, ok;
        size_t roff = 99;

        ok = rp_http_parse_status(c->line, strlen(c->line), &minor, &status,
                                  &roff);
        snprintf(what, sizeof(what), "status line %zu %s", i,
                 c->ok ? "accepted" : "refused");
        if (ok && c->ok) {
            ok = minor == c->minor && status == c->status
                 && (c->reason ? roff && !strcmp(c->line + roff, c->reason)
                               : roff == 0);
        }
        check(c->ok ? ok : !ok, what);
    }
    for (i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
        const field_case *c = &field_cases[i];
        size_t nlen = 0, voff = 0, vlen = 0;
        int ok = rp_http_parse_field(c->line, strlen(c->line), &nlen, &voff,
                                     &vlen);

        snprintf(what, sizeof(what), "field line %zu %s", i,
                 c->ok ? "accepted" : "refused");
        if (ok && c->ok) {
            ok = nlen == strlen(c->name) && !strncmp(c->line, c->name, nlen)
                 && vlen == strlen(c->value)
                 && !strncmp(c->line + voff, c->value, vlen);
        }
        check(c->ok ? ok : !ok, what);
    }
}

/* Random mutations of valid lines: whatever is accepted must satisfy the
 * grammar's invariants (no control bytes in what we pass on, the name is
 * all before the colon). ASan catches any out-of-bounds read. */
static void
run_random(unsigned seed, int rounds)
{
    static const char *seeds[] = {
        "HTTP/1.1 200 OK", "X-A: value", "Set-Cookie: a=b; Path=/",
    };
    int r, bad = 0;

    srand(seed);
    for (r = 0; r < rounds; r++) {
        char buf[64];
        size_t len = strlen(seeds[r % 3]), i, a, b, c;
        char *copy;
        int minor, status, k;

        memcpy(buf, seeds[r % 3], len);
        for (k = rand() % 4; k >= 0; k--) {
            buf[rand() % len] = (char)(rand() & 0xff);
        }
        len = (size_t)rand() % (len + 1);
        copy = malloc(len ? len : 1);   /* exact size: overreads trap */
        memcpy(copy, buf, len);
        if (rp_http_parse_field(copy, len, &a, &b, &c)) {
            for (i = 0; i < c; i++) {
                unsigned char ch = (unsigned char)copy[b + i];
                bad += (ch < 0x20 && ch != '\t') || ch == 0x7f;
            }
            bad += a == 0 || copy[a] != ':' || b + c > len;
        }
        if (rp_http_parse_status(copy, len, &minor, &status, &a)) {
            bad += status < 100 || status > 999 || (minor != 0 && minor != 1);
            for (i = a ? a : len; i < len; i++) {
                unsigned char ch = (unsigned char)copy[i];
                bad += (ch < 0x20 && ch != '\t') || ch == 0x7f;
            }
        }
        free(copy);
    }
    check(bad == 0, "randomized inputs never break the grammar's invariants");
}

int
main(void)
{
    run_tables();
    run_random(20261128u, 200000);
    printf("1..%d\n", test_no);
    return failures ? 1 : 0;
}
