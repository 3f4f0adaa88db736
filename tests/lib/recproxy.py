#!/usr/bin/env python3
"""tests/lib/recproxy.py - a recording HTTP proxy on loopback, for the
owner-over-the-network tests (tests/daemon/test_owner_remote.sh,
test_owner_store.sh): what a party that terminates TLS in front of
op-account-server sees.

    recproxy.py PORT UPSTREAM_PORT LOG

Listens on 127.0.0.1:PORT, forwards each request to 127.0.0.1:UPSTREAM_PORT
(plain HTTP) and relays the answer. Each exchange is appended to LOG as one
JSON line: method, path, headers (all but Host and Connection), body,
status and answer. While the file LOG.drop exists, the answer to a POST
/v1/owner/rows/batch is dropped after the server has run it: the
connection closes without an answer (a write whose outcome the client
cannot know). SIGTERM stops it.
"""
import http.client
import http.server
import json
import os
import signal
import sys

signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
PORT, UPSTREAM, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        try:
            c = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
            c.request(self.command, self.path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
        except OSError:
            self.close_connection = True
            return
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path, "headers": hdrs,
                                "body": body.decode(errors="replace"), "status": r.status,
                                "answer": data.decode(errors="replace")}) + "\n")
        if os.path.exists(LOG + ".drop") and self.path == "/v1/owner/rows/batch":
            self.close_connection = True
            return
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


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
