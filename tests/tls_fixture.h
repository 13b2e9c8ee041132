/* tests/tls_fixture.h -- certificates made at test time and the server of
 * server_fixture.h with TLS, for the "tls" suite (test_http_tls*.c).
 *
 * make_certs() makes, in a new temporary directory 'tls_dir', with the openssl
 * CLI: ca.pem (the CA), 1001.pem/.key and 2002.pem/.key (certificates for
 * "localhost" with those serials, signed by it), other.key (a key that
 * matches neither), ext (a text file that is no certificate), and
 * server.pem/server.key, copies of 1001's that the server is given. */
#ifndef GT_TESTS_TLS_FIXTURE_H
#define GT_TESTS_TLS_FIXTURE_H

#include <stddef.h>

#include <check.h>

#include "server_fixture.h"

extern char tls_dir[64];
extern char cert_file[128], key_file[128]; /* tls_dir/server.pem, .key */

/* Run the shell command made from fmt; its stdout (up to cap - 1 bytes,
 * NUL-terminated) into out when out is not NULL. Returns its exit code. */
int sh(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void make_certs(void);
void rm_certs(void);
/* make_certs(), then server_open() with 2 workers and cfg's TLS files
 * set to server.pem/server.key: routes may be added before server_run(). */
void tls_open(server *s, gt_http_config *cfg);
/* tls_open(), then server_run(). */
void tls_start(server *s, gt_http_config *cfg);
/* server_stop(), rm_certs(). */
void tls_stop(server *s);
/* curl https://localhost:<port><path> with the CA and 'opts' (resolved to
 * 127.0.0.1); its output into out. Returns curl's exit code. */
int curl(const server *s, char *out, size_t cap, const char *opts,
         const char *path);
/* The serial of the certificate the server presents now ("serial=1001\n"). */
void served_serial(const server *s, char *out, size_t cap);

/* The suite's cases: test_http_tls.c, test_http_tls_h2.c (which adds
 * test_http_tls_h2raw.c's). */
void add_http_tls_tests(Suite *s);
void add_http_tls_h2_tests(Suite *s);
void add_http_tls_h2raw_tests(Suite *s);

#endif
