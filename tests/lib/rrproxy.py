#!/usr/bin/env python3
"""tests/lib/rrproxy.py - a round-robin load balancer on loopback that
terminates TLS, for the tests of several account servers on one database
(tests/daemon/test_pg_instances.sh): every request, keep-alive or not,
goes to the next account server in turn, so one client's consecutive
requests land on different servers.

    rrproxy.py PORT CERT KEY LOG UPSTREAM_PORT...

Listens on 127.0.0.1:PORT over HTTPS (CERT, KEY), forwards each request to
127.0.0.1:UPSTREAM_PORT (plain HTTP; the next one in turn) and relays the
answer, long polls included. Each exchange is appended to LOG as one JSON
line: the upstream port, method, path, the session id of its
Authorization header ("" without one) and the status. While the file
LOG.only exists, every request goes to the port it holds instead. SIGTERM
stops it.
"""
import http.client
import http.server
import json
import os
import signal
import ssl
import sys
import threading

signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
PORT, CERT, KEY, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
UPSTREAMS = [int(p) for p in sys.argv[5:]]
LOCK = threading.Lock()
TURN = [0]


def next_upstream():
    try:
        with open(LOG + ".only") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        pass
    with LOCK:
        port = UPSTREAMS[TURN[0] % len(UPSTREAMS)]
        TURN[0] += 1
    return port


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        port = next_upstream()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request(self.command, self.path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            c.close()
        except OSError:
            with LOCK, open(LOG, "a") as f:
                f.write(json.dumps({"upstream": port, "method": self.command,
                                    "path": self.path, "status": 0}) + "\n")
            self.close_connection = True
            return
        az = hdrs.get("Authorization", "")
        sid = az.split(" ", 1)[1] if " " in az else ""
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps({"upstream": port, "method": self.command, "path": self.path,
                                "sid": sid, "status": r.status}) + "\n")
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = forward

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", PORT), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
