#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Parsing, raw results and tables of scripts/bench/l7.sh (header routing).

Raw results are JSON lines, as scripts/bench.sh writes them:
{"section": 6, "key": CONTENDER, "metric": M, "run": R, "value": V}

    l7.py rec-wrk KEY MODE RUN HZ NCPU BUSY SOFTIRQ STEAL PROC BACKENDS WRK_S WALL_S
                                                   wrk JSON (gen.py wrk) on stdin; CPU
                                                   in jiffies (WRK_S, WALL_S: seconds)
    l7.py rec-curl KEY RUN N                       curl -w "T connect ttfb code n" lines
    l7.py rec-ab KEY RUN AB_OUT AB_CSV             ab's output and its -e percentiles
    l7.py counters L7_MAP_DUMP STATUS_JSON         one JSON object of sluice counters
    l7.py rec-counters KEY RUN C0 C1 R0 R1         their deltas, backends' shares
    l7.py report RAW RESULTS MACHINE RUNS DUR C TTFB_N AB_N ELAPSED [quick]
"""
import json
import math
import re
import statistics
import sys

from mdtable import ratio, table

SECTION = 6
# enum sl_l7_counter_idx (include/sluice_abi.h)
L7_COUNTERS = ["accepted", "active", "header_route", "default_route", "head_too_big",
               "not_http", "head_timeout", "no_route", "connect_failed", "over_limit",
               "handed_over", "taken_over", "client_limit", "idle_timeout"]
DP_COUNTERS = ["new_conn", "l7_local", "l7_fallback", "l7_established", "no_endpoint",
               "nat_fail", "ct_full"]


def out(key, metric, run, value):
    print(json.dumps({"section": SECTION, "key": key, "metric": metric, "run": int(run),
                      "value": value}))


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return None
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


def rec_wrk(a):
    key, mode, run = a[0], a[1], a[2]
    hz, ncpu, busy, soft, steal, proc, backends = (int(x) for x in a[3:10])
    wrk_s, wall = float(a[10]), float(a[11])
    r = json.loads(sys.stdin.read())
    n = r["requests"]
    if not n:
        sys.exit(1)
    ours = (proc + backends) / hz + wrk_s
    out(key, mode + "/rps", run, r["rps"])
    out(key, mode + "/p50_ms", run, r["p50_ms"])
    out(key, mode + "/p99_ms", run, r["p99_ms"])
    out(key, mode + "/cpu_us", run, busy / hz / n * 1e6)
    out(key, mode + "/softirq_us", run, soft / hz / n * 1e6)
    out(key, mode + "/bench_cpu_us", run, ours / n * 1e6)
    out(key, mode + "/proc_us", run, proc / hz / n * 1e6)
    out(key, mode + "/requests", run, n)
    out(key, mode + "/steal_pct", run, 100.0 * steal / (hz * wall * ncpu))
    out(key, mode + "/foreign_pct", run, max(0.0, 100.0 * (busy / hz - ours) / (wall * ncpu)))
    out(key, mode + "/errors", run, r["socket_errors"] + r["non2xx"])


def rec_curl(a):
    key, run, want = a[0], a[1], int(a[2])
    ttfb, conn = [], []
    bad = 0
    for line in sys.stdin:
        f = line.split()
        if len(f) != 5 or f[0] != "T":
            continue
        if f[3] != "200" or f[4] != "1":
            bad += 1
            continue
        conn.append(float(f[1]) * 1e3)
        ttfb.append(float(f[2]) * 1e3)
    ttfb.sort()
    conn.sort()
    out(key, "ttfb/p50_ms", run, pct(ttfb, 50))
    out(key, "ttfb/p99_ms", run, pct(ttfb, 99))
    out(key, "ttfb/connect_p50_ms", run, pct(conn, 50))
    out(key, "ttfb/samples", run, len(ttfb))
    out(key, "ttfb/errors", run, bad + max(0, want - len(ttfb) - bad))


def rec_ab(a):
    key, run, text_path, csv_path = a
    text = open(text_path).read()
    m = re.search(r"Requests per second:\s+([\d.]+)", text)
    rps = float(m.group(1)) if m else None
    m = re.search(r"Complete requests:\s+(\d+)", text)
    done = int(m.group(1)) if m else 0
    # "Failed requests: N (Connect: a, Receive: b, Length: c, Exceptions: d)":
    # Length is not an error here (v1a/v1b answer 4 bytes, v2 3 bytes).
    errors = 0
    m = re.search(r"Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)", text)
    if m:
        errors += int(m.group(1)) + int(m.group(2)) + int(m.group(4))
    m = re.search(r"Non-2xx responses:\s+(\d+)", text)
    if m:
        errors += int(m.group(1))
    if not done:
        errors = max(errors, 1)
    p = {}
    try:
        for line in open(csv_path):
            f = line.strip().split(",")
            if len(f) == 2 and f[0].isdigit():
                p[int(f[0])] = float(f[1])
    except OSError:
        pass
    out(key, "ab/rps", run, rps)
    out(key, "ab/p50_ms", run, p.get(50))
    out(key, "ab/p99_ms", run, p.get(99))
    out(key, "ab/errors", run, errors)


def counters(a):
    res = {}
    try:
        dump = json.load(open(a[0]))
    except (OSError, ValueError):
        dump = []
    for e in dump if isinstance(dump, list) else []:
        v = e.get("formatted", e).get("value") if isinstance(e, dict) else None
        if isinstance(v, dict) and "c" in v:
            vals = [int(x) for x in v["c"]]
        elif isinstance(e, dict) and isinstance(e.get("value"), list):
            b = bytes(int(x, 16) for x in e["value"])
            vals = [int.from_bytes(b[i:i + 8], "little") for i in range(0, len(b), 8)]
        else:
            continue
        for i, name in enumerate(L7_COUNTERS):
            if i < len(vals):
                res["l7_" + name] = vals[i]
    try:
        st = json.load(open(a[1]))
    except (OSError, ValueError):
        st = {}
    dp = st.get("datapath", {}) if isinstance(st, dict) else {}
    for name in DP_COUNTERS:
        if name in dp:
            res["dp_" + name] = int(dp[name])
    print(json.dumps(res))


def rec_counters(a):
    key, run, c0, c1, r0, r1 = a
    c0, c1 = json.loads(c0), json.loads(c1)
    for k in sorted(c1):
        if k == "l7_active":
            continue
        out(key, "count/" + k, run, c1[k] - c0.get(k, 0))
    b0 = [int(x or 0) for x in r0.split()]
    b1 = [int(x or 0) for x in r1.split()]
    if len(b0) == 3 and len(b1) == 3:
        # each stub_status read counts itself: one per backend between r0 and r1
        d = [y - x - 1 for x, y in zip(b0, b1)]
        tot = sum(d)
        out(key, "backends/total", run, tot)
        out(key, "backends/v2_pct", run, 100.0 * d[2] / tot if tot else None)


# ---------------------------------------------------------------- report

NAMES = {
    "dnat": "DNAT path: same service, no header route (baseline)",
    "nol7": "DNAT fallback: header route, `run --no-l7`",
    "l7": "L7 step, request without the header (90/10)",
    "l7-hdr": "L7 step, `canary: canary-tester` (-> v2)",
    "nginx": "nginx map + split_clients, without the header",
    "nginx-hdr": "nginx, `canary: canary-tester` (-> v2)",
    "nginx-noka": "nginx without upstream keep-alive, without the header",
}
ORDER = ["dnat", "nol7", "l7", "l7-hdr", "nginx", "nginx-hdr", "nginx-noka"]
BASE = "dnat"


def report(a):
    raw_path, out_path, machine, runs, dur, conc, ttfb_n, ab_n, elapsed = a[:9]
    quick = len(a) > 9 and a[9] == "quick"
    rows = [json.loads(line) for line in open(raw_path) if line.strip()]
    vals = {}
    for r in rows:
        if r["value"] is not None:
            vals.setdefault((r["key"], r["metric"]), []).append(float(r["value"]))

    def get(k, m):
        return vals.get((k, m), [])

    def med(k, m):
        v = get(k, m)
        return statistics.median(v) if v else None

    def tot(k, m):
        v = get(k, m)
        return sum(v) if v else None

    def fmt(x, nd=1):
        if x is None:
            return "n/a"
        return "{:,.{}f}".format(x, nd)

    def spread(k, m, nd=0):
        v = get(k, m)
        return "%s-%s" % (fmt(min(v), nd), fmt(max(v), nd)) if len(v) > 1 else "-"


    keys = [k for k in ORDER if any(kk == k for kk, _ in vals)]
    print()
    print("## 6. Header routing (L7 step)%s" % (" (QUICK: one short run, indicative only)" if quick else ""))
    print()
    print("Machine: %s. %s run(s) per contender (median, spread = min-max), contenders in a "
          "rotating order; wrk and ab: %s connections, wrk %s s per run; curl: %s connections "
          "one after the other; ab: %s requests. Total %s s. Ratios against the DNAT path of "
          "the same script." % (machine, runs, conc, dur, ttfb_n, ab_n, elapsed))
    print()
    for mode, title, what in (
            ("close", "New connections", "wrk, `Connection: close`: one request per TCP connection"),
            ("keep", "Keep-alive requests", "wrk, persistent connections")):
        print("**%s** (%s). Latency: wrk's, from writing the request to the end of the "
              "response. CPU per request: *bench*, the benchmark's own processes (wrk, the "
              "three backends, `sluice run` or nginx; user + system, which with this kernel's "
              "tick accounting includes the softirq work done in their context); *proxy*, "
              "`sluice run` (the L7 step's thread) or the nginx proxy alone; *machine*, all "
              "busy time of the machine (/proc/stat, as sections 2 and 3 count; softirq in "
              "brackets), other people's work included. *others*: the machine's busy time "
              "that was not the benchmark's, in %% of both CPUs." % (title, what))
        print()
        body = []
        b_rps, b_cpu = med(BASE, mode + "/rps"), med(BASE, mode + "/bench_cpu_us")
        for k in keys:
            rps, cpu = med(k, mode + "/rps"), med(k, mode + "/bench_cpu_us")
            body.append((NAMES[k], fmt(rps, 0), spread(k, mode + "/rps"), ratio(rps, b_rps),
                         fmt(med(k, mode + "/p50_ms"), 3), fmt(med(k, mode + "/p99_ms"), 3),
                         fmt(cpu), ratio(cpu, b_cpu), fmt(med(k, mode + "/proc_us")),
                         "%s (%s)" % (fmt(med(k, mode + "/cpu_us")),
                                      fmt(med(k, mode + "/softirq_us"))),
                         fmt(med(k, mode + "/foreign_pct"), 0) + "%" if get(k, mode + "/foreign_pct") else "n/a",
                         fmt(tot(k, mode + "/errors"), 0)))
        table(["path", "req/s", "spread", "vs DNAT", "p50 ms", "p99 ms", "bench CPU us/req",
               "vs DNAT", "proxy us/req", "machine us/req (softirq)", "others", "errors"], body)

    print("**Time to first byte of a new connection.** curl, one connection at a time "
          "(`%%{time_starttransfer}`: connect, request, first byte of the response; "
          "unloaded); ab -c %s (connect to the end of the response, which is one segment; "
          "ab's percentile table, `-e`)." % conc)
    print()
    body = []
    b_t, b_a = med(BASE, "ttfb/p50_ms"), med(BASE, "ab/p50_ms")
    for k in keys:
        t50, a50 = med(k, "ttfb/p50_ms"), med(k, "ab/p50_ms")
        body.append((NAMES[k], fmt(t50, 3), fmt(med(k, "ttfb/p99_ms"), 3), ratio(t50, b_t),
                     fmt(med(k, "ttfb/connect_p50_ms"), 3),
                     fmt(a50, 3), fmt(med(k, "ab/p99_ms"), 3), ratio(a50, b_a),
                     fmt(med(k, "ab/rps"), 0),
                     fmt((tot(k, "ttfb/errors") or 0) + (tot(k, "ab/errors") or 0), 0)))
    table(["path", "TTFB p50 ms", "TTFB p99 ms", "p50 vs DNAT", "connect p50 ms",
           "ab p50 ms", "ab p99 ms", "ab p50 vs DNAT", "ab req/s", "errors"], body)

    print("**Where the requests went, and the L7 step's counters** (all phases and runs "
          "summed; requests and v2 share of the new-connection phases (wrk close, curl, ab), counted by the backends' stub_status; `l7 ...` from the pinned "
          "`sl_l7_counters`, `kernel ...` from `sluice status`'s datapath counters).")
    print()
    body = []
    for k in keys:
        def c(name):
            return fmt(tot(k, "count/" + name), 0) if get(k, "count/" + name) else "-"
        other = None
        for n in ("l7_head_too_big", "l7_not_http", "l7_head_timeout", "l7_over_limit"):
            if get(k, "count/" + n):
                other = (other or 0) + tot(k, "count/" + n)
        body.append((NAMES[k], fmt(tot(k, "backends/total"), 0),
                     fmt(med(k, "backends/v2_pct"), 2) + "%" if get(k, "backends/v2_pct") else "n/a",
                     c("dp_new_conn"), c("dp_l7_local"), c("dp_l7_fallback"), c("l7_accepted"),
                     c("l7_header_route"), c("l7_default_route"), c("l7_connect_failed"),
                     c("l7_no_route"), fmt(other, 0) if other is not None else "-",
                     fmt(tot(k, "log_issues"), 0) if get(k, "log_issues") else "-"))
    table(["path", "backend requests", "v2 share", "kernel DNAT conns", "kernel l7_local",
           "kernel l7_fallback", "l7 accepted", "l7 header route", "l7 default route",
           "l7 connect failed", "l7 no route", "l7 other", "log warnings"], body)

    print("`l7 other`: heads too big, not HTTP, head timeouts, times over the connection "
          "limit. `log warnings`: lines with warn/error/fail/reset/refused/timed out in "
          "`sluice run`'s log (for the setup) or nginx's error log.")
    print()
    steal = [v for (k, m), vs in vals.items() if m.endswith("/steal_pct") for v in vs]
    foreign = [v for (k, m), vs in vals.items() if m.endswith("/foreign_pct") for v in vs]
    bg = get("_machine", "background_busy_pct")
    waits = get("_machine", "quiet_wait_s")

    def mm(v):
        return "median %s%%, max %s%%" % (fmt(statistics.median(v)), fmt(max(v))) if v else "n/a"
    if steal or bg:
        print("Noise: VM steal time during the wrk runs %s; other work on the machine during "
              "the wrk runs (*others* above) %s; the machine's busy share in the second before "
              "each set-up, after waiting up to %s s in all for it to fall under 15%% (%d "
              "samples), %s." % (mm(steal), mm(foreign), fmt(sum(waits) if waits else 0, 0),
                                 len(bg), mm(bg)))
        print()

    summary = {"%s/%s" % k: {"median": statistics.median(v), "min": min(v), "max": max(v),
                             "n": len(v)} for k, v in vals.items()}
    json.dump({"machine": machine, "runs": int(runs), "duration_s": int(dur),
               "connections": int(conc), "ttfb_n": int(ttfb_n), "ab_n": int(ab_n),
               "quick": quick, "elapsed_s": int(elapsed), "summary": summary, "raw": rows},
              open(out_path, "w"), indent=1)


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    {"rec-wrk": rec_wrk, "rec-curl": rec_curl, "rec-ab": rec_ab, "counters": counters,
     "rec-counters": rec_counters, "report": report}[cmd](a)


if __name__ == "__main__":
    main()
