#!/usr/bin/env python3
"""tests/daemon/framing.py - request framing and path edge cases against a
running connect-api over raw sockets (tests/daemon/test_framing.sh).
Python standard library only.

  framing.py table HOST PORT VAULT ITEM
      every case of the table in table(): the expected status, whether the server
      closes the connection afterwards (within CLOSE_S), an error body
      {"status":N,"message":"..."} with N the status, and the X-Request-ID
      the request sent echoed on the answer; then the Expect cases, the
      401 to an unsent body, and an oversized head.
  framing.py keepalive HOST PORT PATH WAIT
      two GETs on one connection, WAIT seconds apart.
  framing.py plain-to-tls HOST PORT
      plain HTTP sent to the HTTPS port: an HTTP error answer or a close,
      within 1 s.

Each check is one line "PASS<TAB>what<TAB>detail" or "FAIL<TAB>what<TAB>
detail"; the calling script counts them. The token comes from OPC_TOKEN.
"""
import json
import os
import socket
import sys
import time

TOKEN = os.environ.get("OPC_TOKEN", "")
# A close "afterwards" must come within this: prompt, and shorter than any
# keep-alive timeout (today's is 1 s), so an idle close does not count.
CLOSE_S = 0.8
ITEM_JSON = json.dumps({"title": "Framing", "category": "PASSWORD",
                        "fields": [{"id": "password", "type": "CONCEALED", "purpose": "PASSWORD",
                                    "value": "framing-secret"}]}).encode()


def say(ok, what, detail=""):
    print("%s\t%s\t%s" % ("PASS" if ok else "FAIL", what, detail), flush=True)


class Conn:
    def __init__(self, host, port, timeout=5.0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect((host, int(port)))
        self.buf = b""
        self.eof = False

    def send(self, data):
        """Send; False when the server had already closed (reset)."""
        try:
            self.s.sendall(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline):
        self.s.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            got = self.s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        if not got:
            self.eof = True
            return False
        self.buf += got
        return True

    def response(self, timeout=5.0):
        """(status, headers {lowercase: value}, body) of the next response,
        or None when the connection ends (or times out) before one."""
        deadline = time.monotonic() + timeout
        try:
            while b"\r\n\r\n" not in self.buf:
                if self.eof or not self._fill(deadline):
                    return None
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1])
            hdrs = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            if 100 <= status < 200:
                return status, hdrs, b""
            if "content-length" in hdrs:
                n = int(hdrs["content-length"])
                while len(self.buf) < n and self._fill(deadline):
                    pass
                body, self.buf = self.buf[:n], self.buf[n:]
            else:  # until the close
                while self._fill(deadline):
                    pass
                body, self.buf = self.buf, b""
            return status, hdrs, body
        except socket.timeout:
            return None

    def closed_within(self, seconds):
        """True when the server closes (EOF or reset) within `seconds`;
        bytes that arrive meanwhile are skipped."""
        deadline = time.monotonic() + seconds
        try:
            while not self.eof and time.monotonic() < deadline:
                self._fill(deadline)
        except socket.timeout:
            pass
        except OSError:
            return True
        return self.eof

    def close(self):
        self.s.close()


def error_body_ok(status, body):
    try:
        j = json.loads(body)
    except ValueError:
        return False
    return (isinstance(j, dict) and sorted(j) == ["message", "status"] and j["status"] == status
            and isinstance(j["message"], str) and j["message"] != "")


def judge(name, r, want, close, conn, rid, echo=True, not_in_body=None):
    """The checks of one answered case."""
    if r is None:
        say(False, name, "no answer within 5 s" + (" (closed)" if conn.eof else ""))
        return
    status, hdrs, body = r
    ok = status in want
    say(ok, "%s -> %s" % (name, "/".join(map(str, want))),
        "HTTP %d %s" % (status, body[:120].decode("utf-8", "replace")))
    if status >= 400:
        say(error_body_ok(status, body), "%s: the %d's body is {\"status\":%d,\"message\":...}"
            % (name, status, status), body[:160].decode("utf-8", "replace"))
    if echo:
        got = hdrs.get("x-request-id")
        say(got == rid, "%s: X-Request-ID echoed on the %d" % (name, status),
            "sent %s, got %s" % (rid, got))
    if not_in_body is not None:
        say(not_in_body.encode() not in body, "%s: the answer is not the vault list" % name)
    if close is not None:
        t0 = time.monotonic()
        closed = conn.closed_within(CLOSE_S)
        say(closed == close, "%s: the connection is %s" % (name, "closed" if close else "kept"),
            "%s after %.0f ms" % ("closed" if closed else "open", (time.monotonic() - t0) * 1000))


def table(host, port, vault, item):
    auth = "Authorization: Bearer %s\r\n" % TOKEN
    items = "/v1/vaults/%s/items" % vault
    one = "%s/%s" % (items, item)
    h = "Host: %s\r\n" % host
    post = "POST %s HTTP/1.1\r\n%s%sContent-Type: application/json\r\n" % (items, h, auth)
    body = ITEM_JSON
    n = len(body)
    # name, request bytes (X-Request-ID is added), statuses, close (None: not judged)
    cases = [
        ("two different Content-Length",
         post + "Content-Length: %d\r\nContent-Length: %d\r\n" % (n, n + 1), body, [400], True),
        # Decided: two equal Content-Length headers are refused as well
        # (RFC 9112 §6.3 allows either; refusing is the simplest safe rule).
        ("two equal Content-Length",
         post + "Content-Length: %d\r\nContent-Length: %d\r\n" % (n, n), body, [400], True),
        ("Content-Length with Transfer-Encoding: chunked",
         post + "Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % n,
         b"%x\r\n%s\r\n0\r\n\r\n" % (n, body), [400], True),
        ("Content-Length: 12abc", post + "Content-Length: 12abc\r\n", body, [400], True),
        ("negative Content-Length", post + "Content-Length: -1\r\n", body, [400], True),
        ("HTTP/1.1 without Host", "GET %s HTTP/1.1\r\n%s" % (one, auth), b"", [400], True),
        ("%00 in an item id", "GET %s%%00 HTTP/1.1\r\n%s%s" % (one, h, auth), b"", [400], None),
        ("%00 inside /v1/vaults", "GET /v1/va%%00ults HTTP/1.1\r\n%s%s" % (h, auth), b"", [400],
         None),
        ("%00 after /heartbeat", "GET /heartbeat%%00 HTTP/1.1\r\n%s" % h, b"", [400], None),
        ("vault id + %2fx", "GET /v1/vaults/%s%%2fx/items HTTP/1.1\r\n%s%s" % (vault, h, auth),
         b"", [400], None),
        ("/metrics/../v1/vaults", "GET /metrics/../v1/vaults HTTP/1.1\r\n%s%s" % (h, auth), b"",
         [400], None),
        ("/v1/vaults/%2e%2e/v1/vaults",
         "GET /v1/vaults/%%2e%%2e/v1/vaults HTTP/1.1\r\n%s%s" % (h, auth), b"", [400], None),
        ("/v1/vaults/%2E%2E/items", "GET /v1/vaults/%%2E%%2E/items HTTP/1.1\r\n%s%s" % (h, auth),
         b"", [400], None),
        ("unknown Expect value",
         post + "Content-Length: %d\r\nExpect: 200-ok\r\n" % n, body, [417], None),
        ("HTTP/1.0 without Host", "GET %s HTTP/1.0\r\n%s" % (one, auth), b"", [200], None),
        ("a plain GET (the echo on success)", "GET %s HTTP/1.1\r\n%s%s" % (one, h, auth), b"",
         [200], None),
    ]
    for k, (name, head, data, want, close) in enumerate(cases):
        rid = "framing-%d-%d" % (os.getpid(), k)
        c = Conn(host, port)
        c.send(("%sX-Request-ID: %s\r\n\r\n" % (head, rid)).encode() + data)
        r = c.response()
        judge(name, r, want, close, c, rid,
              not_in_body=vault if name.startswith("/metrics") or "%2e" in name.lower() else None)
        c.close()

    # Expect: 100-continue with a valid token: 100 first, the body after it.
    rid = "framing-%d-continue" % os.getpid()
    c = Conn(host, port)
    c.send(("%sContent-Length: %d\r\nExpect: 100-continue\r\nX-Request-ID: %s\r\n\r\n"
            % (post, n, rid)).encode())
    r = c.response(timeout=2.0)
    say(r is not None and r[0] == 100, "Expect: 100-continue with a token: HTTP/1.1 100 Continue "
        "before the body is sent", "got %s" % (r[0] if r else "nothing in 2 s"))
    if r is None or r[0] == 100:  # without a 100, the body after 2 s, as curl does after 1 s
        c.send(body)
        r = c.response()
    say(r is not None and r[0] == 200, "Expect: 100-continue with a token: then the final 200",
        "got %s" % (("HTTP %d %s" % (r[0], r[2][:100])) if r else "nothing"))
    c.close()

    # Expect: 100-continue without a token: the 401 alone, then a close.
    rid = "framing-%d-continue401" % os.getpid()
    c = Conn(host, port)
    c.send(("POST %s HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: 100000\r\n"
            "Expect: 100-continue\r\nX-Request-ID: %s\r\n\r\n" % (items, h, rid)).encode())
    r = c.response(timeout=2.0)
    judge("Expect: 100-continue without a token (the final answer, no 100 first)", r, [401], True,
          c, rid)
    c.close()

    # A 401 to a POST declaring a body that never comes: at once, then a close.
    rid = "framing-%d-unsent" % os.getpid()
    c = Conn(host, port)
    t0 = time.monotonic()
    c.send(("POST %s HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: 100000\r\n"
            "X-Request-ID: %s\r\n\r\n" % (items, h, rid)).encode())
    r = c.response(timeout=3.0)
    dt = (time.monotonic() - t0) * 1000
    say(r is not None and r[0] == 401 and dt < 1000, "401 to a POST whose 100000-byte body is "
        "never sent: answered within 1 s", "%s after %.0f ms" % (r[0] if r else "nothing", dt))
    closed = c.closed_within(CLOSE_S)
    say(closed, "... and the connection closed at once (within %.1f s; the body is not drained)"
        % CLOSE_S, "closed" if closed else "still open after %.1f s" % CLOSE_S)
    c.close()

    # A request head larger than the limit: 413 or 431, then a close. The
    # header is sent in pieces; the server may answer before the end.
    rid = "framing-%d-big" % os.getpid()
    c = Conn(host, port)
    big = "GET %s HTTP/1.1\r\n%s%sX-Request-ID: %s\r\n" % (one, h, auth, rid)
    big += "".join("X-Pad-%d: %s\r\n" % (i, "p" * 1000) for i in range(128))
    data = (big + "\r\n").encode()
    for i in range(0, len(data), 16384):
        if not c.send(data[i:i + 16384]):
            break
    r = c.response()
    judge("a request head of %d KiB" % (len(data) // 1024), r, [413, 431], True, c, rid,
          echo=False)
    c.close()


def keepalive(host, port, path, wait):
    c = Conn(host, port, timeout=10)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n"
           % (path, host, TOKEN)).encode()
    c.send(req)
    r1 = c.response()
    time.sleep(float(wait))
    sent = c.send(req)
    r2 = c.response() if sent else None
    say(r1 is not None and r1[0] == 200 and r2 is not None and r2[0] == 200,
        "keep-alive: a second GET %s s after the first, on the same connection" % wait,
        "first %s, second %s" % (r1[0] if r1 else "none",
                                 r2[0] if r2 else "none (the server closed the connection)"))


def plain_to_tls(host, port):
    c = Conn(host, port)
    t0 = time.monotonic()
    c.send(("GET /heartbeat HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    try:
        r = c.response(timeout=1.0)
    except (ValueError, IndexError):
        r = ("garbage", {}, b"")
    dt = (time.monotonic() - t0) * 1000
    closed = c.closed_within(max(0.0, 1.0 - dt / 1000))
    dt = (time.monotonic() - t0) * 1000
    if r is not None and r[0] != "garbage":
        say(400 <= r[0] < 500 and dt < 1100, "plain HTTP to the HTTPS port: an HTTP 4xx answer "
            "within 1 s", "HTTP %d after %.0f ms" % (r[0], dt))
    else:
        say(closed and dt < 1100, "plain HTTP to the HTTPS port: closed within 1 s",
            "%s after %.0f ms" % ("closed" if closed else "still open", dt))
    c.close()


def main():
    mode = sys.argv[1]
    if mode == "table":
        table(*sys.argv[2:6])
    elif mode == "keepalive":
        keepalive(*sys.argv[2:6])
    elif mode == "plain-to-tls":
        plain_to_tls(*sys.argv[2:4])
    else:
        sys.exit("usage: framing.py table|keepalive|plain-to-tls ...")


if __name__ == "__main__":
    main()
