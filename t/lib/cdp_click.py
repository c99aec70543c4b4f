#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
#
# cdp_click.py - load a page in headless Chromium, click an element, wait
# for the navigation it starts, and print where the browser ended up, as a
# user would see it: a minimal Chrome DevTools Protocol client (the
# browser's websocket, one page target attached in flat mode), enough for
# 73_status_page.t to press a form button without a WebDriver.
#
#   cdp_click.py URL CSS-SELECTOR [TIMEOUT-SECONDS]
#
# Prints one JSON object: {"clicked": bool, "url": the page's URL after
# the navigation, "banner": the text of the page's .banner or ""}; exit 0
# when the element was clicked and a new page loaded, 1 otherwise, 2 on
# usage or a browser that does not start. Runs Chromium with --no-sandbox
# (needed as root) and a profile of its own in a temporary directory.

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

import websockets


class Cdp:
    """Commands by id, events queued, over one websocket."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events = []

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    async def wait_event(self, method, timeout):
        async def wait():
            while True:
                for i, ev in enumerate(self.events):
                    if ev.get("method") == method:
                        del self.events[i]
                        return ev
                self.events.append(json.loads(await self.ws.recv()))
        return await asyncio.wait_for(wait(), timeout)

    async def evaluate(self, session, expression):
        res = await self.call("Runtime.evaluate",
                              {"expression": expression,
                               "returnByValue": True}, session)
        return res.get("result", {}).get("value")


def start_browser(profile):
    """Chromium on a free debugging port; its browser websocket URL."""
    cmd = [os.environ.get("CHROMIUM", "chromium"), "--headless",
           "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
           f"--user-data-dir={profile}", "about:blank"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stderr:
        m = re.search(r"DevTools listening on (ws://\S+)", line)
        if m:
            # keep reading, so that its logging never fills the pipe
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, m.group(1)
    proc.wait()
    return proc, None


async def click(ws_url, url, selector, timeout):
    async with websockets.connect(ws_url, max_size=None) as ws:
        cdp = Cdp(ws)
        target = await cdp.call("Target.createTarget", {"url": "about:blank"})
        attached = await cdp.call("Target.attachToTarget",
                                  {"targetId": target["targetId"],
                                   "flatten": True})
        session = attached["sessionId"]
        await cdp.call("Page.enable", {}, session)
        await cdp.call("Page.navigate", {"url": url}, session)
        await cdp.wait_event("Page.loadEventFired", timeout)
        clicked = await cdp.evaluate(
            session, "(function(){var e=document.querySelector(%s);"
                     "if(!e)return false;e.click();return true;})()"
                     % json.dumps(selector))
        loaded = False
        if clicked:
            try:
                await cdp.wait_event("Page.loadEventFired", timeout)
                loaded = True
            except asyncio.TimeoutError:
                pass
        out = {
            "clicked": bool(clicked),
            "url": await cdp.evaluate(session, "location.href"),
            "banner": await cdp.evaluate(
                session, "(document.querySelector('.banner')||"
                         "{textContent:''}).textContent"),
        }
        try:
            await cdp.call("Browser.close")
        except Exception:
            pass            # the browser may close the socket first
        return out, loaded


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: cdp_click.py URL SELECTOR [TIMEOUT]", file=sys.stderr)
        return 2
    url, selector = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) == 4 else 20
    profile = tempfile.mkdtemp(prefix="cdp_click.")
    proc = None
    try:
        proc, ws_url = start_browser(profile)
        if not ws_url:
            print("cdp_click: chromium did not start", file=sys.stderr)
            return 2
        out, loaded = asyncio.run(click(ws_url, url, selector, timeout))
        print(json.dumps(out))
        return 0 if out["clicked"] and loaded else 1
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
