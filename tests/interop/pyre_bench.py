"""Pyre twins of `zmesh-tester echo` and `zmesh-tester sink`, confined to loopback,
for the same-run comparisons of scripts/bench (see docs/benchmarks.md).

usage: pyre_bench.py echo|sink PORT     (the end of standard input stops it)

echo: a node called "echo" that whispers every whisper's first frame back.
sink: a node called "sink" that counts whispers, answers "ACK <n>" after every 128
      and "COUNT <messages> <bytes>" to "END".
"""
import sys
import uuid

import zmq

import pyre_loopback  # noqa: F401  (confines Pyre's beacons to loopback)
from pyre import Pyre

ACK_EVERY = 128


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    node = Pyre(mode)
    node.set_port(str(port).encode())
    node.start()
    sock = node.socket()
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    count = size = 0
    while True:
        items = dict(poller.poll(1000))
        if sys.stdin.fileno() in items and not sys.stdin.buffer.read1(4096):
            break
        if sock not in items:
            continue
        frames = node.recv()
        if frames[0] != b"WHISPER":
            continue
        peer, payload = frames[1], frames[3] if len(frames) > 3 else b""
        peer = uuid.UUID(bytes=peer)
        if mode == "echo":
            node.whisper(peer, payload)
        elif payload == b"END":
            node.whisper(peer, b"COUNT %d %d" % (count, size))
            count = size = 0
        else:
            count += 1
            size += len(payload)
            if count % ACK_EVERY == 0:
                node.whisper(peer, b"ACK %d" % count)
    node.stop()


if __name__ == "__main__":
    main()
