#!/usr/bin/env python3
"""tests/tls/client.py - TLS client for tests/tls/run.

  probe ADDR PORT SNI CAFILE PATH [TOKEN]
      one new connection that trusts CAFILE only (no system roots) and
      sends SNI; prints "serial=<hex> status=<code> proto=<TLS version>
      body=<first 200 bytes>"; exit 1 when the handshake or request fails.
  keepalive ADDR PORT SNI CAFILE PATH STOPFILE READYFILE
      one connection, kept: a request every 0.25 s on the same socket
      until STOPFILE exists; writes the serial to READYFILE after the first
      answer; prints "serial=<hex> ok=<n> fail=<n>" (fail counts errors
      and a closed connection, after which it stops).
"""
import os
import socket
import ssl
import sys
import time


def connect(addr, port, sni, cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)  # the only trust anchor
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    raw = socket.create_connection((addr, int(port)), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=sni)


def serial_of(s):
    der = s.getpeercert(binary_form=True)
    # Parse the serial out of the DER without extra modules: take it from
    # the decoded form when available.
    info = s.getpeercert()
    if info and "serialNumber" in info:
        return info["serialNumber"].lower().lstrip("0") or "0"
    return "der%d" % len(der)


def request(s, sni, path, token=None, keep=True):
    hdr = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (path, sni)
    if token:
        hdr += "Authorization: Bearer %s\r\n" % token
    hdr += "Connection: %s\r\n\r\n" % ("keep-alive" if keep else "close")
    s.sendall(hdr.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk
    return status, body[:length]


def probe(addr, port, sni, cafile, path, token=None):
    s = connect(addr, port, sni, cafile)
    status, body = request(s, sni, path, token, keep=False)
    print("serial=%s status=%d proto=%s body=%s" % (serial_of(s), status, s.version(),
                                                    body[:200].decode("utf-8", "replace")))
    s.close()
    return 0


def keepalive(addr, port, sni, cafile, path, stopfile, readyfile):
    s = connect(addr, port, sni, cafile)
    serial = serial_of(s)
    ok = fail = 0
    while not os.path.exists(stopfile):
        try:
            status, _ = request(s, sni, path)
            if status == 200:
                ok += 1
            else:
                fail += 1
        except (OSError, ConnectionError, ValueError) as e:
            fail += 1
            print("error: %s" % e, file=sys.stderr)
            break
        if ok == 1 and not os.path.exists(readyfile):
            with open(readyfile, "w") as f:
                f.write(serial + "\n")
        time.sleep(0.25)
    print("serial=%s ok=%d fail=%d" % (serial, ok, fail))
    return 0


def main(argv):
    if len(argv) >= 6 and argv[1] == "probe":
        try:
            return probe(*argv[2:8])
        except (OSError, ConnectionError, ValueError) as e:
            print("probe failed: %s" % e)
            return 1
    if len(argv) == 9 and argv[1] == "keepalive":
        return keepalive(*argv[2:9])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
