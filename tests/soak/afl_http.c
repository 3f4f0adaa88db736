/*
 * tests/soak/afl_http.c - AFL++'s way into connect-api's HTTP request path
 * (tests/soak/afl, docs/testing.md "Soak"). The server connect-api runs,
 * opc_api, is started in this process over a synced cache (public API
 * only, as daemons/connect-api/main.c does), and each input is the bytes
 * of one connection to it over loopback: sent whole, the write side shut,
 * the answer read until the server closes (at most 2 s).
 *
 *   afl_http < INPUT
 *     OP_SESSION      the credentials file
 *     AFL_HTTP_CACHE  the cache (1password.sqlite), synced beforehand
 *     AFL_HTTP_TOKEN, AFL_HTTP_VAULT, AFL_HTTP_ITEM, AFL_HTTP_FILE
 *                     replace each "@T@", "@V@", "@I@", "@F@" of an input
 *                     (a token, a vault, an item of it, a file of that
 *                     item), so that mutations reach the routes behind
 *                     authentication
 *
 * Built with afl-clang-fast (`make afl-http`), it runs in AFL++'s
 * persistent mode: the server starts after the fork server has forked
 * (threads do not survive a fork), then serves up to 10,000 inputs. Built
 * with another compiler it answers one input from stdin (to replay a
 * finding). A crash of any server thread is a crash of the process; an
 * answer "500" (the server's "Something went wrong") is made one
 * (abort), since no input should reach it. AFL_HTTP_PLANTED=N (the
 * negative control of tests/soak/afl): an input shorter than N bytes is a
 * crash too. Not part of the library or of `make check`.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <opconnect/opconnect.h>

#define MAX_IN (1 << 20)

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

static int port;
static size_t planted; /* 0: none */
static const char *subst[4][2];
static unsigned char expanded[MAX_IN * 2];
static char answer[1 << 16];

static void die(const char *what, const char *why)
{
    fprintf(stderr, "afl_http: %s: %s\n", what, why);
    exit(2);
}

static const char *need(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        die(name, "not set");
    }
    return v;
}

/* The input with its placeholders replaced, in `expanded`; its length. */
static size_t expand(const unsigned char *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o < sizeof expanded - 64;) {
        int hit = -1;
        if (in[i] == '@' && i + 2 < len && in[i + 2] == '@') {
            for (int k = 0; k < 4; k++) {
                if (in[i + 1] == (unsigned char)subst[k][0][0]) {
                    hit = k;
                }
            }
        }
        if (hit >= 0) {
            size_t n = strlen(subst[hit][1]);
            if (o + n >= sizeof expanded) {
                break;
            }
            memcpy(expanded + o, subst[hit][1], n);
            o += n;
            i += 3;
        } else {
            expanded[o++] = in[i++];
        }
    }
    return o;
}

/* One connection: send, shut the write side, read to the end. */
static void one(const unsigned char *in, size_t len)
{
    if (planted > 0 && len < planted) {
        fprintf(stderr, "afl_http: the planted fault: an input under %zu bytes\n", planted);
        abort();
    }
    size_t n = expand(in, len);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        die("socket", "failed");
    }
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        die("connect", "the server does not answer");
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, expanded + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break; /* the server closed first: fine */
        }
        off += (size_t)w;
    }
    (void)shutdown(fd, SHUT_WR);
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, answer + got, sizeof answer - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        if (got == sizeof answer - 1) {
            got = 0; /* only the start of the first answer is looked at */
        }
    }
    answer[got] = '\0';
    (void)close(fd);
    if (strncmp(answer, "HTTP/1.1 500", 12) == 0 || strncmp(answer, "HTTP/1.0 500", 12) == 0) {
        fprintf(stderr, "afl_http: the server answered 500\n");
        abort();
    }
}

static opc_api *start(void)
{
    char err[OPC_ERRBUF_SIZE] = "";
    opc_credentials *creds = NULL;
    opc_api *api = NULL;
    if (opc_global_init(0) != OPC_OK) {
        die("opc_global_init", "failed");
    }
    if (opc_credentials_load(need("OP_SESSION"), &creds, err, sizeof err) != OPC_OK) {
        die("OP_SESSION", err);
    }
    if (opc_api_create(creds, need("AFL_HTTP_CACHE"), &api, err, sizeof err) != OPC_OK ||
        opc_api_set_http_port(api, 0) != OPC_OK ||
        opc_api_set_bind_address(api, "127.0.0.1") != OPC_OK ||
        opc_api_set_threads(api, 8) != OPC_OK || opc_api_set_keepalive_ms(api, 200) != OPC_OK ||
        opc_api_start(api, err, sizeof err) != OPC_OK) {
        die("opc_api", err[0] != '\0' ? err : "a setting was refused");
    }
    port = opc_api_port(api);
    return api; /* the process ends with it: AFL++ forks a fresh one */
}

int main(void)
{
    subst[0][0] = "T";
    subst[0][1] = need("AFL_HTTP_TOKEN");
    subst[1][0] = "V";
    subst[1][1] = need("AFL_HTTP_VAULT");
    subst[2][0] = "I";
    subst[2][1] = need("AFL_HTTP_ITEM");
    subst[3][0] = "F";
    subst[3][1] = need("AFL_HTTP_FILE");
    const char *pl = getenv("AFL_HTTP_PLANTED");
    planted = pl != NULL ? (size_t)strtoul(pl, NULL, 10) : 0;
#ifdef __AFL_FUZZ_TESTCASE_LEN
/* AFL++'s macros cast their string literals to char *. */
#pragma clang diagnostic ignored "-Wcast-qual"
    __AFL_INIT();
    (void)start();
    unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(10000)) {
        size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
        one(buf, len > MAX_IN ? MAX_IN : len);
    }
#else
    static unsigned char in[MAX_IN];
    size_t len = fread(in, 1, sizeof in, stdin);
    opc_api *api = start();
    one(in, len);
    opc_api_free(api);
#endif
    return 0;
}
