#!/usr/bin/python3
# bench/ws-echo.py PORT - the WebSocket member of bench/websockets.sh: an
# asyncio echo server (Debian's python3-websockets) on 127.0.0.1:PORT that
# sends every message back as it came. No keepalive pings (the client
# measures round trips of its own messages only). Holds 10,000+
# connections: the caller raises the descriptor limit (ulimit -n).
import asyncio
import signal
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main(port):
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", port, ping_interval=None,
                                max_queue=4, backlog=4096, compression=None,
                                close_timeout=1):
        print("ws-echo: listening on %d" % port, flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
