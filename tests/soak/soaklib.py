"""tests/soak/soaklib.py - what the soak proofs share (tests/soak/kill_sync,
tests/soak/load, tests/soak/disk_full; `make soak`, docs/testing.md "Soak").

  knob(name, default)           a whole-number environment knob (0 allowed)
  Soak(prog, BUILDDIR)          a bench/lib/opcbench.py Deployment (connect-sync
                                and connect-api over a fresh account in a
                                temporary directory, processes stopped by PID)
                                plus the helpers below
  s.items_via_api(vault)        {id: version} of a vault as connect-api lists it
  s.items_via_op(vault)         {id: version} as the owner's `op item list` sees it
  integrity(path, scratch)      "ok" or SQLite's complaints, on a copy of the
                                database and its WAL (the file is not touched)
  corrupt_copy(path)            overwrite a page of a copy (the negative control)
  rss_kib(pid)                  VmRSS of a process
  verdict(prog, ok, figures)    the last line: "soak: PROG PASS|FAIL figures"

Every proof prints its progress on stdout and ends with the verdict line,
which tests/soak/run collects; the exit status is 0 on PASS, 1 on FAIL.
SOAK_NEGATIVE names a planted fault for a proof's negative control (each
proof documents its own); a proof run so must end FAIL.
"""
import http.client
import json
import os
import shutil
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "lib"))
import opcbench  # noqa: E402
from opcbench import rss_kib  # noqa: E402,F401

NEGATIVE = os.environ.get("SOAK_NEGATIVE", "")


def knob(prog, name, default):
    v = os.environ.get(name, "")
    if v == "":
        return default
    if not v.isdigit():
        sys.exit(f"{prog}: {name}={v!r} is not a whole number")
    return int(v)


def say(text):
    print(text, flush=True)


def verdict(prog, ok, figures):
    say(f"soak: {prog} {'PASS' if ok else 'FAIL'} {figures}")
    return 0 if ok else 1


def integrity(path, scratch):
    """PRAGMA integrity_check on a copy of path (and its -wal, as left on
    disk), so that the check neither recovers nor checkpoints the file the
    daemons use. "ok", or the first complaints."""
    os.makedirs(scratch, exist_ok=True)
    copy = os.path.join(scratch, "check.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.unlink(copy + suffix)
    if not os.path.exists(path):
        return "missing"
    shutil.copyfile(path, copy)
    if os.path.exists(path + "-wal"):
        shutil.copyfile(path + "-wal", copy + "-wal")
    if NEGATIVE == "corrupt":
        corrupt_copy(copy)
    try:
        db = sqlite3.connect(copy, isolation_level=None)
        rows = [r[0] for r in db.execute("PRAGMA integrity_check(20)")]
        db.close()
    except sqlite3.DatabaseError as e:
        return f"not a database: {e}"
    return "ok" if rows == ["ok"] else "; ".join(rows)[:400]


def corrupt_copy(copy):
    """The negative control: checkpoint the copy, then overwrite the middle
    of its second page (a b-tree page of the schema's first table)."""
    db = sqlite3.connect(copy, isolation_level=None)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(copy, "r+b") as f:
        f.seek(page + 8)
        f.write(b"\xff" * 64)


class Soak(opcbench.Deployment):
    def __init__(self, prog, build):
        super().__init__(prog, build)
        self.CACHE = f"{self.CACHE_DIR}/1password.sqlite"
        self.token = None

    def api_get(self, path, timeout=60):
        return opcbench.http_get(self.API_PORT, path,
                                 {"Authorization": f"Bearer {self.token}"}, timeout)

    def items_via_api(self, vault):
        st, body = self.api_get(f"/v1/vaults/{vault}/items")
        if st != 200:
            raise RuntimeError(f"GET items of vault {vault}: HTTP {st}")
        return {i["id"]: i["version"] for i in json.loads(body)}

    def items_via_op(self, vault):
        out = self.op("item", "list", "--vault", vault, "--format", "json")
        return {i["id"]: i["version"] for i in json.loads(out)}

    def start_sync_only(self):
        self.start_sync()
        self.wait_until("connect-sync answering /heartbeat",
                        lambda: opcbench.http_get(self.SYNC_PORT, "/heartbeat", timeout=2)[0] == 200,
                        10)

    def pid(self, name):
        p = self.procs.get(name)
        return p.pid if p is not None and p.poll() is None else None


def diff_items(want, got, limit=5):
    """A short description of how got differs from want ({id: version})."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    stale = sorted(i for i in set(want) & set(got) if want[i] != got[i])
    out = []
    if missing:
        out.append(f"{len(missing)} missing ({', '.join(missing[:limit])})")
    if extra:
        out.append(f"{len(extra)} extra ({', '.join(extra[:limit])})")
    if stale:
        out.append(f"{len(stale)} at another version (" +
                   ", ".join(f"{i} v{got[i]} want v{want[i]}" for i in stale[:limit]) + ")")
    return "; ".join(out) or "equal"


def conn(port, timeout=30):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def now():
    return time.monotonic()
