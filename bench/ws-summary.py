#!/usr/bin/python3
# bench/ws-summary.py OUTDIR N PROXY... - the table of bench/websockets.sh
# from what it left in OUTDIR (per proxy: NAME.ready and NAME.json from
# ws-client.py, NAME.rss0/.rss1 in KiB, NAME.busy, NAME.wrk.before/.with
# as "req/s p99_ms timeouts errors", NAME.trouble), with the issue's
# targets for mod_rproxy.
import json
import os
import re
import sys


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def load(out, name):
    d = {"name": name}
    d["client"] = json.loads(read(os.path.join(out, name + ".json"), "{}")
                             or "{}")
    if not d["client"]:
        d["client"] = json.loads(read(os.path.join(out, name + ".ready"),
                                      "{}") or "{}")
    rss0 = int(read(os.path.join(out, name + ".rss0"), "0") or 0)
    rss1 = int(read(os.path.join(out, name + ".rss1"), "0") or 0)
    d["rss0"], d["rss1"] = rss0, rss1
    opened = d["client"].get("opened", 0)
    d["per_tunnel"] = (rss1 - rss0) / opened if opened and rss1 else None
    d["busy"] = read(os.path.join(out, name + ".busy"), "-")
    for when in ("before", "with"):
        f = read(os.path.join(out, "%s.wrk.%s" % (name, when)),
                 "0 - - -").split()
        d[when] = {"rps": float(f[0]),
                   "p99": float(f[1]) if f[1] != "-" else None,
                   "timeouts": f[2], "errors": f[3]}
    d["trouble"] = read(os.path.join(out, name + ".trouble"))
    return d


def fmt(x, spec="%.1f"):
    return "-" if x is None else spec % x


def main():
    out, n, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    rows = [load(out, name) for name in names]
    print("WebSockets: N=%d per proxy (bench/websockets.sh)" % n)
    cpu = read(os.path.join(out, "cpu.txt"))
    if cpu:
        print(cpu)
    print("echo round trips: rtt_* with nothing else running, +wrk_p99 "
          "while wrk loads /small/")
    print()
    print("%-9s %7s %6s %8s %8s %9s %6s %8s %8s %8s  %s"
          % ("proxy", "opened", "open_s", "rtt_p50", "rtt_p99", "+wrk_p99",
             "lost", "RSS0_MiB", "RSS_MiB", "KiB/tun", "threads"))
    for d in rows:
        c = d["client"]
        print("%-9s %7s %6s %8s %8s %9s %6s %8.1f %8.1f %8s  %s"
              % (d["name"], c.get("opened", "-"), c.get("open_secs", "-"),
                 fmt(c.get("quiet_p50_ms"), "%.1fms"),
                 fmt(c.get("quiet_p99_ms"), "%.1fms"),
                 fmt(c.get("wrk_p99_ms"), "%.1fms"), c.get("lost", "-"),
                 d["rss0"] / 1024, d["rss1"] / 1024,
                 fmt(d["per_tunnel"]), d["busy"]))
    print()
    print("/small/ (wrk): req/s and p99 alone -> with the WebSockets open")
    for d in rows:
        b, w = d["before"], d["with"]
        ratio = w["rps"] / b["rps"] if b["rps"] else None
        print("%-9s %8.0f %8s ms -> %8.0f %8s ms  (%s of the req/s; "
              "timeouts %s, errors %s)"
              % (d["name"], b["rps"], fmt(b["p99"]), w["rps"], fmt(w["p99"]),
                 fmt(ratio and 100 * ratio, "%.0f%%"), w["timeouts"],
                 w["errors"]))
    print()
    for d in rows:
        c = d["client"]
        notes = []
        if c.get("open_failed"):
            notes.append("failed opens: %s" % c["open_failed"])
        if c.get("gave_up"):
            notes.append("gave up: %s" % c["gave_up"])
        for k in ("garbled", "closed_early"):
            if c.get(k):
                notes.append("%s: %s" % (k, c[k]))
        if d["trouble"]:
            codes = sorted(set(re.findall(r"\b(AH\d+|RP\d+)", d["trouble"])))
            notes.append("error_log: %d line(s) at error or above (%s)"
                         % (len(d["trouble"].splitlines()),
                            ", ".join(codes) or "untagged"))
        if notes:
            print("%s: %s" % (d["name"], "; ".join(notes)))
    targets(n, {d["name"]: d for d in rows})


def targets(n, by):
    """The issue's targets, for mod_rproxy."""
    d = by.get("rproxy")
    if not d:
        return
    c, b, w = d["client"], d["before"], d["with"]

    def mark(ok):
        return "PASS" if ok else "FAIL"
    print()
    print("targets (mod_rproxy):")
    print("  all %d open and echoing: %s" % (n, mark(
        c.get("opened") == n and not c.get("lost")
        and c.get("messages", 0) > 0)))
    print("  /small/ keeps >= 80%% of its req/s: %s" % mark(
        b["rps"] and w["rps"] >= 0.8 * b["rps"]))
    print("  /small/ p99 under 2x: %s" % mark(
        b["p99"] is not None and w["p99"] is not None
        and w["rps"] > 0 and w["p99"] < 2 * b["p99"]))
    for other, factor in (("wstunnel", 1), ("nginx", 2)):
        o = by.get(other)
        if o and o["per_tunnel"] is not None and d["per_tunnel"] is not None:
            print("  KiB/tunnel <= %s x %s's: %s" % (factor, other, mark(
                d["per_tunnel"] <= factor * o["per_tunnel"]
                and c.get("opened", 0) >= o["client"].get("opened", 0))))


if __name__ == "__main__":
    main()
