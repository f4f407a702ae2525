"""libzmq CURVE peers (through pyzmq) for zmesh's CURVE interop tests, on 127.0.0.1
only. Reports as JSON lines on stdout; frames are hex strings, keys Z85.

usage: curve_peer.py server
           A CURVE server ROUTER bound on 127.0.0.1 with a fresh key pair; prints
           {"type": "BOUND", "port": P, "public": KEY}, then every message as
           {"type": "MSG", "frames": [...]} (frame 0 is the sender's identity),
           echoing it back to the sender.
       curve_peer.py client PORT SERVER_KEY
           A CURVE client DEALER with a fresh key pair connected to 127.0.0.1:PORT;
           prints {"type": "KEYS", "public": KEY}; {"cmd": "send", "frames": [...]}
           sends; what it receives is printed as {"type": "MSG", "frames": [...]}.
Stops at the end of stdin.
"""
import sys

import zmq

from lines import Lines, out


def main():
    ctx = zmq.Context()
    poller = zmq.Poller()
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    stdin = Lines()
    public, secret = zmq.curve_keypair()
    if sys.argv[1] == "server":
        s = ctx.socket(zmq.ROUTER)
        s.curve_server = True
        s.curve_secretkey = secret
        s.curve_publickey = public
        s.setsockopt(zmq.LINGER, 0)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        out({"type": "BOUND", "port": port, "public": public.decode()})
    else:
        s = ctx.socket(zmq.DEALER)
        s.curve_secretkey = secret
        s.curve_publickey = public
        s.curve_serverkey = sys.argv[3].encode()
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.IDENTITY, b"\x01pyzmq-client")
        s.connect("tcp://127.0.0.1:%d" % int(sys.argv[2]))
        out({"type": "KEYS", "public": public.decode()})
    poller.register(s, zmq.POLLIN)
    while True:
        items = dict(poller.poll(1000))
        if s in items:
            frames = s.recv_multipart()
            out({"type": "MSG", "frames": [f.hex() for f in frames]})
            if sys.argv[1] == "server":
                s.send_multipart(frames)
        if sys.stdin.fileno() in items:
            for cmd in stdin.read():
                if cmd["cmd"] == "send":
                    s.send_multipart([bytes.fromhex(f) for f in cmd["frames"]])
            if stdin.eof:
                break
    s.close()
    ctx.term()


if __name__ == "__main__":
    main()
