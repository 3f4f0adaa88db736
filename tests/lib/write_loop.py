"""tests/lib/write_loop.py PORTS TOKEN VAULT STOP CLIENTS PAUSE - a write
loop through connect-api (tests/daemon/test_failover.sh, test_pg_ha.sh):
CLIENTS threads POST login items titled w-<client>-<n>, client k to the
k-th port of the comma list PORTS (round robin), each on a keep-alive
connection made again after a failure, PAUSE seconds apart, until the file
STOP exists. One line per write: "<Unix ms> <client> <n> <status> <id>"
(status 0: no answer; id "-" unless 200)."""
import http.client
import json
import os
import sys
import threading
import time

ports = [int(p) for p in sys.argv[1].split(",")]
tok, vault, stop = sys.argv[2], sys.argv[3], sys.argv[4]
clients, pause = int(sys.argv[5]), float(sys.argv[6])
lock = threading.Lock()


def client(k):
    port, n, c = ports[k % len(ports)], 0, None
    while not os.path.exists(stop):
        n += 1
        body = json.dumps({"title": f"w-{k}-{n}", "category": "LOGIN",
                           "fields": [{"id": "password", "type": "CONCEALED",
                                       "purpose": "PASSWORD", "value": f"pw-{k}-{n}"}]})
        status, iid = 0, "-"
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", f"/v1/vaults/{vault}/items", body,
                      {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            status = r.status
            if status == 200:
                iid = json.loads(data)["id"]
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                c = None
        except (OSError, http.client.HTTPException, ValueError):
            if c is not None:
                c.close()
            c = None
        with lock:
            print(f"{time.time() * 1000:.0f} {k} {n} {status} {iid}", flush=True)
        time.sleep(pause)


threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
