#!/usr/bin/env python3
"""tests/lib/mitm.py - a TLS-terminating proxy in front of op-account-server,
for the network trust tests (tests/daemon/test_net_trust.sh).

It is the "party that terminates TLS in the middle" of docs/protocol.md:
it serves its own certificate (from a second test CA, which the Connect
server is made to trust through OP_UPSTREAM_CA_FILE), reads each HTTP/1.1
request, forwards it over a TLS connection of its own to the account
server (verified against that server's CA) and relays the answer. It can
do what such a party could do, and the protocol must make useless:

  --alter-changes N   alter the first N answers (0: every one) to a
                      GET /v1/connect/changes whose body holds a feed entry:
                      one character of the first entry's FIELD (--field,
                      default "kind") is changed, the JSON and the HTTP
                      framing stay valid (Content-Length recomputed, a
                      chunked answer re-framed);
  --replay            send the first signed request (one carrying
                      OPC-Counter) a second time, byte for byte, on a new
                      connection once its answer was relayed, and log the
                      account server's status for the replay.

Standard library only (ssl, socket, threading). Writes its port to
--port-file once it listens and one line per exchange to --log:
  "<METHOD> <target> -> <status>"            relayed unchanged
  "<METHOD> <target> -> <status> ALTERED <field>"
  "REPLAY <METHOD> <target> -> <status>"     the replay's answer (not relayed)
Runs until killed (SIGTERM).
"""
import argparse
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading

MAX_HEAD = 64 * 1024
TIMEOUT_S = 120


class Conn:
    """Buffered reads of one socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def head(self):
        """The request or status line and headers, up to the blank line."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise ValueError("head too large")
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def rest(self):
        """Everything until the peer closes."""
        chunks = [self.buf]
        self.buf = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def parse_head(head):
    lines = head.split(b"\r\n")
    first = lines[0].decode("latin-1")
    headers = []
    for raw in lines[1:]:
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return first, headers


def get(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def without(headers, *names):
    low = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in low]


def read_body(conn, headers, until_close):
    """The body as framed by the headers (de-chunked); None when not framed."""
    te = get(headers, "Transfer-Encoding")
    if te is not None and "chunked" in te.lower():
        parts = []
        while True:
            size = int(conn.line().split(b";")[0].strip(), 16)
            if size == 0:
                while conn.line() != b"":  # trailers
                    pass
                return b"".join(parts)
            parts.append(conn.exact(size))
            conn.line()
    cl = get(headers, "Content-Length")
    if cl is not None:
        return conn.exact(int(cl))
    return conn.rest() if until_close else b""


def frame(first, headers, body):
    """A message with the body framed by Content-Length."""
    headers = without(headers, "Transfer-Encoding", "Content-Length")
    headers.append(("Content-Length", str(len(body))))
    head = first + "\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def bump(c):
    """Another character of the same class (an id stays base32-shaped)."""
    if c == "z":
        return "a"
    if c == "9":
        return "0"
    if c == "Z":
        return "A"
    return chr(ord(c) + 1)


class Proxy:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.altered = 0
        self.replayed = False
        self.log = open(args.log, "a", buffering=1, encoding="utf-8")
        self.up_ctx = ssl.create_default_context(cafile=args.upstream_ca)
        self.srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.srv_ctx.load_cert_chain(args.cert, args.key)

    def note(self, text):
        with self.lock:
            self.log.write(text + "\n")

    def upstream(self):
        raw = socket.create_connection(("127.0.0.1", self.args.upstream_port), timeout=TIMEOUT_S)
        return Conn(self.up_ctx.wrap_socket(raw, server_hostname="127.0.0.1"))

    def exchange(self, up, request, method):
        """Send a request, read its final answer: (first, headers, body, close)."""
        up.sock.sendall(request)
        while True:
            first, headers = parse_head(up.head())
            status = int(first.split()[1])
            if 100 <= status < 200:
                continue
            no_body = method == "HEAD" or status in (204, 304)
            framed = (get(headers, "Content-Length") is not None
                      or get(headers, "Transfer-Encoding") is not None)
            body = b"" if no_body else read_body(up, headers, until_close=True)
            close = (not no_body and not framed) or \
                (get(headers, "Connection") or "").lower() == "close"
            return first, headers, body, close

    def want_alter(self, method, target, status, body):
        if self.args.alter_changes is None or method != "GET" or status != 200:
            return None
        if not target.startswith("/v1/connect/changes"):
            return None
        with self.lock:
            if self.args.alter_changes and self.altered >= self.args.alter_changes:
                return None
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        changes = doc.get("changes") if isinstance(doc, dict) else None
        if not changes or not isinstance(changes[0], dict) or self.args.field not in changes[0]:
            return None
        # The first occurrence of the member in the text is the first entry's.
        text = body.decode("utf-8")
        m = re.search(r'"%s"\s*:\s*"?([^",}\s])' % re.escape(self.args.field), text)
        if m is None:
            return None
        i = m.start(1)
        out = (text[:i] + bump(text[i]) + text[i + 1:]).encode("utf-8")
        try:
            json.loads(out)  # still JSON
        except ValueError:
            return None
        with self.lock:
            self.altered += 1
        return out

    def replay(self, request, method, target):
        try:
            up = self.upstream()
            first, _, _, _ = self.exchange(up, request, method)
            self.note("REPLAY %s %s -> %s" % (method, target, first.split()[1]))
            up.sock.close()
        except (OSError, EOFError, ValueError) as e:
            self.note("REPLAY %s %s -> error %s" % (method, target, type(e).__name__))

    def serve(self, raw):
        up = None
        try:
            client = Conn(self.srv_ctx.wrap_socket(raw, server_side=True))
            client.sock.settimeout(TIMEOUT_S)
            while True:
                try:
                    first, headers = parse_head(client.head())
                except EOFError:
                    return
                method, target = first.split()[0], first.split()[1]
                if (get(headers, "Expect") or "").lower() == "100-continue":
                    client.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = read_body(client, headers, until_close=False)
                headers = without(headers, "Expect")
                request = frame(first, headers, body)
                if up is None:
                    up = self.upstream()
                rfirst, rheaders, rbody, close = self.exchange(up, request, method)
                status = int(rfirst.split()[1])
                altered = self.want_alter(method, target, status, rbody)
                suffix = ""
                if altered is not None:
                    rbody = altered
                    suffix = " ALTERED " + self.args.field
                self.note("%s %s -> %d%s" % (method, target, status, suffix))
                if method == "HEAD":
                    client.sock.sendall(rfirst.encode("latin-1") + b"\r\n" + "".join(
                        "%s: %s\r\n" % (k, v) for k, v in rheaders).encode("latin-1") + b"\r\n")
                else:
                    client.sock.sendall(frame(rfirst, rheaders, rbody))
                do_replay = False
                if self.args.replay and get(headers, "OPC-Counter") is not None:
                    with self.lock:
                        do_replay = not self.replayed
                        self.replayed = True
                if do_replay:
                    self.replay(request, method, target)
                if close:
                    up.sock.close()
                    up = None
        except (OSError, EOFError, ValueError) as e:
            self.note("connection ended: %s" % type(e).__name__)
        finally:
            if up is not None:
                up.sock.close()
            raw.close()

    def run(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.args.port))
        ls.listen(64)
        tmp = self.args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % ls.getsockname()[1])
        os.rename(tmp, self.args.port_file)
        while True:
            raw, _ = ls.accept()
            threading.Thread(target=self.serve, args=(raw,), daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--upstream-ca", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--alter-changes", type=int, default=None, metavar="N")
    p.add_argument("--field", default="kind")
    p.add_argument("--replay", action="store_true")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Proxy(args).run()


if __name__ == "__main__":
    main()
