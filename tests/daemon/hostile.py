#!/usr/bin/env python3
"""tests/daemon/hostile.py - hostile clients against a running connect-api,
and a normal client meanwhile (tests/daemon/test_hostile.sh). Python
standard library only; the helpers are tests/lib/hostile.py.

  hostile.py HOST PORT CAFILE|- GET-PATH POST-PATH
      CAFILE: HTTPS trusting that certificate; "-": plain HTTP.
      First HOSTILE_SLOWBODY (64) slow-body connections, then HOSTILE_IDLE
      (500) idle ones and HOSTILE_SLOWLORIS (500) slowloris ones (one byte
      every HOSTILE_TRICKLE, 5 s), all held open for the whole run (opened
      again when the server closes them; each close is counted). Once they
      are open (or after HOSTILE_OPEN_LIMIT, 15 s), two normal clients GET
      GET-PATH with the token for HOSTILE_SECONDS (12 s): one on a
      keep-alive connection, one on a fresh connection each time, a request
      every 50 ms each.

The token comes from the environment (OPC_TOKEN), never printed. The
result is one JSON object on stdout; the calling script judges it.
"""
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hostile  # noqa: E402


def env_num(name, default):
    v = os.environ.get(name, "")
    return float(v) if v else default


def main():
    host, port, cafile, get_path, post_path = sys.argv[1:6]
    counts = {"slowbody": int(env_num("HOSTILE_SLOWBODY", 64)),
              "idle": int(env_num("HOSTILE_IDLE", 500)),
              "slowloris": int(env_num("HOSTILE_SLOWLORIS", 500))}
    seconds = env_num("HOSTILE_SECONDS", 12)
    limit = hostile.raise_fd_limit(sum(counts.values()) * 2 + 256)
    target = hostile.Target(host, port, None if cafile == "-" else cafile)
    crowd = hostile.Crowd(target, counts, post_path=post_path,
                          trickle=env_num("HOSTILE_TRICKLE", 5.0))
    t0 = time.monotonic()
    crowd.start()
    open_s = crowd.wait_open(env_num("HOSTILE_OPEN_LIMIT", 15))
    at_start = crowd.snapshot()
    res = {}

    def run(name, fresh):
        lat, fails = hostile.probe(target, get_path, os.environ["OPC_TOKEN"], seconds, 0.05,
                                   fresh)
        res[name] = {"gets": len(lat) + len(fails), "ok": len(lat), "failed": len(fails),
                     "p50_ms": round(hostile.pct(lat, 50), 1),
                     "p99_ms": round(hostile.pct(lat, 99), 1),
                     "max_ms": round(max(lat), 1) if lat else None,
                     "failures": fails[:5]}

    threads = [threading.Thread(target=run, args=("keepalive", False)),
               threading.Thread(target=run, args=("fresh", True))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    during = crowd.snapshot()
    end = crowd.stop()
    out = {"fd_limit": limit, "open_seconds": round(open_s, 1),
           "open_at_start": {k: v["open"] for k, v in at_start.items()},
           "open_at_end": {k: v["open"] for k, v in during.items()},
           "hostile": end, "seconds": round(time.monotonic() - t0, 1)}
    out.update(res)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
