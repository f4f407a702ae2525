"""libzmq (through pyzmq) peers for zmesh's ZMTP interop tests, on 127.0.0.1 only.
Reports as JSON lines on stdout; frames are hex strings.

usage: zmtp_peer.py router
           A ROUTER bound on 127.0.0.1; prints {"type": "BOUND", "port": P}; prints
           every message as {"type": "MSG", "frames": [...]} (frame 0 is the sender's
           identity) and echoes it back to the sender.
       zmtp_peer.py dealers PORT
           DEALERs connected to 127.0.0.1:PORT on request: {"cmd": "connect",
           "identity": HEX} makes dealer i (0, 1, ...); {"cmd": "send", "dealer": i,
           "frames": [...]} sends; what dealer i receives is printed as
           {"type": "MSG", "dealer": i, "frames": [...]}.
Stops at the end of stdin.
"""
import json
import os
import sys

import zmq

from lines import Lines, out


def main():
    ctx = zmq.Context()
    poller = zmq.Poller()
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    stdin = Lines()
    mode = sys.argv[1]
    socks = []
    if mode == "router":
        r = ctx.socket(zmq.ROUTER)
        r.setsockopt(zmq.LINGER, 0)
        port = r.bind_to_random_port("tcp://127.0.0.1")
        socks.append(r)
        out({"type": "BOUND", "port": port})
    else:
        port = int(sys.argv[2])
    for s in socks:
        poller.register(s, zmq.POLLIN)
    while True:
        items = dict(poller.poll(1000))
        for i, s in enumerate(socks):
            if s in items:
                frames = s.recv_multipart()
                if mode == "router":
                    out({"type": "MSG", "frames": [f.hex() for f in frames]})
                    s.send_multipart(frames)
                else:
                    out({"type": "MSG", "dealer": i, "frames": [f.hex() for f in frames]})
        if sys.stdin.fileno() in items:
            for cmd in stdin.read():
                if cmd["cmd"] == "connect":
                    d = ctx.socket(zmq.DEALER)
                    d.setsockopt(zmq.LINGER, 0)
                    # No automatic reconnect: a dealer whose connection the ROUTER
                    # handed over to a newer one stays gone, like a dead process.
                    d.setsockopt(zmq.RECONNECT_IVL, -1)
                    if cmd["identity"]:  # empty: anonymous, the ROUTER makes an id up
                        d.setsockopt(zmq.IDENTITY, bytes.fromhex(cmd["identity"]))
                    d.connect("tcp://127.0.0.1:%d" % port)
                    socks.append(d)
                    poller.register(d, zmq.POLLIN)
                    out({"type": "CONNECTING", "dealer": len(socks) - 1})
                else:
                    socks[cmd["dealer"]].send_multipart([bytes.fromhex(f) for f in cmd["frames"]])
            if stdin.eof:
                break
    for s in socks:
        s.close()
    ctx.term()


if __name__ == "__main__":
    main()
