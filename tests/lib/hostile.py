"""tests/lib/hostile.py - hostile HTTP clients and a measuring client, for
tests/daemon/hostile.py and bench/http/run. Python standard library only.

  Target(host, port, cafile=None)     where to connect; with cafile, TLS
                                      trusting only that certificate
  Crowd(target, counts, ...)          hostile connections held open:
      "slowbody"  a POST without token, Content-Length: 100000, then one
                  body byte every `trickle` seconds
      "idle"      a TCP connection that never sends a byte (no TLS
                  handshake either)
      "slowloris" a request head sent one byte every `trickle` seconds,
                  never finished
    A connection the server closes is counted and opened again after
    `reopen` seconds; a connect that fails or times out is counted and
    retried. crowd.start(), crowd.wait_open(limit), crowd.stop() -> stats.
  probe(target, path, token, seconds, interval, fresh)
                                      GETs in a loop, on one keep-alive
                                      connection or a fresh one each time;
                                      returns latencies (ms) and failures
  raise_fd_limit(n)                   RLIMIT_NOFILE soft limit up to n
"""
import http.client
import queue
import random
import resource
import selectors
import socket
import ssl
import threading
import time

BODY_LEN = 100000


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft == resource.RLIM_INFINITY or soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Target:
    def __init__(self, host, port, cafile=None):
        self.host = host
        self.port = int(port)
        self.ctx = None
        if cafile:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.load_verify_locations(cafile=cafile)
            self.ctx.check_hostname = False  # the test's certificate, any address
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.hosthdr = "[%s]:%d" % (host, self.port) if ":" in host else "%s:%d" % (host, self.port)

    def connect(self, timeout, handshake=True):
        """A connected socket (TLS done when the target is TLS and handshake)."""
        s = socket.socket(self.family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((self.host, self.port))
            if self.ctx is not None and handshake:
                s = self.ctx.wrap_socket(s, server_hostname=None)
        except BaseException:
            s.close()
            raise
        return s

    def http(self, timeout):
        if self.ctx is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


class _Conn:
    __slots__ = ("sock", "kind", "data", "pos", "next_send", "answered")

    def __init__(self, sock, kind, data, first_send):
        self.sock = sock
        self.kind = kind
        self.data = data
        self.pos = 0
        self.next_send = first_send
        self.answered = False


class Crowd:
    KINDS = ("slowbody", "idle", "slowloris")

    def __init__(self, target, counts, post_path="/v1/vaults", trickle=5.0, reopen=1.0,
                 connect_timeout=3.0, openers=8):
        self.t = target
        self.counts = dict(counts)
        self.post_path = post_path
        self.trickle = dict(trickle) if isinstance(trickle, dict) else {
            k: float(trickle) for k in self.KINDS}
        self.reopen = reopen
        self.connect_timeout = connect_timeout
        self.nopeners = openers
        self.stats = {k: {"wanted": n, "open": 0, "opened": 0, "closed_by_server": 0,
                          "answers": 0, "connect_failures": 0, "send_errors": 0}
                      for k, n in self.counts.items()}
        self.lock = threading.Lock()
        self.todo = queue.Queue()
        self.fresh = []
        self.stopping = threading.Event()
        self.threads = []
        self.sel = selectors.DefaultSelector()
        self.conns = {}

    # ---- payloads ----
    def _payload(self, kind):
        if kind == "slowbody":
            head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n" % (self.post_path, self.t.hosthdr, BODY_LEN))
            return head.encode(), b"{" + b" " * (BODY_LEN - 1)
        if kind == "slowloris":
            head = "GET /v1/vaults HTTP/1.1\r\nHost: %s\r\n" % self.t.hosthdr
            head += "".join("X-Slow-%d: %s\r\n" % (i, "a" * 20) for i in range(200))
            return b"", head.encode()
        return b"", b""

    # ---- opening ----
    def _opener(self):
        while not self.stopping.is_set():
            try:
                kind, due = self.todo.get(timeout=0.2)
            except queue.Empty:
                continue
            wait = due - time.monotonic()
            if wait > 0 and self.stopping.wait(wait):
                return
            try:
                s = self.t.connect(self.connect_timeout, handshake=(kind != "idle"))
                head, data = self._payload(kind)
                if head:
                    s.sendall(head)
                s.setblocking(False)
            except (OSError, ssl.SSLError):
                with self.lock:
                    self.stats[kind]["connect_failures"] += 1
                self.todo.put((kind, time.monotonic() + self.reopen))
                continue
            first = time.monotonic() + random.uniform(0, self.trickle[kind])
            with self.lock:
                self.fresh.append(_Conn(s, kind, data, first))
                self.stats[kind]["opened"] += 1
                self.stats[kind]["open"] += 1

    def _drop(self, c, by_server):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        self.conns.pop(c.sock.fileno(), None)
        try:
            c.sock.close()
        except OSError:
            pass
        with self.lock:
            self.stats[c.kind]["open"] -= 1
            if by_server:
                self.stats[c.kind]["closed_by_server"] += 1
        if by_server and not self.stopping.is_set():
            self.todo.put((c.kind, time.monotonic() + self.reopen))

    def _loop(self):
        while not self.stopping.is_set():
            with self.lock:
                fresh, self.fresh = self.fresh, []
            for c in fresh:
                self.conns[c.sock.fileno()] = c
                self.sel.register(c.sock, selectors.EVENT_READ, c)
            for key, _ in self.sel.select(timeout=0.1):
                c = key.data
                try:
                    got = c.sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    continue
                except (OSError, ssl.SSLError):
                    got = b""
                if not got:
                    self._drop(c, True)
                elif not c.answered:
                    c.answered = True
                    with self.lock:
                        self.stats[c.kind]["answers"] += 1
            now = time.monotonic()
            for c in list(self.conns.values()):
                if c.pos >= len(c.data) or c.next_send > now:
                    continue
                try:
                    c.pos += c.sock.send(c.data[c.pos:c.pos + 1])
                    c.next_send = now + self.trickle[c.kind]
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    c.next_send = now + 0.1
                except (OSError, ssl.SSLError):
                    with self.lock:
                        self.stats[c.kind]["send_errors"] += 1
                    self._drop(c, True)

    def start(self):
        for kind in self.KINDS:
            for _ in range(self.counts.get(kind, 0)):
                self.todo.put((kind, 0.0))
        self.threads = [threading.Thread(target=self._loop, daemon=True)]
        self.threads += [threading.Thread(target=self._opener, daemon=True)
                         for _ in range(self.nopeners)]
        for th in self.threads:
            th.start()

    def opened(self):
        with self.lock:
            return sum(s["open"] for s in self.stats.values())

    def wait_open(self, limit_s):
        """Until every connection is open, or limit_s; the seconds it took."""
        t0 = time.monotonic()
        want = sum(self.counts.values())
        while time.monotonic() - t0 < limit_s and self.opened() < want:
            time.sleep(0.05)
        return time.monotonic() - t0

    def snapshot(self):
        with self.lock:
            return {k: dict(v) for k, v in self.stats.items()}

    def stop(self):
        self.stopping.set()
        for th in self.threads:
            th.join(timeout=10)
        for c in list(self.conns.values()):
            self._drop(c, False)
        with self.lock:
            for c in self.fresh:
                c.sock.close()
            self.fresh = []
        self.sel.close()
        return self.snapshot()


def probe(target, path, token, seconds, interval, fresh, timeout=5.0, stop=None):
    """GET path every `interval` s for `seconds` s. Returns (latencies_ms,
    failures): a failure is an exception, a timeout or a status not 200.
    On a keep-alive connection (fresh False) a server-side close is a
    failure too, except after a response that said Connection: close."""
    lat, fails = [], []
    headers = {"Authorization": "Bearer " + token} if token else {}
    conn = None
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end and not (stop is not None and stop.is_set()):
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = target.http(timeout)
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            r.read()
            dt = (time.monotonic() - t0) * 1000
            if r.status != 200:
                fails.append("HTTP %d after %.0f ms" % (r.status, dt))
            else:
                lat.append(dt)
            if fresh or (r.getheader("Connection") or "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            fails.append("%s after %.0f ms" % (type(e).__name__ + (": %s" % e if str(e) else ""),
                                               (time.monotonic() - t0) * 1000))
            if conn is not None:
                conn.close()
            conn = None
        left = interval - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)
    if conn is not None:
        conn.close()
    return lat, fails


def pct(values, p):
    """The nearest-rank percentile p (0-100) of values; nan when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]
