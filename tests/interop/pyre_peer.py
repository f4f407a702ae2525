"""A Pyre node confined to loopback, driven by JSON lines on stdin, reporting its
events as JSON lines on stdout. Used by zmesh's interop tests.

Stock Pyre broadcasts on the first non-loopback interface; this script replaces its
beacon socket setup so that it uses 127.0.0.1 and broadcasts to 127.255.255.255,
and it exits at once if a beacon would go anywhere else.

usage: pyre_peer.py NAME PORT [KEY=VALUE | +GROUP ...]
commands: {"cmd": "join"|"leave", "group": G}
          {"cmd": "shout", "group": G, "frames": [hex, ...]}
          {"cmd": "whisper", "peer": HEX32, "frames": [hex, ...]}
          {"cmd": "peers"}  {"cmd": "stop"}
"""
import json
import os
import sys
import uuid

import zmq

from lines import Lines, out
import pyre_loopback  # noqa: F401  (confines Pyre's beacons to loopback)
from pyre import Pyre


def hexs(frames):
    return [f.hex() for f in frames]


def event(frames):
    kind = frames[0].decode()
    ev = {"type": kind, "peer": frames[1].hex().upper(), "name": frames[2].decode()}
    rest = frames[3:]
    if kind == "ENTER":
        ev["headers"] = json.loads(rest[0].decode())
        ev["endpoint"] = rest[1].decode()
    elif kind in ("JOIN", "LEAVE"):
        ev["group"] = rest[0].decode()
    elif kind == "SHOUT":
        ev["group"] = rest[0].decode()
        ev["payload"] = hexs(rest[1:])
    elif kind == "WHISPER":
        ev["payload"] = hexs(rest)
    return ev


def handle(node, cmd):
    """Carries out one command; False for stop."""
    c = cmd["cmd"]
    frames = [bytes.fromhex(f) for f in cmd.get("frames", [])]
    if c == "join":
        node.join(cmd["group"])
    elif c == "leave":
        node.leave(cmd["group"])
    elif c == "shout":
        node.shout(cmd["group"], frames)
    elif c == "whisper":
        node.whisper(uuid.UUID(hex=cmd["peer"]), frames)
    elif c == "peers":
        out({"type": "PEERS", "peers": [p.hex.upper() for p in node.peers()]})
    elif c == "stop":
        return False
    return True


def main():
    if os.environ.get("PYRE_DEBUG"):
        import logging
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    name, port = sys.argv[1], int(sys.argv[2])
    node = Pyre(name)
    for arg in sys.argv[3:]:
        if arg.startswith("+"):  # +GROUP: joined before start
            node.join(arg[1:])
        else:
            k, v = arg.split("=", 1)
            node.set_header(k, v)
    node.set_port(str(port).encode())
    node.start()
    out({"type": "STARTED", "peer": node.uuid().hex.upper(), "name": name})
    sock = node.socket()
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    stdin = Lines()
    while True:
        items = dict(poller.poll(1000))
        if sock in items:
            out(event(node.recv()))
        if sys.stdin.fileno() in items:
            for cmd in stdin.read():
                if not handle(node, cmd):
                    stdin.eof = True
            if stdin.eof:
                break
    node.stop()
    out({"type": "STOPPED"})


if __name__ == "__main__":
    main()
