"""bench/lib/opcbench.py - what the Python benchmarks share (bench/deployed/run,
bench/http/run): a deployment of connect-sync + connect-api over a fresh
account in a temporary directory, an nginx serving the same bytes, wrk and
its figures, and the formatting of the tables.

  d = Deployment("bench/x", BUILDDIR)   checks the tools and binaries, makes
                                       d.T (removed by d.cleanup()), d.ENV
  d.account(password, vault_names)      the owner's account; the vault ids
  d.populate(vault, n)                  n login items (BUILDDIR/bench/deployed/
                                       populate); its rate line
  d.server_and_token(vault_ids)         a Connect server "bench" and its token
  d.start_sync() / d.sync_done() / d.start_api(extra_env)
  d.copy_bodies(port, paths, headers)   GET each path, written under d.T/www
  d.start_nginx(port)                   nginx serving d.T/www on 127.0.0.1
  d.stop(name), d.cleanup()             processes stopped by PID
  wrk(url, token, conns, threads, secs, ...) -> {rps, p50, p99, reqs, bad}

Every server listens on a free 127.0.0.1 port. Not a test: never part of
`make check`.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def env_int(prog, name, default):
    v = os.environ.get(name, "")
    if v == "":
        return default
    if not v.isdigit() or int(v) < 1:
        sys.exit(f"{prog}: {name}={v!r} is not a positive whole number")
    return int(v)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def git(*args):
    try:
        return subprocess.run(["git", "-C", SRC, *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def commit_line():
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" (+ uncommitted changes)" if dirty else "")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    s = sorted(xs)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nginx_version():
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return out.split("/")[-1]


# ---- wrk ----
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def wrk(url, token, conns, threads, secs, script=None, script_args=(), timeout="2s"):
    threads = min(threads, conns)
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--timeout", timeout,
           "--latency", "-H", f"Authorization: Bearer {token}"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    res = {"rps": float("nan"), "p50": float("nan"), "p99": float("nan"), "reqs": 0, "bad": ""}
    for line in out.splitlines():
        f = line.split()
        if line.startswith("Requests/sec:"):
            res["rps"] = float(f[1])
        elif len(f) == 2 and f[0] == "50%":
            res["p50"] = to_ms(f[1])
        elif len(f) == 2 and f[0] == "99%":
            res["p99"] = to_ms(f[1])
        elif " requests in " in line:
            res["reqs"] = int(f[0])
        elif "Non-2xx" in line or "Socket errors" in line:
            res["bad"] += line.strip() + " "
    return res


def fmt_ms(v):
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    return f"{v:.2f} ms" if v < 100 else f"{v:.0f} ms"


def fmt_rps(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


class Deployment:
    def __init__(self, prog, build):
        self.prog = prog
        self.build = os.path.abspath(build)
        self.OP = os.path.join(self.build, "op")
        self.SYNC = os.path.join(self.build, "connect-sync")
        self.API = os.path.join(self.build, "connect-api")
        self.POPULATE = os.path.join(self.build, "bench", "deployed", "populate")
        for tool in ("wrk", "nginx"):
            if shutil.which(tool) is None:
                sys.exit(f"{prog}: {tool} not found")
        for binary in (self.OP, self.SYNC, self.API, self.POPULATE):
            if not os.access(binary, os.X_OK):
                sys.exit(f"{prog}: {binary} missing (make all {self.POPULATE})")
        name = prog.replace("/", "-")
        self.T = tempfile.mkdtemp(prefix=f"opc-{name}.", dir=os.environ.get("TMPDIR", "/tmp"))
        self.procs = {}  # name -> Popen, stopped by PID on exit
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # the account, the CLI, the daemons all under T
        self.ENV = {k: v for k, v in os.environ.items() if not k.startswith("OP_")}
        for d in ("home", "data", "config", "run", "work", "www", "nginx-tmp"):
            os.makedirs(os.path.join(self.T, d), mode=0o700, exist_ok=True)
        self.ENV.update(HOME=f"{self.T}/home", XDG_DATA_HOME=f"{self.T}/data",
                        XDG_CONFIG_HOME=f"{self.T}/config", XDG_RUNTIME_DIR=f"{self.T}/run")
        self.ACCOUNT_DB = f"{self.T}/data/opconnect/account.db"
        self.CACHE_DIR = f"{self.T}/data/.op/data"
        self.SYNC_PORT = free_port()
        self.API_PORT = free_port()
        while self.API_PORT == self.SYNC_PORT:
            self.API_PORT = free_port()
        self.NGX_PORT = 0

    @staticmethod
    def _on_signal(signum, frame):
        raise SystemExit(130)

    def stop(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def cleanup(self):
        for name in list(self.procs):
            self.stop(name, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        shutil.rmtree(self.T, ignore_errors=True)

    def op(self, *args, stdin=None, extra=None, cwd=None):
        env = dict(self.ENV, **(extra or {}))
        r = subprocess.run([self.OP, *args], input=stdin, capture_output=True, text=True, env=env,
                           cwd=cwd, start_new_session=True)
        if r.returncode != 0:
            raise SystemExit(f"{self.prog}: op {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def wait_until(self, what, fn, limit_s, interval=0.01):
        t_end = time.monotonic() + limit_s
        while time.monotonic() < t_end:
            try:
                if fn():
                    return
            except OSError:
                pass
            time.sleep(interval)
        raise SystemExit(f"{self.prog}: {what} did not happen within {limit_s} s")

    # ---- the account ----
    def account(self, password, vault_names):
        self.op("account", "create", "--email", "owner@example.com", "--password-stdin",
                stdin=password + "\n")
        signin = self.op("signin", "--raw", "--ttl", "2h", extra={"OP_PASSWORD": password})
        self.ENV["OP_SESSION_TOKEN"] = signin.strip().splitlines()[-1]
        return [json.loads(self.op("vault", "create", n, "--format", "json"))["id"]
                for n in vault_names]

    def populate(self, vault, n):
        r = subprocess.run([self.POPULATE, "create", self.ACCOUNT_DB, vault, str(n)],
                           env=self.ENV, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{self.prog}: populate: {r.stderr.strip()}")
        return r.stderr.strip()

    def server_and_token(self, vault_ids):
        vaults = ",".join(vault_ids)
        self.op("connect", "server", "create", "bench", "--vaults", vaults, cwd=f"{self.T}/work")
        return self.op("connect", "token", "create", "bench", "--server", "bench", "--vaults",
                       vaults).strip().splitlines()[-1]

    # ---- the daemons ----
    def daemon_env(self, port, extra=None):
        return dict(self.ENV, OP_SESSION=f"{self.T}/work/1password-credentials.json",
                    OP_HTTP_PORT=str(port), OP_BIND_ADDRESS="127.0.0.1", **(extra or {}))

    def start_sync(self):
        out = open(f"{self.T}/sync.log", "ab")
        self.procs["sync"] = subprocess.Popen([self.SYNC], env=self.daemon_env(self.SYNC_PORT),
                                              stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        out.close()

    def sync_done(self):
        st, body = http_get(self.SYNC_PORT, "/health", timeout=2)
        if st != 200:
            return False
        deps = json.loads(body).get("dependencies", [])
        return any(d.get("service") == "account_data" and d.get("status") == "ACTIVE"
                   for d in deps)

    def start_api(self, extra_env=None):
        out = open(f"{self.T}/api.log", "ab")
        self.procs["api"] = subprocess.Popen([self.API],
                                             env=self.daemon_env(self.API_PORT, extra_env),
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        out.close()
        self.wait_until("connect-api answering /heartbeat",
                        lambda: http_get(self.API_PORT, "/heartbeat", timeout=2)[0] == 200, 10)

    # ---- nginx and the bytes it serves ----
    def copy_bodies(self, paths, headers):
        """GET each path from connect-api (one keep-alive connection, opened
        again when the server closes it) into T/www at the same path; the
        body sizes."""
        c = http.client.HTTPConnection("127.0.0.1", self.API_PORT, timeout=30)
        sizes = []
        for p in paths:
            for attempt in (1, 2):  # connect-api may close an idle keep-alive connection
                try:
                    c.request("GET", p, headers=headers)
                    resp = c.getresponse()
                    body = resp.read()
                    break
                except (http.client.HTTPException, OSError):
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", self.API_PORT, timeout=30)
            if resp.status != 200:
                raise SystemExit(f"{self.prog}: GET {p}: HTTP {resp.status}")
            sizes.append(len(body))
            os.makedirs(os.path.dirname(f"{self.T}/www{p}"), exist_ok=True)
            with open(f"{self.T}/www{p}", "wb") as f:
                f.write(body)
        c.close()
        return sizes

    def start_nginx(self, probe_path, tls=None):
        """tls: (cert, key) to serve HTTPS too, on self.NGX_TLS_PORT."""
        self.NGX_PORT = free_port()
        user_line = "user root;" if os.getuid() == 0 else ""
        extra = ""
        if tls is not None:
            self.NGX_TLS_PORT = free_port()
            extra = (f"server {{ listen 127.0.0.1:{self.NGX_TLS_PORT} ssl; root {self.T}/www; "
                     f"ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]}; }}")
        with open(f"{self.T}/nginx.conf", "w") as f:
            f.write(NGINX_CONF.format(user=user_line, T=self.T, port=self.NGX_PORT, extra=extra))
        self.procs["nginx"] = subprocess.Popen(
            ["nginx", "-e", f"{self.T}/nginx-error.log", "-p", self.T, "-c",
             f"{self.T}/nginx.conf"], stdin=subprocess.DEVNULL)
        self.wait_until("nginx answering",
                        lambda: http_get(self.NGX_PORT, probe_path)[0] == 200, 10)


RR_LUA = """-- Round-robin GETs over the paths listed in the file named by the first
-- script argument; each wrk thread starts at its own offset.
local paths = {}
local i = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = ((tid or 0) * 7919) % #paths
end
function request()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
"""

NGINX_CONF = """{user}
worker_processes 2;
daemon off;
master_process on;
pid {T}/nginx.pid;
error_log {T}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 65; keepalive_requests 1000000;
    open_file_cache max=20000 inactive=120s;
    client_body_temp_path {T}/nginx-tmp/body; proxy_temp_path {T}/nginx-tmp/proxy;
    fastcgi_temp_path {T}/nginx-tmp/fastcgi; uwsgi_temp_path {T}/nginx-tmp/uwsgi;
    scgi_temp_path {T}/nginx-tmp/scgi;
    default_type application/json;
    server {{ listen 127.0.0.1:{port}; root {T}/www; }}
    {extra}
}}
"""
