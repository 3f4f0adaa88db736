#!/usr/bin/env python3
"""tests/lib/item_load.py - writers (and readers) through connect-api's item
API for the PostgreSQL daemon tests (test_pg_feed.sh, test_pg_restart.sh).

    item_load.py PORT VAULTS STOPFILE CLIENTS PREFIX MODE OUT
        (the bearer token in OPC_TOKEN, not on the command line)

CLIENTS threads, each on its own connections (one per request, so a request
is never resent), until STOPFILE exists. VAULTS is a comma-separated list of
vault ids; client k writes in vault k mod len(VAULTS).

MODE mix: each round POSTs an item titled PREFIX-k-n, PATCHes its title to
PREFIX-k-n-p, and DELETEs every third one (the feed sees item_upsert twice
and item_delete).
MODE create: each round POSTs one item titled PREFIX-k-n, then GETs the
vault's item list and the item made last (reads while writing); a GET
answering 200 with another title is recorded as status 999.

Every request is one line of OUT, flushed:
    <unix ms> <client> <method> <status> <title or -> <item id or -> <version or -> <start ms>
(the first field when the answer came, the last when the request was sent).
status 0 is a transport failure (no answer). The last line of stdout is a
JSON summary: counts by method and status, seconds run.
"""
import http.client
import json
import os
import sys
import threading
import time

PORT = int(sys.argv[1])
VAULTS = sys.argv[2].split(",")
STOP = sys.argv[3]
CLIENTS = int(sys.argv[4])
PREFIX = sys.argv[5]
MODE = sys.argv[6]
OUT = open(sys.argv[7], "w", buffering=1)
TOKEN = os.environ["OPC_TOKEN"]
LOCK = threading.Lock()
COUNTS = {}


def now_ms():
    return int(time.time() * 1000)


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            j = json.loads(raw) if raw else None
        except ValueError:
            j = None
        return resp.status, j
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


def record(k, method, status, title, j, t0):
    iid = j.get("id", "-") if isinstance(j, dict) else "-"
    ver = j.get("version", "-") if isinstance(j, dict) else "-"
    with LOCK:
        key = "%s %d" % (method, status)
        COUNTS[key] = COUNTS.get(key, 0) + 1
        OUT.write("%d %d %s %d %s %s %s %d\n" % (time.time() * 1000, k, method, status,
                                                 title or "-", iid, ver, t0))


def client(k):
    vault = VAULTS[k % len(VAULTS)]
    base = "/v1/vaults/%s/items" % vault
    n = 0
    while not os.path.exists(STOP):
        n += 1
        title = "%s-%d-%d" % (PREFIX, k, n)
        body = {"title": title, "category": "LOGIN",
                "fields": [{"id": "password", "type": "CONCEALED", "purpose": "PASSWORD",
                            "value": "pw-%s" % title}]}
        t0 = now_ms()
        st, j = call("POST", base, body)
        record(k, "POST", st, title, j, t0)
        if st != 200 or not isinstance(j, dict):
            time.sleep(0.05)
            continue
        iid = j["id"]
        if MODE == "mix":
            t0 = now_ms()
            st, j = call("PATCH", "%s/%s" % (base, iid),
                         [{"op": "replace", "path": "/title", "value": title + "-p"}])
            record(k, "PATCH", st, title + "-p", j, t0)
            if n % 3 == 0:
                t0 = now_ms()
                st, _ = call("DELETE", "%s/%s" % (base, iid))
                record(k, "DELETE", st, title, {"id": iid}, t0)
        else:
            t0 = now_ms()
            st, j = call("GET", base)
            record(k, "LIST", st, None, None, t0)
            t0 = now_ms()
            st, j = call("GET", "%s/%s" % (base, iid))
            if st == 200 and not (isinstance(j, dict) and j.get("title") == title):
                st = 999  # a wrong answer
            record(k, "GET", st, title, j, t0)


t0 = time.monotonic()
threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"counts": COUNTS, "seconds": round(time.monotonic() - t0, 1)}))
