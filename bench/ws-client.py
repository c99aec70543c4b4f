#!/usr/bin/python3
# bench/ws-client.py - the WebSocket load of bench/websockets.sh (Debian's
# python3-websockets, asyncio, one process).
#
#   ws-client.py URL N INTERVAL HOLD READY OUT [BATCH [OPEN_TIMEOUT]]
#
# Opens N WebSockets to URL, BATCH at a time (default 500), each open
# given OPEN_TIMEOUT seconds (default 10). A proxy that holds a thread per
# tunnel stops accepting once its threads are taken: the opens then time
# out, and after a whole batch opened none the client stops trying (it
# never hangs). Then it writes READY (JSON: opened, ...), and for HOLD
# seconds every open WebSocket sends a small message every INTERVAL
# seconds (the first at a random point of the first interval, so the load
# is spread) and times the echo. SIGUSR1 toggles the phase a message
# counts in, quiet or "wrk" (the caller sends it around its other load).
# Then it closes them all and writes OUT (JSON): what opened, why the rest
# did not, round trips per phase (p50/p99/max in ms), messages lost (no
# echo within INTERVAL) or garbled, WebSockets closed early by the other
# side.
import asyncio
import json
import random
import resource
import signal
import sys
import time

import websockets


async def open_one(url, timeout):
    try:
        ws = await websockets.connect(
            url, open_timeout=timeout, ping_interval=None, compression=None,
            close_timeout=1, max_queue=4)
        return ws, None
    except asyncio.TimeoutError:
        return None, "timeout"
    except websockets.InvalidStatusCode as e:
        return None, "status %d" % e.status_code
    except Exception as e:          # refused, reset: count it by kind
        return None, type(e).__name__


async def talk(ws, i, interval, stop_at, st):
    await asyncio.sleep(random.uniform(0, interval))
    while True:
        t0 = time.monotonic()
        if t0 + 0.5 > stop_at:
            return
        msg = "%d %.6f" % (i, t0)
        phase = st["phase"]
        try:
            # asyncio.timeout (3.11): no extra task per message, as
            # wait_for would make - the client is the bottleneck first
            async with asyncio.timeout(interval):
                await ws.send(msg)
                reply = await ws.recv()
        except TimeoutError:
            st["lost"] += 1
            continue
        except websockets.ConnectionClosed:
            st["closed_early"] += 1
            return
        if reply == msg:
            st[phase].append(time.monotonic() - t0)
        else:
            st["garbled"] += 1
        await asyncio.sleep(max(0.0, t0 + interval - time.monotonic()))


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(len(xs) * p / 100))], 2)


async def main(url, n, interval, hold, ready, out, batch, open_timeout):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    res = {"attempted": 0, "opened": 0, "open_failed": {}, "gave_up": None}
    socks = []
    t0 = time.monotonic()
    for start in range(0, n, batch):
        k = min(batch, n - start)
        got = await asyncio.gather(*(open_one(url, open_timeout)
                                     for _ in range(k)))
        res["attempted"] += k
        ok = [ws for ws, why in got if ws]
        socks += ok
        for ws, why in got:
            if why:
                res["open_failed"][why] = res["open_failed"].get(why, 0) + 1
        if not ok:
            res["gave_up"] = ("a batch of %d opened none; %d not tried"
                              % (k, n - start - k))
            break
    res["opened"] = len(socks)
    res["open_secs"] = round(time.monotonic() - t0, 1)
    with open(ready, "w") as f:
        json.dump(res, f)
    st = {"quiet": [], "wrk": [], "phase": "quiet", "lost": 0, "garbled": 0,
          "closed_early": 0}
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGUSR1, lambda: st.update(
            phase="wrk" if st["phase"] == "quiet" else "quiet"))
    stop_at = time.monotonic() + hold
    tasks = [asyncio.create_task(talk(ws, i, interval, stop_at, st))
             for i, ws in enumerate(socks)]
    await asyncio.sleep(hold)
    res["still_open"] = sum(1 for ws in socks if ws.open)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.wait_for(asyncio.gather(
            *(ws.close() for ws in socks), return_exceptions=True), 30)
    except asyncio.TimeoutError:
        for ws in socks:
            ws.transport.abort()
    res.update(messages=len(st["quiet"]) + len(st["wrk"]), lost=st["lost"],
               garbled=st["garbled"], closed_early=st["closed_early"])
    for phase in ("quiet", "wrk"):
        res.update({"%s_n" % phase: len(st[phase]),
                    "%s_p50_ms" % phase: pct(st[phase], 50),
                    "%s_p99_ms" % phase: pct(st[phase], 99),
                    "%s_max_ms" % phase: pct(st[phase], 100)})
    with open(out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], int(a[1]), float(a[2]), float(a[3]), a[4], a[5],
                     int(a[6]) if len(a) > 6 else 500,
                     float(a[7]) if len(a) > 7 else 10))
