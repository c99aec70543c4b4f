#!/usr/bin/python3
# An HTTP/2 (h2c, prior knowledge) client for 33_tunnel_faults.t: on one
# connection, an RFC 8441 extended CONNECT (:protocol websocket) to WSPATH,
# then a plain GET of GETPATH. Prints what happened, one fact a line:
#   settings-connect-protocol N   the server's SETTINGS_ENABLE_CONNECT_PROTOCOL
#   ws-status N                   the answer to the extended CONNECT
#   ws-data BYTES                 DATA received on that stream (after MESSAGE,
#                                 "ping" by default)
#   ws-end HOW                    how that stream ended within HOLD seconds:
#                                 ended[,reset:CODE], reset:CODE or open
#                                 (the client sends nothing more meanwhile)
#   ws-end-after SECS             when, counted from ws-data
#   get-status N / get-body TEXT  the plain GET on the same connection
#   closed REASON                 the connection ended (GOAWAY or EOF)
# Usage: h2ws_client.py PORT WSPATH GETPATH [HOLD [MESSAGE]]
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


def main():
    port, wspath, getpath = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0
    message = sys.argv[5].encode() if len(sys.argv) > 5 else b"ping"
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    state = {"closed": None, "settings": False}
    streams = {}

    def pump(until, secs):
        end = time.time() + secs
        while not until() and not state["closed"] and time.time() < end:
            sock.settimeout(max(0.01, end - time.time()))
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            except OSError as e:
                state["closed"] = "error %s" % e
                break
            if not data:
                state["closed"] = "eof"
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    state["settings"] = True
                elif isinstance(ev, h2.events.ResponseReceived):
                    streams.setdefault(ev.stream_id, {})["status"] = \
                        dict(ev.headers).get(":status")
                elif isinstance(ev, h2.events.DataReceived):
                    st = streams.setdefault(ev.stream_id, {})
                    st["data"] = st.get("data", b"") + ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    st = streams.setdefault(ev.stream_id, {})
                    st["ended"] = st.get("ended", "") + "ended,"
                elif isinstance(ev, h2.events.StreamReset):
                    st = streams.setdefault(ev.stream_id, {})
                    st["ended"] = st.get("ended", "") + \
                        "reset:%s," % int(ev.error_code)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    state["closed"] = "goaway %s" % ev.error_code
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

    pump(lambda: state["settings"], 5)
    enabled = conn.remote_settings.enable_connect_protocol
    print("settings-connect-protocol %d" % enabled)
    if not enabled:
        return
    ws = conn.get_next_available_stream_id()
    conn.send_headers(ws, [(":method", "CONNECT"), (":protocol", "websocket"),
                           (":scheme", "http"), (":path", wspath),
                           (":authority", "localhost:%d" % port),
                           ("sec-websocket-version", "13")])
    sock.sendall(conn.data_to_send())
    pump(lambda: "status" in streams.get(ws, {}), 5)
    print("ws-status %s" % streams.get(ws, {}).get("status"))
    if streams.get(ws, {}).get("status") == "200" and not state["closed"]:
        conn.send_data(ws, message)
        sock.sendall(conn.data_to_send())
        pump(lambda: len(streams[ws].get("data", b"")) >= 5 + len(message), 3)
        print("ws-data %s" % streams[ws].get("data", b"").decode("latin-1"),
              flush=True)
        t0 = time.time()
        pump(lambda: streams[ws].get("ended"), hold)
        print("ws-end %s" % streams[ws].get("ended", "open,").rstrip(","))
        print("ws-end-after %.2f" % (time.time() - t0))
    if not state["closed"]:
        get = conn.get_next_available_stream_id()
        conn.send_headers(get, [(":method", "GET"), (":scheme", "http"),
                                (":path", getpath),
                                (":authority", "localhost:%d" % port)],
                          end_stream=True)
        sock.sendall(conn.data_to_send())
        pump(lambda: streams.get(get, {}).get("ended"), 5)
        print("get-status %s" % streams.get(get, {}).get("status"))
        print("get-body %s" % streams.get(get, {}).get("data", b"")
              .decode("latin-1").strip())
    if state["closed"]:
        print("closed %s" % state["closed"])


if __name__ == "__main__":
    main()
