#!/usr/bin/env python3
"""tests/daemon/concurrency.py - concurrent clients against a running
connect-api (issue 5, "Must show" 2 and 3). Python standard library only.

  concurrency.py ryw PORT VAULT CLIENTS PAIRS
      CLIENTS threads share PAIRS create->get pairs: each POSTs a new item
      and at once GETs it; a miss is a GET that is not 200 or whose body
      differs from the POST's answer.
  concurrency.py race PORT VAULT CLIENTS ROUNDS ITEM
      CLIENTS threads each do ROUNDS read-modify-write cycles on one item:
      GET it, PUT it back retitled and with a new field value, carrying
      the "version" it read. Every answer must be 200 or 409.

The token is read from the environment (OPC_TOKEN), never printed. The
result is one JSON object on stdout; the calling shell script checks it.
"""
import http.client
import json
import os
import sys
import threading
import time

TOKEN = os.environ["OPC_TOKEN"]


class Client:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                t0 = time.monotonic()
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                dt = time.monotonic() - t0
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, raw, dt
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A keep-alive connection the server had closed: one retry
                # on a new connection (never after a response was read).
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def run_clients(worker, clients):
    """worker(k) in `clients` threads at once; the seconds they took."""
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(time.monotonic() - t0, 2)


def comparable(item):
    """An item without the members that may differ between two reads of the
    same version (an OTP code changes with time)."""
    for f in item.get("fields", []):
        f.pop("totp", None)
    return item


def ryw(port, vault, clients, pairs):
    lock = threading.Lock()
    res = {"mode": "ryw", "clients": clients, "pairs": 0, "misses": 0, "post_errors": 0,
           "examples": [], "post_ms": [], "get_ms": []}
    counter = [0]

    def worker(k):
        c = Client(port)
        while True:
            with lock:
                if counter[0] >= pairs:
                    return
                n = counter[0]
                counter[0] += 1
            marker = "ryw-%d-%d" % (k, n)
            body = {"vault": {"id": vault}, "category": "LOGIN", "title": marker,
                    "tags": ["ryw", "c%d" % k],
                    "fields": [{"id": "username", "value": marker},
                               {"id": "password", "generate": True,
                                "recipe": {"length": 20}}]}
            st, raw, dt_post = c.call("POST", "/v1/vaults/%s/items" % vault, body)
            if st != 200:
                with lock:
                    res["post_errors"] += 1
                    if len(res["examples"]) < 5:
                        res["examples"].append("POST %s: HTTP %d %s" % (marker, st, raw[:200]))
                continue
            created = json.loads(raw)
            st2, raw2, dt_get = c.call("GET", "/v1/vaults/%s/items/%s" % (vault, created["id"]))
            ok = st2 == 200 and comparable(json.loads(raw2)) == comparable(created)
            with lock:
                res["pairs"] += 1
                res["post_ms"].append(dt_post * 1000)
                res["get_ms"].append(dt_get * 1000)
                if not ok:
                    res["misses"] += 1
                    if len(res["examples"]) < 5:
                        res["examples"].append("GET %s: HTTP %d" % (created["id"], st2))

    res["seconds"] = run_clients(worker, clients)
    for key in ("post_ms", "get_ms"):
        v = res.pop(key)
        res[key.replace("_ms", "_p50_ms")] = round(pct(v, 50), 1)
        res[key.replace("_ms", "_p99_ms")] = round(pct(v, 99), 1)
    return res


def race(port, vault, clients, rounds, item):
    lock = threading.Lock()
    path = "/v1/vaults/%s/items/%s" % (vault, item)
    st, raw, _ = Client(port).call("GET", path)
    if st != 200:
        return {"mode": "race", "error": "initial GET: HTTP %d" % st}
    start_version = json.loads(raw)["version"]
    res = {"mode": "race", "clients": clients, "rounds": rounds, "start_version": start_version,
           "ok": 0, "conflict": 0, "other": 0, "examples": [], "versions": []}
    wins = []  # the answers of the successful PUTs

    def worker(k):
        c = Client(port)
        for n in range(rounds):
            st, raw, _ = c.call("GET", path)
            if st != 200:
                with lock:
                    res["other"] += 1
                    res["examples"].append("GET: HTTP %d" % st)
                continue
            it = json.loads(raw)
            it["title"] = "race-%d-%d" % (k, n)
            for f in it["fields"]:
                if f.get("id") == "notesPlain":
                    f["value"] = "written by client %d, round %d" % (k, n)
            st, raw, _ = c.call("PUT", path, it)
            with lock:
                if st == 200:
                    res["ok"] += 1
                    ans = json.loads(raw)
                    res["versions"].append(ans["version"])
                    wins.append(ans)
                elif st == 409:
                    body = json.loads(raw)
                    if body.get("status") == 409 and body.get("message"):
                        res["conflict"] += 1
                    else:
                        res["other"] += 1
                        res["examples"].append("409 without a JSON body")
                else:
                    res["other"] += 1
                    if len(res["examples"]) < 5:
                        res["examples"].append("PUT: HTTP %d %s" % (st, raw[:200]))

    res["seconds"] = run_clients(worker, clients)
    st, raw, _ = Client(port).call("GET", path)
    final = comparable(json.loads(raw)) if st == 200 else {}
    res["final_version"] = final.get("version")
    res["final_is_a_win"] = any(comparable(w) == final for w in wins)
    res["versions"].sort()
    res["versions_consecutive"] = res["versions"] == list(
        range(start_version + 1, start_version + 1 + len(res["versions"])))
    res.pop("versions")
    return res


def main():
    mode, port, vault, clients, n = sys.argv[1:6]
    if mode == "ryw":
        out = ryw(int(port), vault, int(clients), int(n))
    else:
        out = race(int(port), vault, int(clients), int(n), sys.argv[6])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
