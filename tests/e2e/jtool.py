#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Small JSON helpers for the shell tests (no jq on a fresh machine).

    jtool.py get FILE EXPR          print eval(EXPR) with d = the JSON document
    jtool.py subsets FILE           client.py output folded by subset:
                                    "v1=N v2=N fail=N" (backend v1a -> subset v1)
    jtool.py share FILE SUBSET      percent of ok responses from SUBSET (2 decimals)
    jtool.py has-service FILE SVC   exit 0 if `sluice -j status` lists SVC
    jtool.py weights FILE SVC       "v1=90 v2=10" from `sluice -j status`
    jtool.py counter FILE SVC SUBSET FIELD
                                    one counter of one subset (0 if absent)
    jtool.py metrics-l7 METRICS STATUS
                                    the L7 step's counters and the datapath
                                    events of /metrics (text format) against
                                    `sluice -j status`: "N equal", or the
                                    differences and exit 1
    jtool.py table FILE [FILE_BEFORE]
                                    human table of `sluice -j status` counters,
                                    as deltas when FILE_BEFORE is given
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def subset_of(backend):
    # Backends are named after their subset plus a letter: v1a, v1b -> v1.
    return backend.rstrip("abcdefgh") or backend


def fold(d):
    out = {}
    for name, n in d.get("by_backend", {}).items():
        s = subset_of(name)
        out[s] = out.get(s, 0) + n
    return out


def service(st, name):
    for svc in st.get("services", []):
        if svc.get("name") == name:
            return svc
    return None


def subset(st, svc_name, sub_name):
    svc = service(st, svc_name)
    for sub in (svc or {}).get("subsets", []):
        if sub.get("name") == sub_name:
            return sub
    return None


COUNTERS = ("connections_opened", "connections_closed", "packets_in", "bytes_in",
            "packets_out", "bytes_out", "backend_resets")


def prom_samples(path):
    """{(name, labels as text): value} of a text exposition; comments skipped."""
    out = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, val = line.rpartition(" ")
        name, _, labels = key.partition("{")
        out[(name, labels.rstrip("}"))] = float(val)
    return out


def metrics_l7(prom, st):
    """Differences between /metrics and status for the L7 and datapath counters."""
    want = {}
    for name, v in st["l7"]["counters"].items():
        metric = "sluice_l7_connections_active" if name == "active" else "sluice_l7_%s_total" % name
        want[(metric, "")] = v
    for name, v in st["datapath"].items():
        want[("sluice_datapath_events_total", 'event="%s"' % name)] = v
    bad = ["%s{%s}: metrics %s, status %s" % (k[0], k[1], prom.get(k), v)
           for k, v in sorted(want.items()) if prom.get(k) != float(v)]
    if not st["l7"]["counters"] or not st["datapath"]:
        bad.append("status has no L7 or datapath counters to compare")
    return bad, len(want)


def main(argv):
    cmd = argv[1]
    if cmd == "get":
        d = load(argv[2])
        print(eval(argv[3], {"d": d, "fold": fold}))
    elif cmd == "subsets":
        d = load(argv[2])
        f = fold(d)
        print(" ".join("%s=%d" % (k, f[k]) for k in sorted(f)) + " fail=%d" % d.get("fail", 0))
    elif cmd == "share":
        d = load(argv[2])
        f = fold(d)
        ok = sum(f.values())
        print("%.2f" % (100.0 * f.get(argv[3], 0) / ok if ok else -1))
    elif cmd == "has-service":
        return 0 if service(load(argv[2]), argv[3]) else 1
    elif cmd == "weights":
        svc = service(load(argv[2]), argv[3]) or {}
        print(" ".join("%s=%s" % (s.get("name"), s.get("weight")) for s in svc.get("subsets", [])))
    elif cmd == "counter":
        sub = subset(load(argv[2]), argv[3], argv[4]) or {}
        print(int(sub.get(argv[5], 0) or 0))
    elif cmd == "metrics-l7":
        bad, n = metrics_l7(prom_samples(argv[2]), load(argv[3]))
        print("; ".join(bad[:6]) if bad else "%d equal" % n)
        return 1 if bad else 0
    elif cmd == "table":
        st = load(argv[2])
        before = load(argv[3]) if len(argv) > 3 else {}
        short = ("opened", "closed", "pkts_in", "bytes_in", "pkts_out", "bytes_out", "resets")
        print("    %-10s %-7s %6s " % ("service", "subset", "weight") +
              " ".join("%10s" % s for s in short))
        for svc in st.get("services", []):
            for sub in svc.get("subsets", []):
                old = subset(before, svc["name"], sub["name"]) or {} if before else {}
                vals = [int(sub.get(c, 0) or 0) - int(old.get(c, 0) or 0) for c in COUNTERS]
                print("    %-10s %-7s %6s " % (svc["name"], sub["name"], sub.get("weight", "?")) +
                      " ".join("%10d" % v for v in vals))
    else:
        print("jtool.py: unknown command %s" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
