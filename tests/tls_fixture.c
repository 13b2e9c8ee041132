/* tests/tls_fixture.c -- what the HTTPS cases share (tls_fixture.h). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server_fixture.h"
#include "tls_fixture.h"

char tls_dir[64];
char cert_file[128], key_file[128];

/* Run the shell command made from fmt; its stdout (up to cap - 1 bytes,
 * NUL-terminated) into out when out is not NULL. Returns its exit code. */
int sh(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048], sink[256];
    va_list ap;
    size_t n = 0, got;
    FILE *p;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s", cmd);
    if (!out) {
        out = sink;
        cap = sizeof(sink);
    }
    while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    out[n] = '\0';
    while (fread(sink, 1, sizeof(sink), p) > 0)
        ; /* the rest, so that the child does not block */
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The CA, two certificates for localhost with their keys, and a key that
 * matches neither. server.pem/server.key are what the server is given;
 * a reload case copies the others over them. */
void make_certs(void)
{
    snprintf(tls_dir, sizeof(tls_dir), "/tmp/greentor-https-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tls_dir));
    snprintf(cert_file, sizeof(cert_file), "%s/server.pem", tls_dir);
    snprintf(key_file, sizeof(key_file), "%s/server.key", tls_dir);
    ck_assert_int_eq(
        sh(NULL, 0,
           "set -e; cd %s; ec='-newkey ec -pkeyopt "
           "ec_paramgen_curve:prime256v1 -nodes';"
           "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 1 "
           "-subj '/CN=greentor https CA' 2>/dev/null;"
           "printf "
           "'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n'"
           " > ext;"
           "for s in 1001 2002; do "
           "openssl req -new $ec -keyout $s.key -out $s.csr "
           "-subj \"/CN=localhost/O=cert$s\" 2>/dev/null;"
           "openssl x509 -req -in $s.csr -CA ca.pem -CAkey ca.key "
           "-set_serial 0x$s -days 1 -extfile ext -out $s.pem 2>/dev/null;"
           "done;"
           "openssl genpkey -algorithm ec -pkeyopt "
           "ec_paramgen_curve:prime256v1 -out other.key 2>/dev/null;"
           "cp 1001.pem server.pem; cp 1001.key server.key",
           tls_dir),
        0);
}

void rm_certs(void)
{
    if (tls_dir[0])
        (void)!sh(NULL, 0, "rm -rf %s", tls_dir);
    tls_dir[0] = '\0';
}

void tls_open(server *s, gt_http_config *cfg)
{
    make_certs();
    cfg->tls_cert_file = cert_file;
    cfg->tls_key_file = key_file;
    server_open(s, cfg, 2);
}

void tls_start(server *s, gt_http_config *cfg)
{
    tls_open(s, cfg);
    server_run(s);
}

void tls_stop(server *s)
{
    server_stop(s);
    rm_certs();
}

/* curl with the CA, name resolution to 127.0.0.1 and 'opts'; the output
 * into out. Returns curl's exit code. */
int curl(const server *s, char *out, size_t cap, const char *opts,
         const char *path)
{
    return sh(out, cap,
              "curl -sS --max-time 20 --cacert %s/ca.pem --resolve "
              "localhost:%d:127.0.0.1 %s https://localhost:%d%s",
              tls_dir, s->port, opts, s->port, path);
}

/* The serial of the certificate the server presents now. */
void served_serial(const server *s, char *out, size_t cap)
{
    ck_assert_int_eq(sh(out, cap,
                        "openssl s_client -connect 127.0.0.1:%d "
                        "-servername localhost </dev/null 2>/dev/null | "
                        "openssl x509 -noout -serial",
                        s->port),
                     0);
}
