#!/usr/bin/python3
# An HTTP/2 (h2c, prior knowledge) WebSocket client for 84_h2_websocket.t.
# On ONE connection: two RFC 8441 extended CONNECTs (:protocol websocket)
# to WSBASE + "a" and WSBASE + "b", RFC 6455 frames both ways on each, a
# plain GET of GETPATH while both are open, an extended CONNECT to NOUP (a
# route that allows no upgrade), the closing handshakes, and a last GET.
# Prints one fact a line, in this order:
#   settings-connect-protocol N       SETTINGS_ENABLE_CONNECT_PROTOCOL
#   a-status N / b-status N           the answers to the extended CONNECTs
#   a-headers NAMES                   a's response header names (sorted)
#   a-recv KIND:PAYLOAD               a frame the member sent on a (text:T,
#                                     binary:LEN:MD5, pong:T, close:CODE)
#   get-status N / get-body TEXT      the GET while both WebSockets are open
#   noup-status N                     the extended CONNECT to NOUP
#   es-status N                       one with END_STREAM (no input)
#   a-end HOW / b-end HOW             how the stream ended after the close
#                                     handshake (ended[,reset:CODE] or open)
#   get2-status N                     a GET after both WebSockets ended
#   closed REASON                     the connection ended (GOAWAY or EOF)
# Usage: h2ws_echo.py PORT WSBASE GETPATH NOUP
import hashlib
import os
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class Client:
    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.closed = None
        self.settings = False
        self.streams = {}
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def st(self, sid):
        return self.streams.setdefault(sid, {"data": b"", "frames": []})

    def on_event(self, ev):
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.settings = True
        elif isinstance(ev, h2.events.ResponseReceived):
            self.st(ev.stream_id)["headers"] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            s = self.st(ev.stream_id)
            s["data"] += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length,
                                                ev.stream_id)
            parse_frames(s)
        elif isinstance(ev, h2.events.StreamEnded):
            self.st(ev.stream_id)["ended"] = \
                self.st(ev.stream_id).get("ended", "") + "ended,"
        elif isinstance(ev, h2.events.StreamReset):
            self.st(ev.stream_id)["ended"] = \
                self.st(ev.stream_id).get("ended", "") \
                + "reset:%d," % int(ev.error_code)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.closed = "goaway %s" % ev.error_code

    def pump(self, until, secs=5):
        end = time.time() + secs
        while not until() and not self.closed and time.time() < end:
            self.sock.settimeout(max(0.01, end - time.time()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except OSError as e:
                self.closed = "error %s" % e
                break
            if not data:
                self.closed = "eof"
                break
            for ev in self.conn.receive_data(data):
                self.on_event(ev)
            self.flush()
        return until()

    def request(self, method, path, extra=(), end_stream=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method)]
        if method == "CONNECT":
            hdrs.append((":protocol", "websocket"))
        hdrs += [(":scheme", "http"), (":path", path),
                 (":authority", "localhost:%d" % self.port)] + list(extra)
        self.conn.send_headers(sid, hdrs, end_stream=end_stream)
        self.flush()
        self.st(sid)
        return sid

    def status(self, sid):
        return self.st(sid).get("headers", {}).get(":status")

    def send(self, sid, data):
        """Sends data on sid within the flow-control windows."""
        while data and not self.closed:
            n = min(len(data), self.conn.local_flow_control_window(sid),
                    self.conn.max_outbound_frame_size)
            if n <= 0:
                win = self.conn.local_flow_control_window
                if not self.pump(lambda: win(sid) > 0):
                    raise RuntimeError("no flow-control window")
                continue
            self.conn.send_data(sid, data[:n])
            self.flush()
            data = data[n:]

    def ws_send(self, sid, opcode, payload):
        try:
            self.send(sid, ws_frame(opcode, payload))
        except h2.exceptions.ProtocolError as e:
            print("send-failed %d %s" % (sid, type(e).__name__))

    def ws_recv(self, sid, secs=5):
        s = self.st(sid)
        self.pump(lambda: s["frames"] or s.get("ended"), secs)
        return s["frames"].pop(0) if s["frames"] else "none"


def ws_frame(opcode, payload):
    """A client frame: FIN, masked (RFC 6455 section 5.3)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_frames(s):
    """Moves the complete (unmasked, server) frames of s["data"] to
    s["frames"], described as KIND:PAYLOAD."""
    buf = s["data"]
    while len(buf) >= 2:
        op, n, off = buf[0] & 0x0f, buf[1] & 0x7f, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, off = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, off = struct.unpack("!Q", buf[2:10])[0], 10
        if buf[1] & 0x80:
            s["frames"].append("masked-by-server")
        if len(buf) < off + n:
            break
        p = buf[off:off + n]
        buf = buf[off + n:]
        if op == 1:
            s["frames"].append("text:" + p.decode("utf-8", "replace"))
        elif op == 2:
            s["frames"].append("binary:%d:%s" % (n, hashlib.md5(p).hexdigest()))
        elif op == 10:
            s["frames"].append("pong:" + p.decode("latin-1"))
        elif op == 8:
            code = struct.unpack("!H", p[:2])[0] if n >= 2 else 0
            s["frames"].append("close:%d" % code)
        else:
            s["frames"].append("opcode%d:%d" % (op, n))
    s["data"] = buf


def main():
    port, wsbase, getpath, noup = (int(sys.argv[1]), sys.argv[2],
                                   sys.argv[3], sys.argv[4])
    c = Client(port)
    c.pump(lambda: c.settings)
    enabled = c.conn.remote_settings.enable_connect_protocol
    print("settings-connect-protocol %d" % enabled, flush=True)
    if not enabled:
        return
    ws13 = [("sec-websocket-version", "13")]
    a = c.request("CONNECT", wsbase + "a", ws13, end_stream=False)
    b = c.request("CONNECT", wsbase + "b", ws13, end_stream=False)
    c.pump(lambda: c.status(a) and c.status(b))
    print("a-status %s" % c.status(a))
    print("b-status %s" % c.status(b))
    print("a-headers %s" % ",".join(sorted(
        k for k in c.st(a).get("headers", {})
        if k not in (":status", "date", "server"))))
    if c.status(a) != "200" or c.status(b) != "200":
        return
    # the member speaks first, then echoes each frame
    print("a-recv %s" % c.ws_recv(a))
    print("b-recv %s" % c.ws_recv(b))
    c.ws_send(a, 1, b"one")
    c.ws_send(b, 1, b"two")
    big = bytes((i * 7) & 0xff for i in range(100000))
    c.ws_send(a, 2, big)
    print("a-recv %s" % c.ws_recv(a))
    print("b-recv %s" % c.ws_recv(b))
    print("a-recv %s" % c.ws_recv(a))
    print("a-sent binary:%d:%s" % (len(big), hashlib.md5(big).hexdigest()))
    # another stream while both are open
    g = c.request("GET", getpath)
    c.pump(lambda: c.st(g).get("ended"))
    print("get-status %s" % c.status(g))
    print("get-body %s" % c.st(g)["data"].decode("latin-1").strip())
    c.ws_send(a, 1, b"after-get")
    print("a-recv %s" % c.ws_recv(a))
    c.ws_send(a, 9, b"p")
    print("a-recv %s" % c.ws_recv(a))
    # a route without upgrades: the stream fails, nothing else does
    n = c.request("CONNECT", noup, ws13, end_stream=False)
    c.pump(lambda: c.status(n))
    print("noup-status %s" % c.status(n))
    # an extended CONNECT that ends its stream at once: no input to wait on
    e = c.request("CONNECT", wsbase + "es", ws13, end_stream=True)
    c.pump(lambda: c.st(e).get("ended"))
    print("es-status %s" % c.status(e))
    # a closes; b goes on, then closes too
    c.ws_send(a, 8, struct.pack("!H", 1000))
    print("a-recv %s" % c.ws_recv(a))
    c.pump(lambda: c.st(a).get("ended"))
    print("a-end %s" % c.st(a).get("ended", "open,").rstrip(","))
    c.ws_send(b, 1, b"still")
    print("b-recv %s" % c.ws_recv(b))
    c.ws_send(b, 8, struct.pack("!H", 1000))
    print("b-recv %s" % c.ws_recv(b))
    c.pump(lambda: c.st(b).get("ended"))
    print("b-end %s" % c.st(b).get("ended", "open,").rstrip(","))
    g = c.request("GET", getpath)
    c.pump(lambda: c.st(g).get("ended"))
    print("get2-status %s" % c.status(g))
    if c.closed:
        print("closed %s" % c.closed)


if __name__ == "__main__":
    main()
