#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Helpers for test_dashboard.sh: run headless Chromium and judge what it saw.

    dashboard_check.py run [--stdout F] [--stderr F] -- CMD...
        Run CMD (chromium under `timeout`) as a child subreaper: every process
        it leaves behind (zygote, renderers, GPU/utility helpers) is
        re-parented here, killed and reaped by PID once CMD exits, so no
        chromium process or zombie outlives the call (PID 1 of a container
        may reap nothing). SIGTERM/SIGINT kill the whole tree. Exit status:
        CMD's.
    dashboard_check.py shot --url URL --out PNG [--wait S] [--size WxH]
                            [--console F] [--dom F] -- CMD...
        Like run, but CMD is chromium with --remote-debugging-pipe: open URL,
        let the page run for S seconds of real time (a --screenshot under
        --virtual-time-budget compresses the page's one-second polls into a
        few milliseconds, so its rates and time series would show nothing),
        then save a PNG screenshot, optionally the DOM, and the console
        messages and exceptions as JSON lines.
    dashboard_check.py console STDERR [--expect-info TEXT] [--allow TEXT]...
        Console messages of `--enable-logging=stderr --v=0`: exit 1 if any is
        an error or an uncaught exception (those matching an --allow text
        excepted), or if TEXT (a console.info the page writes) is missing,
        which would mean the capture itself is broken.
    dashboard_check.py static PAGE
        The page is self-contained: no external script, style, font, image
        or frame, no URL to anywhere, one fetch, of /api/v1/stats.
    dashboard_check.py compare DOM STATS SERVICE SUBSET=WEIGHT...
        The dumped DOM shows, per subset of SERVICE, every counter equal to
        STATS (the /api/v1/stats JSON taken right after) and the given
        configured weights, and the page is live with several samples.
    dashboard_check.py dom DOM EXPR
        Print eval(EXPR) over the parsed DOM (body, fields): for small checks.
    dashboard_check.py same A B
        Two /api/v1/stats documents have the same per-subset counters.
    dashboard_check.py requests LOG
        Every request in a `python3 -m http.server` log was GET / or
        GET /api/v1/stats.
    dashboard_check.py png FILE WIDTH HEIGHT
        FILE is a PNG of that size with more than a blank page in it.
"""
import argparse
import base64
import ctypes
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
import zlib
from html.parser import HTMLParser

COUNTERS = ["connections_opened", "connections_closed", "connections_active", "packets_in",
            "bytes_in", "packets_out", "bytes_out", "backend_resets"]
PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------- processes

def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def my_children():
    me, kids = os.getpid(), []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == me:
            kids.append(int(d))
    return kids


def reap_all(grace=2.0):
    """Kill and reap every child left (orphans re-parented to us included)."""
    deadline = time.monotonic() + grace
    while True:
        try:
            while True:
                pid, _ = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
        except ChildProcessError:
            pass
        kids = my_children()
        if not kids:
            return
        sig = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
        for pid in kids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


class Tree:
    """CMD as our child; signals to us tear the whole tree down."""

    def __init__(self, cmd, **kw):
        become_subreaper()
        self.proc = subprocess.Popen(cmd, **kw)
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self._on_signal)

    def _on_signal(self, signum, frame):
        try:
            self.proc.kill()
        except OSError:
            pass
        reap_all(0.5)
        sys.exit(128 + signum)

    def wait(self, timeout=None):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        reap_all()
        return rc


def cmd_run(args):
    out = open(args.stdout, "wb") if args.stdout else None
    err = open(args.stderr, "wb") if args.stderr else None
    return Tree(args.cmd, stdout=out, stderr=err).wait(args.timeout)


# ---------------------------------------------------------------- DevTools over a pipe

class Cdp:
    """The DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out,
    NUL-separated JSON): nothing but the standard library."""

    def __init__(self, wfd, rfd):
        self.w, self.r, self.buf, self.next_id, self.events = wfd, rfd, b"", 0, []

    def _read_msg(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the debugging pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=20):
        self.next_id += 1
        m = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        os.write(self.w, json.dumps(m).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            r = self._read_msg(deadline)
            if r.get("id") == self.next_id:
                if "error" in r:
                    raise RuntimeError("%s: %s" % (method, r["error"]))
                return r.get("result", {})
            if "method" in r:
                self.events.append(r)

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        try:
            while True:
                r = self._read_msg(deadline)
                if "method" in r:
                    self.events.append(r)
        except TimeoutError:
            pass


def console_records(events):
    out = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append({"kind": "console", "level": p.get("type"), "text": text})
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append({"kind": "exception", "level": "error",
                        "text": d.get("exception", {}).get("description") or d.get("text")})
        elif m == "Log.entryAdded":
            en = p.get("entry", {})
            out.append({"kind": "log", "level": en.get("level"), "text": en.get("text"),
                        "url": en.get("url")})
    return out


def cmd_shot(args):
    w, h = (int(x) for x in args.size.split("x"))
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # The child's ends go above 4 first, out of the way of the dup to 3 and 4.
    hi_r, hi_w = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    to_chrome_r, from_chrome_w = hi_r, hi_w

    # Chromium reads commands on fd 3 and writes replies on fd 4: a shell
    # moves the pipe ends there, then execs CMD.
    shell = 'exec 3<&%d 4>&%d %d<&- %d>&-; exec "$@"' % (to_chrome_r, from_chrome_w, to_chrome_r, from_chrome_w)
    err = open(args.stderr, "wb") if args.stderr else subprocess.DEVNULL
    tree = Tree(["/bin/bash", "-c", shell, "bash"] + args.cmd, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, pass_fds=(to_chrome_r, from_chrome_w))
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    cdp = Cdp(to_chrome_w, from_chrome_r)
    rc = 0
    try:
        targets = cdp.call("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t.get("type") == "page"]
        tid = pages[0]["targetId"] if pages else cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = cdp.call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            cdp.call(m, session=sid)
        cdp.call("Emulation.setDeviceMetricsOverride",
                 {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        cdp.call("Page.navigate", {"url": args.url}, session=sid)
        cdp.pump(args.wait)
        shot = cdp.call("Page.captureScreenshot", {"format": "png"}, session=sid, timeout=30)
        with open(args.out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        if args.dom:
            r = cdp.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                              "returnByValue": True}, session=sid)
            with open(args.dom, "w") as f:
                f.write(r["result"]["value"])
        try:
            cdp.call("Browser.close", timeout=5)
        except Exception:
            pass
    except Exception as e:
        print("shot: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        rc = 1
    finally:
        if args.console:
            with open(args.console, "w") as f:
                for rec in console_records(cdp.events):
                    f.write(json.dumps(rec) + "\n")
        tree.wait(10)
    return rc


# ---------------------------------------------------------------- console (stderr log)

# [pid:tid:MMDD/HHMMSS.us:LEVEL:CONSOLE(line)] or ...:LEVEL:CONSOLE:line] "text", source: URL (line)
CONSOLE_RE = re.compile(r'^\[[^\]]*:(INFO|WARNING|ERROR|FATAL|VERBOSE\d*):CONSOLE[(:]\d*\)?\] "(.*)", source: (.*)$')


def cmd_console(args):
    msgs = []
    with open(args.stderr, errors="replace") as f:
        for line in f:
            m = CONSOLE_RE.match(line.rstrip("\n"))
            if m:
                msgs.append((m.group(1), m.group(2), m.group(3)))
    bad = []
    for level, text, src in msgs:
        if level in ("ERROR", "FATAL") or "Uncaught" in text:
            if not any(a in text for a in args.allow):
                bad.append("%s %s (%s)" % (level, text, src))
    info_ok = args.expect_info is None or any(args.expect_info in t for _, t, _ in msgs)
    print("%d console message(s), %d error(s)%s" % (
        len(msgs), len(bad), "" if info_ok else "; the page's console.info %r is missing" % args.expect_info))
    for b in bad[:10]:
        print("  " + b[:300])
    return 0 if not bad and info_ok else 1


# ---------------------------------------------------------------- static page check

def cmd_static(args):
    page = open(args.page, encoding="utf-8").read()
    problems = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            for k in ("src", "href", "srcset", "poster", "data", "action", "xlink:href"):
                v = a.get(k)
                if v is not None and not v.startswith("data:") and not v.startswith("#"):
                    problems.append("<%s %s=%r>" % (tag, k, v))
            if tag in ("iframe", "frame", "object", "embed", "base"):
                problems.append("<%s>" % tag)

    P().feed(page)
    # Any URL other than the SVG namespace (a name, never fetched).
    for u in re.findall(r"""(?:https?:|wss?:)?//[\w.-]+\.[a-z]{2,}[^\s"'<>)]*""", page):
        if u not in ("http://www.w3.org/2000/svg",):
            problems.append("URL %s" % u)
    for pat in (r"@import", r"@font-face", r"url\((?!\s*['\"]?data:)", r"XMLHttpRequest", r"WebSocket",
                r"EventSource", r"importScripts", r"new Worker", r"navigator\.sendBeacon", r"<script[^>]+src"):
        if re.search(pat, page):
            problems.append("uses %s" % pat)
    fetches = re.findall(r"\bfetch\(\s*([^,)]+)", page)
    api = re.findall(r"""var API = "([^"]*)";""", page)
    if fetches != ["API"] or api != ["/api/v1/stats"]:
        problems.append("fetches %r with API=%r (want one fetch, of /api/v1/stats)" % (fetches, api))
    for p in problems:
        print("  " + p)
    print("%d byte(s), %d problem(s)" % (len(page.encode()), len(problems)))
    return 1 if problems else 0


# ---------------------------------------------------------------- DOM

class Dom(HTMLParser):
    """The elements carrying data-field, and <body>'s attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.body, self.fields, self.stack, self.text = {}, [], [], {}
        self.badges, self.routes, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        self.tags.append(tag)
        if tag == "body":
            self.body = a
        if "data-field" in a:
            self.fields.append(a)
        if "data-badge" in a:
            self.badges.append(a)
        if "data-route" in a:
            self.routes.append(a)

    def field(self, name, service=None, subset=None):
        for f in self.fields:
            if f.get("data-field") == name and f.get("data-service") == service and f.get("data-subset") == subset:
                return f.get("data-value")
        return None


def load_dom(path):
    d = Dom()
    with open(path, encoding="utf-8", errors="replace") as f:
        d.feed(f.read())
    return d


def cmd_compare(args):
    dom = load_dom(args.dom)
    st = json.load(open(args.stats))
    fails, oks = [], 0
    svc = next((s for s in st.get("services", []) if s.get("name") == args.service), None)
    if svc is None:
        print("service %s not in stats" % args.service)
        return 1

    def check(what, got, want):
        nonlocal oks
        if str(got) == str(want):
            oks += 1
        else:
            fails.append("%s: page %r, want %r" % (what, got, want))

    body = dom.body
    check("body data-state", body.get("data-state"), "live")
    if int(body.get("data-samples") or 0) < 3:
        fails.append("only %s sample(s) taken" % body.get("data-samples"))
    check("body data-errors", body.get("data-errors"), "0")
    try:
        page_t, now_t = int(body.get("data-time-ms")), int(st["time_ms"])
        if not 0 <= now_t - page_t < 60000:
            fails.append("page's last sample at %d, stats at %d" % (page_t, now_t))
    except (TypeError, ValueError, KeyError) as e:
        fails.append("time_ms: %r" % e)
    check("generation", dom.field("generation"), st.get("generation"))
    names = [s["name"] for s in svc["subsets"]]
    for sub in svc["subsets"]:
        for c in COUNTERS:
            check("%s/%s %s" % (args.service, sub["name"], c), dom.field(c, args.service, sub["name"]), sub[c])
        for cls in ("2xx", "4xx", "5xx"):
            h = sub.get("http_responses") or {}
            want = h.get(cls, h.get(cls[:2]))  # "5xx" (or "5x", as status_json.c spells it now)
            if want is not None:
                check("%s/%s http %s" % (args.service, sub["name"], cls),
                      dom.field("http_" + cls, args.service, sub["name"]), want)
        check("%s/%s weight" % (args.service, sub["name"]), dom.field("weight", args.service, sub["name"]),
              sub["weight"])
    tot = sum(s["weight"] for s in svc["subsets"])
    for kv in args.weights:
        name, w = kv.split("=")
        if name not in names:
            fails.append("subset %s not in stats" % name)
            continue
        share = dom.field("weight_share", args.service, name)
        check("%s/%s weight share %%" % (args.service, name), float(share or "nan"), float(w))
        check("%s/%s weight in stats" % (args.service, name),
              round(100.0 * [s for s in svc["subsets"] if s["name"] == name][0]["weight"] / tot, 2), float(w))
    print("%d value(s) equal, %d differ%s" % (oks, len(fails), ": " if fails else ""))
    for f in fails[:20]:
        print("  " + f)
    return 1 if fails else 0


def cmd_dom(args):
    dom = load_dom(args.dom)
    print(eval(args.expr, {"body": dom.body, "fields": dom.fields, "field": dom.field,
                           "badges": dom.badges, "routes": dom.routes, "tags": dom.tags}))
    return 0


def counters_of(path):
    st = json.load(open(path))
    return {(svc["name"], sub["name"]): [sub.get(c) for c in COUNTERS] + [sub.get("http_responses")]
            for svc in st.get("services", []) for sub in svc.get("subsets", [])}


def cmd_same(args):
    return 0 if counters_of(args.a) == counters_of(args.b) else 1


def cmd_requests(args):
    seen, bad = [], []
    for line in open(args.log, errors="replace"):
        m = re.search(r'"([A-Z]+) (\S+) HTTP/[\d.]+"', line)
        if m:
            seen.append(m.group(2))
            if m.group(1) != "GET" or m.group(2) not in ("/", "/api/v1/stats"):
                bad.append(m.group(1) + " " + m.group(2))
    print("%d request(s): %s; unexpected: %s" % (len(seen), " ".join(sorted(set(seen))), " ".join(bad) or "none"))
    return 1 if bad or not seen else 0


# ---------------------------------------------------------------- PNG

def cmd_png(args):
    data = open(args.file, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        print("not a PNG")
        return 1
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    # Decode the image well enough to count colours: a blank or error page
    # has a handful; the dashboard has many.
    idat, pos = b"", 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp = {2: 3, 6: 4}.get(ctype, 1) * max(1, depth // 8)
    stride = w * bpp + 1
    colours = set()
    for y in range(0, h, 7):
        row = raw[y * stride + 1:(y + 1) * stride]  # filter bytes make this approximate: fine for counting
        for x in range(0, w * bpp, bpp * 5):
            colours.add(row[x:x + bpp])
    print("%dx%d, %d bytes, ~%d colours" % (w, h, len(data), len(colours)))
    return 0 if (w, h) == (args.width, args.height) and len(colours) > 50 else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="action", required=True)
    p = sub.add_parser("run")
    p.add_argument("--stdout")
    p.add_argument("--stderr")
    p.add_argument("--timeout", type=float, default=None)
    p.add_argument("cmd", nargs="+")
    p = sub.add_parser("shot")
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--wait", type=float, default=10)
    p.add_argument("--size", default="1280x900")
    p.add_argument("--console")
    p.add_argument("--dom")
    p.add_argument("--stderr")
    p.add_argument("cmd", nargs="+")
    p = sub.add_parser("console")
    p.add_argument("stderr")
    p.add_argument("--expect-info")
    p.add_argument("--allow", action="append", default=[])
    p = sub.add_parser("static")
    p.add_argument("page")
    p = sub.add_parser("compare")
    p.add_argument("dom")
    p.add_argument("stats")
    p.add_argument("service")
    p.add_argument("weights", nargs="*")
    p = sub.add_parser("dom")
    p.add_argument("dom")
    p.add_argument("expr")
    p = sub.add_parser("same")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("requests")
    p.add_argument("log")
    p = sub.add_parser("png")
    p.add_argument("file")
    p.add_argument("width", type=int)
    p.add_argument("height", type=int)
    args = ap.parse_args()
    return {"run": cmd_run, "shot": cmd_shot, "console": cmd_console, "static": cmd_static,
            "compare": cmd_compare, "dom": cmd_dom, "png": cmd_png, "same": cmd_same,
            "requests": cmd_requests}[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
