"""libzmq (through pyzmq) PUB and SUB sockets for zmesh's ZRE-LOG interop tests,
on 127.0.0.1 only. Reports as JSON lines on stdout.

usage: zrelog_peer.py sub
           A SUB bound on 127.0.0.1, subscribed to the ZRE-LOG signature AA A2;
           prints {"type": "BOUND", "port": P}, then every message it receives,
           decoded here by the layout of the guide's chapter 8 (not by zmesh):
           {"type": "LOG", "frames": n, "level": L, "event": E, "node": N,
            "peer": P, "time": T, "data": TEXT} or {"type": "BAD", "hex": ...}.
       zrelog_peer.py pub PORT
           A PUB connected to 127.0.0.1:PORT; {"cmd": "send", "hex": H} sends the
           frame H every 100 ms until {"cmd": "stop"}.
Stops at the end of stdin.
"""
import struct
import sys

import zmq

from lines import Lines, out


def decode(frame):
    # LOG = AA A2 01 level event node(2) peer(2) time(8) data(1-byte length + text)
    if len(frame) < 18 or frame[:3] != b"\xaa\xa2\x01":
        return None
    level, event, node, peer, time = struct.unpack(">BBHHQ", frame[3:17])
    n = frame[17]
    if len(frame) != 18 + n:
        return None
    return {"level": level, "event": event, "node": node, "peer": peer, "time": time,
            "data": frame[18:].decode("utf-8")}


def main():
    ctx = zmq.Context()
    poller = zmq.Poller()
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    stdin = Lines()
    mode = sys.argv[1]
    sock = None
    sending = None
    if mode == "sub":
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"\xaa\xa2")
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        poller.register(sock, zmq.POLLIN)
        out({"type": "BOUND", "port": port})
    else:
        sock = ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect("tcp://127.0.0.1:%d" % int(sys.argv[2]))
    while True:
        items = dict(poller.poll(100))
        if mode == "sub" and sock in items:
            frames = sock.recv_multipart()
            rec = decode(frames[0])
            if rec is None:
                out({"type": "BAD", "hex": frames[0].hex()})
            else:
                rec.update({"type": "LOG", "frames": len(frames)})
                out(rec)
        if sending is not None:
            sock.send(sending)
        if sys.stdin.fileno() in items:
            for cmd in stdin.read():
                if cmd["cmd"] == "send":
                    sending = bytes.fromhex(cmd["hex"])
                elif cmd["cmd"] == "stop":
                    sending = None
            if stdin.eof:
                return


if __name__ == "__main__":
    main()
