#!/usr/bin/python3
"""tests/unit/prom_check.py FILE - parse a Prometheus text exposition with
prometheus_client's own parser (Debian: python3-prometheus-client) and check
what the parser does not: every family has HELP and TYPE; histogram buckets
are cumulative with increasing bounds and end at +Inf, which equals _count;
counters are not negative. Exit 0 when valid, 1 when not, 77 when the
parser is not installed (test_metrics skips then)."""
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit(77)


def fail(msg):
    print("prom_check: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        fail("parser rejected the text: %r" % (e,))
    if not families:
        fail("no metric families")
    samples = 0
    for fam in families:
        if not fam.documentation:
            fail("%s has no HELP" % fam.name)
        if fam.type not in ("counter", "gauge", "histogram"):
            fail("%s has type %s" % (fam.name, fam.type))
        series = {}
        for s in fam.samples:
            samples += 1
            if fam.type == "counter" and (math.isnan(s.value) or s.value < 0):
                fail("counter %s is %r" % (s.name, s.value))
            if fam.type != "histogram":
                continue
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            g = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
            if s.name.endswith("_bucket"):
                g["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                g["count"] = s.value
            elif s.name.endswith("_sum"):
                g["sum"] = s.value
            else:
                fail("unexpected histogram sample %s" % s.name)
        for key, g in series.items():
            b = g["buckets"]
            if not b or b[-1][0] != math.inf:
                fail("%s%r has no +Inf bucket" % (fam.name, key))
            for (le0, c0), (le1, c1) in zip(b, b[1:]):
                if not le1 > le0 or c1 < c0:
                    fail("%s%r buckets not cumulative/increasing" % (fam.name, key))
            if g["count"] is None or g["sum"] is None or g["count"] != b[-1][1]:
                fail("%s%r: _count/_sum missing or +Inf != _count" % (fam.name, key))
    print("prom_check: %d families, %d samples parsed by prometheus_client" %
          (len(families), samples))


main()
