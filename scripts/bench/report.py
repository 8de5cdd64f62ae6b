#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Tables for scripts/bench.sh: raw JSON lines in, Markdown out, and the
results file (JSON: machine, parameters, every raw result, the medians).

    report.py RAW.jsonl RESULTS.json MACHINE RUNS DUR WRK_C ELAPSED [quick]
"""
import json
import statistics
import sys

from mdtable import ratio, table

raw_path, out_path, machine, runs, dur, wrk_c, elapsed = sys.argv[1:8]
quick = len(sys.argv) > 8 and sys.argv[8] == "quick"
rows = [json.loads(line) for line in open(raw_path) if line.strip()]

vals = {}
for r in rows:
    if r["value"] is None:
        continue
    vals.setdefault((r["section"], r["key"], r["metric"]), []).append(float(r["value"]))


def get(sec, key, metric):
    return vals.get((sec, key, metric), [])


def med(sec, key, metric):
    v = get(sec, key, metric)
    return statistics.median(v) if v else None


def fmt(x, nd=1):
    if x is None:
        return "n/a"
    if nd == 0:
        return "{:,.0f}".format(x)
    return "{:,.{}f}".format(x, nd)


def spread(sec, key, metric, nd=1):
    v = get(sec, key, metric)
    if len(v) < 2:
        return "-"
    return "%s-%s" % (fmt(min(v), nd), fmt(max(v), nd))




print()
print("# sluice benchmarks%s" % (" (QUICK: one short run each, indicative only)" if quick else ""))
print()
print("Machine: %s. %s run(s) per configuration (median, spread = min-max); "
      "wrk: 1 thread, %s connections, %s s per run. Total %s s." % (machine, runs, wrk_c, dur, elapsed))
print()

secs = {r["section"] for r in rows}

if 1 in secs:
    print("## 1. Datapath cost per packet")
    print()
    print("Real traffic, kernel run-time accounting (run time / run count); "
          "the empty TC program on the same interface with the same traffic is the floor.")
    print()
    body = []
    for label, key, floor in [
        ("empty TC program (floor), bulk download", "bulk/empty", "bulk/empty"),
        ("sluice ingress, established (download's ACKs)", "bulk/ingress", "bulk/empty"),
        ("sluice egress, reply path (download's data)", "bulk/egress", "bulk/empty"),
        ("empty TC program (floor), short connections", "conns/empty", "conns/empty"),
        ("sluice ingress, short connections (mix)", "conns/ingress", "conns/empty"),
        ("sluice ingress, new connection (first packet, derived)", "new-conn/ingress", "conns/empty"),
        ("sluice egress, short connections", "conns/egress", "conns/empty"),
    ]:
        m = med(1, key, "ns")
        if m is not None and m <= 0:
            m = None  # the derivation failed (see docs/bench.md)
        runs = med(1, key, "runs")
        body.append((label, fmt(m), spread(1, key, "ns"), ratio(m, med(1, floor, "ns")),
                     "-" if runs is None else "{:,}".format(int(runs))))
    table(["path", "ns/packet", "spread", "vs empty", "program runs"], body)
    fx = [r for r in rows if r["section"] == 1 and r["key"].startswith("fixture/")]
    if fx:
        print("BPF_PROG_TEST_RUN fixtures (`build/tests/bench_pkt`, %s runs per path):" % fx[-1].get("runs"))
        print()
        floor = fx[0]["value"]
        table(["path", "ns/packet", "minus floor", "vs floor"],
              [(r["key"][8:], fmt(r["value"]), fmt(r["value"] - floor), ratio(r["value"], floor))
               for r in fx])
        # a new connection against what any tracker pays for one (bpf/bench_flow.bpf.c)
        by = {r["key"][8:]: r["value"] - floor for r in fx}
        two = by.get("floor for a new connection: 2 LRU tables")
        syn = [(k, v) for k, v in by.items() if k.endswith("new connection (SYN)")]
        if two and two > 0 and syn:
            print("A new connection against the two-table floor (a lookup and an insert in each "
                  "of two LRU tables of sl_ct_new's size, both above the empty program): " +
                  ", ".join("%s %sx" % (k, fmt(v / two, 2)) for k, v in syn) + ".")
            print()

NAMES = {"floor": "plain routing, one backend (floor)", "sluice": "sluice (TC eBPF, 90/10)",
         "iptables": "kube-proxy iptables mode", "nftables": "kube-proxy nftables mode",
         "nginx": "nginx split_clients 90/10 (L7 proxy)"}

if 2 in secs:
    print("## 2. Throughput and latency")
    print()
    print("New connections: wrk with `Connection: close` (one request per TCP connection). "
          "Keep-alive: wrk's persistent connections. CPU: busy time of the whole machine "
          "(/proc/stat: user+system+irq+softirq, client and backends included) per 100k "
          "requests; the softirq part in brackets. Ratios against the floor.")
    print()
    for mode, title in (("close", "New connections"), ("keep", "Keep-alive requests")):
        body = []
        f_rps = med(2, "floor", mode + "/rps")
        f_cpu = med(2, "floor", mode + "/cpu_s_per_100k")
        for k in ("floor", "sluice", "iptables", "nftables", "nginx"):
            if not get(2, k, mode + "/rps"):
                continue
            rps = med(2, k, mode + "/rps")
            cpu = med(2, k, mode + "/cpu_s_per_100k")
            body.append((NAMES[k], fmt(rps, 0), spread(2, k, mode + "/rps", 0), ratio(rps, f_rps),
                         fmt(med(2, k, mode + "/p50_ms"), 3), fmt(med(2, k, mode + "/p99_ms"), 3),
                         "%s (%s)" % (fmt(cpu, 2), fmt(med(2, k, mode + "/softirq_s_per_100k"), 2)),
                         ratio(cpu, f_cpu), fmt(sum(get(2, k, mode + "/errors")), 0)))
        print("**%s**" % title)
        print()
        table(["path", "req/s", "spread", "vs floor", "p50 ms", "p99 ms",
               "CPU s/100k req (softirq)", "CPU vs floor", "errors"], body)

if 3 in secs:
    print("## 3. Scale: services configured, traffic to one")
    print()
    print("New connections/s (wrk, `Connection: close`) and whole-machine CPU per "
          "connection; for sluice also its ingress program's ns per packet on that traffic "
          "(SYN + established mix). Ratios against the same contender with 1 service.")
    print()
    sizes = sorted({int(k.split("/")[1]) for (s, k, m) in vals if s == 3})
    body = []
    for c in ("sluice", "iptables", "nftables"):
        base = med(3, "%s/%d" % (c, sizes[0]), "close/rps") if sizes else None
        for n in sizes:
            k = "%s/%d" % (c, n)
            rps = med(3, k, "close/rps")
            if rps is None:
                continue
            cpu = med(3, k, "close/cpu_s_per_100k")
            body.append((c, "{:,}".format(n), fmt(rps, 0), spread(3, k, "close/rps", 0),
                         ratio(rps, base),
                         fmt(cpu * 10 if cpu is not None else None, 1),
                         fmt(med(3, k, "close/p99_ms"), 3),
                         fmt(med(3, k, "ingress_ns")) if c == "sluice" else "-",
                         fmt(med(3, k, "load_s"), 2) if c != "sluice" else "-"))
    table(["contender", "services", "new conn/s", "spread", "vs 1 service",
           "CPU us/conn", "p99 ms", "sluice ingress ns/pkt", "rules load s"], body)

if 4 in secs:
    print("## 4. Control plane")
    print()
    sizes = sorted({int(k.split("/")[1]) for (s, k, m) in vals if s == 4 and k.startswith("apply/")})
    body = []
    for n in sizes:
        a = "apply/%d/" % n
        body.append(("{:,}".format(n),
                     fmt(med(4, a + "scratch", "seconds"), 3), spread(4, a + "scratch", "seconds", 3),
                     fmt(med(4, a + "changed", "seconds"), 3), fmt(med(4, a + "changed", "keys"), 0),
                     fmt(med(4, a + "same", "seconds"), 3), fmt(med(4, a + "same", "keys"), 0),
                     fmt(med(4, "flip/cli/%d" % n, "cmd_ms"), 1),
                     fmt(med(4, "flip/cli/%d" % n, "ms"), 1), spread(4, "flip/cli/%d" % n, "ms", 1),
                     fmt(med(4, "rss/%d" % n, "kib") / 1024 if med(4, "rss/%d" % n, "kib") else None, 1),
                     fmt(med(4, "memlock/%d" % n, "bytes") / 2**20 if med(4, "memlock/%d" % n, "bytes") else None, 1)))
    print("`sluice apply` (the whole CLI: parse, validate, write) of N services (2 subsets, "
          "3 endpoints for the measured one, 2 for the others) to a running `sluice run`: "
          "from scratch (`run` held 1), then with one service's weights changed, then the "
          "same again (keys: sl_services values written). `sluice weights backend` with N "
          "services configured: the CLI's wall time, and the first new connection served by "
          "the newly weighted subset (100/0 -> 0/100 and back), timed from just before the "
          "CLI starts by a client opening connections back to back. RSS of a `sluice run` "
          "that applied the N services itself, and the bytes_memlock of its pinned maps.")
    print()
    table(["services", "apply s (scratch)", "spread", "apply s (1 changed)", "keys",
           "apply s (same)", "keys", "weights CLI ms", "to next conn ms", "spread",
           "run RSS MiB", "maps MiB (memlock)"], body)
    body = []
    for k, label in (("flip/file", "config file write + rename"),):
        if get(4, k, "ms"):
            body.append((label, fmt(med(4, k, "ms"), 1), spread(4, k, "ms", 1), len(get(4, k, "ms"))))
    print("The same weight change through the config file `run` watches (1 service), to "
          "the first new connection served by the newly weighted subset:")
    print()
    table(["change through", "ms", "spread", "samples"], body)

if 5 in secs:
    print("## 5. Split accuracy")
    print()
    body = []
    for w in ("99-1", "90-10", "50-50"):
        k = "split/" + w
        if not get(5, k, "v2_pct"):
            continue
        want = float(w.split("-")[1])
        obs = med(5, k, "v2_pct")
        body.append((w.replace("-", "/"), "%.0f%%" % want, "%.2f%%" % obs,
                     "%+.2f" % (obs - want), spread(5, k, "v2_pct", 2),
                     fmt(med(5, k, "total"), 0)))
    print("New connections (ab, no keep-alive), counted by the backends (nginx stub_status):")
    print()
    table(["v1/v2", "configured v2", "observed v2", "error (points)", "spread", "connections"], body)
    if get(5, "hold", "moved"):
        print("Established connections across live weight changes (keep-alive connections, "
              "each asked its backend after every change):")
        print()
        table(["connections", "weight changes", "requests", "changed backend", "broken"],
              [(fmt(med(5, "hold", "conns"), 0), fmt(med(5, "hold", "changes"), 0),
                fmt(med(5, "hold", "requests"), 0), fmt(med(5, "hold", "moved"), 0),
                fmt(med(5, "hold", "broken"), 0))])

if 7 in secs:
    print("## 7. SYN flood")
    print()
    print("Random-source SYNs to the VIP, written by one core (`build/tests/synflood`, "
          "AF_PACKET) into the node's uplink, where every source routes back (a flood from "
          "outside the cluster); the backends answer each with a SYN-ACK (or a cookie) that "
          "goes nowhere. Meanwhile the client holds keep-alive connections, asking each in "
          "turn, and opens new connections back to back (1 s timeout each). Calm: the same "
          "without the flood. Entries lost: held connections whose entry is gone from the "
          "table that translates them (sluice: sl_conntrack; kube-proxy: the node's netfilter "
          "conntrack, nf_conntrack_max as kube-proxy sets it), counted while they are still "
          "open. New failed: new connections that took over 1 s (a SYN lost and sent again). "
          "The node's netfilter conntrack tracks every contender's connections (its "
          "INVALID-drop rule); it is emptied before each run; its drops are packets it refused "
          "for want of room. kube-proxy's rules masquerade the flood (its sources are outside "
          "the cluster CIDR), as they would on a node.")
    print()
    body = []
    keys = sorted({k for (s, k, m) in vals if s == 7},
                  key=lambda k: (not k.startswith("sluice"), k))

    def label(k):
        if k.startswith("sluice/"):
            ct = int(k.split("/")[1])
            return "sluice, --ct-max {:,} (unconfirmed {:,})".format(ct, max(ct // 4, 1024))
        return NAMES.get(k, k)

    def tot(k, m):
        return sum(get(7, k, m))

    for k in keys:
        body.append((label(k), fmt(med(7, k, "flood/pps"), 0),
                     "%s / %s" % (fmt(tot(k, "flood/held_broken"), 0), fmt(tot(k, "flood/held"), 0)),
                     fmt(tot(k, "flood/entries_lost"), 0),
                     "%s / %s" % (fmt(tot(k, "flood/new_failed"), 0),
                                  fmt(tot(k, "flood/new_ok") + tot(k, "flood/new_failed"), 0)),
                     fmt(med(7, k, "flood/new_p50_ms"), 2), fmt(med(7, k, "flood/new_p99_ms"), 2),
                     "%s / %s" % (fmt(tot(k, "calm/new_failed"), 0),
                                  fmt(tot(k, "calm/new_ok") + tot(k, "calm/new_failed"), 0)),
                     fmt(med(7, k, "calm/new_p99_ms"), 2), fmt(med(7, k, "flood/nf_conntrack"), 0),
                     fmt(tot(k, "flood/nf_drops"), 0)))
    table(["contender", "flood SYN/s", "held broken", "entries lost", "new failed (flood)",
           "p50 ms", "p99 ms", "new failed (calm)", "p99 ms (calm)", "netfilter entries after",
           "netfilter drops (full)"], body)

if 8 in secs:
    print("## 8. Ranking: interleaved rounds, ratios against the floor with 95 % intervals")
    print()
    # two-sided 95 % Student t quantiles by degrees of freedom
    T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
           10: 2.23, 12: 2.18, 15: 2.13, 20: 2.09, 30: 2.04}

    def t95(df):
        return T95.get(df) or T95[max(d for d in T95 if d <= df)]

    def by_run(key, metric):
        return {r["run"]: float(r["value"]) for r in rows
                if r["section"] == 8 and r["key"] == key and r["metric"] == metric
                and r["value"] is not None}

    def interval(key, floor_key, metric):
        """Mean of the per-round ratios key/floor, with its 95 % interval."""
        a, b = by_run(key, metric), by_run(floor_key, metric)
        rs = [a[i] / b[i] for i in a if i in b and b[i]]
        if not rs:
            return None
        m = statistics.mean(rs)
        h = t95(len(rs) - 1) * statistics.stdev(rs) / len(rs) ** 0.5 if len(rs) > 1 else None
        return (m, m - h if h is not None else None, m + h if h is not None else None, len(rs))

    def show(iv):
        if iv is None:
            return "n/a"
        if iv[1] is None:
            return "%.2fx" % iv[0]
        return "%.2fx [%.2f, %.2f]" % iv[:3]

    RANK_NAMES = {"floor": "plain routing (floor)",
                  "sluice-stack": "sluice, stack path (--no-fast-path)",
                  "sluice-fast": "sluice, fast path", "iptables": "kube-proxy iptables",
                  "sluice-sock": "sluice, socket-level (--socket-lb prototype)",
                  "nftables": "kube-proxy nftables"}
    keys8 = {r["key"] for r in rows if r["section"] == 8 and not r["key"].startswith("load/")}
    sizes8 = sorted({int(k.split("/")[1]) for k in keys8})
    order = ["floor", "sluice-stack", "sluice-fast", "sluice-sock", "iptables", "nftables"]
    if "sluice-fast/%d" % sizes8[0] not in keys8 if sizes8 else False:
        RANK_NAMES["sluice-stack"] = "sluice (its only path: no --no-fast-path in this build)"
    rounds = max((r["run"] for r in rows if r["section"] == 8), default=0)
    print("wrk from the client, %s rounds; in each round every contender once, in an order "
          "rotated round by round, for new connections (`Connection: close`) and keep-alive "
          "requests. Each ratio is against the floor of the same round (paired), averaged "
          "over the rounds, with its 95 %% confidence interval (Student t). CPU: busy time of "
          "the whole machine per request from /proc/stat (user, nice, system, irq, softirq; "
          "steal left out). Lower CPU ratio is better; a contender ranks below another only "
          "where their intervals do not overlap." % rounds)
    print()
    for mode, title in (("close", "New connections"), ("keep", "Keep-alive requests")):
        body, ranked = [], {}
        for n in sizes8:
            fk = "floor/%d" % n
            for c in order:
                k = "%s/%d" % (c, n)
                if k not in keys8:
                    continue
                rps = med(8, k, mode + "/rps")
                cpu = med(8, k, mode + "/cpu_us")
                civ = interval(k, fk, mode + "/cpu_us")
                body.append((RANK_NAMES[c], "{:,}".format(n), fmt(rps, 0),
                             show(interval(k, fk, mode + "/rps")), fmt(cpu, 1), show(civ),
                             fmt(sum(get(8, k, mode + "/errors")), 0)))
                if civ:
                    ranked.setdefault(n, []).append((civ, RANK_NAMES[c]))
        print("**%s**" % title)
        print()
        table(["path", "services", "req/s", "req/s vs floor [95 % CI]", "CPU us/req",
               "CPU vs floor [95 % CI]", "errors"], body)
        for n, lst in sorted(ranked.items()):
            lst.sort(key=lambda x: x[0][0])
            out = lst[0][1]
            for prev, cur in zip(lst, lst[1:]):
                apart = prev[0][2] is not None and cur[0][1] is not None and prev[0][2] < cur[0][1]
                out += (" < " if apart else " ~ ") + cur[1]
            print("CPU per request, %s service%s, cheapest first (< : intervals apart, ~ : "
                  "they overlap): %s" % ("{:,}".format(n), "" if n == 1 else "s", out))
            print()
    loads = [(k.split("/")[1], med(8, k, "seconds")) for k in {r["key"] for r in rows
             if r["section"] == 8 and r["key"].startswith("load/")}]
    if loads:
        print("Loading kube-proxy's rules (iptables and nftables, once per size): " +
              ", ".join("%s service%s %s s" % ("{:,}".format(int(n)), "" if int(n) == 1 else "s",
                                                 fmt(v, 0))
                        for n, v in sorted(loads, key=lambda x: int(x[0]))))
        print()

summary = {"%d/%s/%s" % k: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
           for k, v in vals.items()}
json.dump({"machine": machine, "runs": int(runs), "duration_s": int(dur), "wrk_connections": int(wrk_c),
           "quick": quick, "elapsed_s": int(elapsed), "summary": summary, "raw": rows},
          open(out_path, "w"), indent=1)
