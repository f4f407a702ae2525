"""A Zyre C node (libzyre 2.0.1, loaded with ctypes), driven by JSON lines on stdin
and reporting its events as JSON lines on stdout, like pyre_peer.py.

czmq never beacons on a loopback interface, so this helper runs inside a network
namespace made by the test (`tests/interop_zyre.rs`), on a veth interface there.
It refuses to start when it sees any interface the test did not make.

usage: zyre_peer.py LIBDIR IFACE NAME PORT [KEY=VALUE | +GROUP | evasive=MS | expired=MS |
                     endpoint=EP | gossip-bind=EP | gossip-connect=EP | ipv6 ...]
(endpoint= and the gossip options switch Zyre to gossip discovery: no beacons;
curve gives the node a fresh certificate: CURVE mode, zyre_set_zcert;
ipv6 sets ZSYS_IPV6=1 before czmq starts, for IPv6 multicast beacons;
contest=GROUP contests the group's leadership, zyre_set_contest_in_group)
commands: {"cmd": "join"|"leave", "group": G}
          {"cmd": "shout", "group": G, "frames": [hex, ...]}
          {"cmd": "whisper", "peer": HEX32, "frames": [hex, ...]}
          {"cmd": "peers"}  {"cmd": "stop"}
"""
import ctypes
import os
import queue
import sys
import threading
import time
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint64, c_void_p

from lines import Lines, out

ALLOWED_INTERFACES = {"lo", "zv0", "zv1"}


def load(libdir):
    """Loads libzmq, libczmq and libzyre from the pyzyre wheel. They were built as
    Python 2 extension modules and name one Python 2 symbol that is never called;
    a stub library (built by scripts/fetch-zyre) satisfies the loader. The
    libraries find each other through an RPATH of ".", hence the chdir."""
    cwd = os.getcwd()
    os.chdir(libdir)
    ctypes.CDLL(os.path.join(libdir, "libpystub.so"), mode=ctypes.RTLD_GLOBAL)
    ctypes.CDLL(os.path.join(libdir, "libzmq.so"), mode=ctypes.RTLD_GLOBAL)
    cz = ctypes.CDLL(os.path.join(libdir, "libczmq.so"), mode=ctypes.RTLD_GLOBAL)
    zy = ctypes.CDLL(os.path.join(libdir, "libzyre.so"))
    os.chdir(cwd)
    sig = {
        zy: {
            "zyre_set_zcert": (None, [c_void_p, c_void_p]),
            "zyre_set_contest_in_group": (None, [c_void_p, c_char_p]),
            "zyre_set_verbose": (None, [c_void_p]),
            "zyre_new": (c_void_p, [c_char_p]),
            "zyre_destroy": (None, [POINTER(c_void_p)]),
            "zyre_uuid": (c_char_p, [c_void_p]),
            "zyre_set_port": (None, [c_void_p, c_int]),
            "zyre_set_interface": (None, [c_void_p, c_char_p]),
            "zyre_set_evasive_timeout": (None, [c_void_p, c_int]),
            "zyre_set_expired_timeout": (None, [c_void_p, c_int]),
            "zyre_start": (c_int, [c_void_p]),
            "zyre_stop": (None, [c_void_p]),
            "zyre_join": (c_int, [c_void_p, c_char_p]),
            "zyre_leave": (c_int, [c_void_p, c_char_p]),
            "zyre_whisper": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
            "zyre_shout": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
            "zyre_peers": (c_void_p, [c_void_p]),
            "zyre_socket": (c_void_p, [c_void_p]),
            "zyre_version": (c_uint64, []),
            "zyre_event_new": (c_void_p, [c_void_p]),
            "zyre_event_destroy": (None, [POINTER(c_void_p)]),
            "zyre_event_type": (c_char_p, [c_void_p]),
            "zyre_event_peer_uuid": (c_char_p, [c_void_p]),
            "zyre_event_peer_name": (c_char_p, [c_void_p]),
            "zyre_event_peer_addr": (c_char_p, [c_void_p]),
            "zyre_event_headers": (c_void_p, [c_void_p]),
            "zyre_event_group": (c_char_p, [c_void_p]),
            "zyre_event_get_msg": (c_void_p, [c_void_p]),
        },
        cz: {
            "zmsg_new": (c_void_p, []),
            "zcert_new": (c_void_p, []),
            "zmsg_destroy": (None, [POINTER(c_void_p)]),
            "zmsg_addmem": (c_int, [c_void_p, c_char_p, c_size_t]),
            "zmsg_pop": (c_void_p, [c_void_p]),
            "zframe_data": (c_void_p, [c_void_p]),
            "zframe_size": (c_size_t, [c_void_p]),
            "zframe_destroy": (None, [POINTER(c_void_p)]),
            "zhash_first": (c_void_p, [c_void_p]),
            "zhash_next": (c_void_p, [c_void_p]),
            "zhash_cursor": (c_char_p, [c_void_p]),
            "zlist_first": (c_void_p, [c_void_p]),
            "zlist_next": (c_void_p, [c_void_p]),
            "zlist_destroy": (None, [POINTER(c_void_p)]),
            "zpoller_new": (c_void_p, [c_void_p, c_void_p]),
            "zpoller_wait": (c_void_p, [c_void_p, c_int]),
        },
    }
    for lib, fns in sig.items():
        for name, (res, args) in fns.items():
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
    # zyre_set_header is variadic: (node, name, format, ...); so are the endpoint
    # setters: (node, format, ...).
    zy.zyre_set_header.restype = None
    zy.zyre_set_endpoint.restype = c_int
    zy.zyre_gossip_bind.restype = None
    zy.zyre_gossip_connect.restype = None
    return zy, cz


def check_confined(iface):
    present = set(os.listdir("/sys/class/net"))
    if present - ALLOWED_INTERFACES or iface not in present:
        out({"type": "FATAL", "reason": "not in the test's namespace: %s" % sorted(present)})
        os._exit(3)


class Peer:
    def __init__(self, zy, cz):
        self.zy, self.cz = zy, cz

    def frames_of(self, msg):
        frames = []
        while True:
            f = c_void_p(self.cz.zmsg_pop(msg))
            if not f.value:
                return frames
            size = self.cz.zframe_size(f)
            data = ctypes.string_at(self.cz.zframe_data(f), size) if size else b""
            frames.append(data.hex())
            self.cz.zframe_destroy(byref(f))

    def make_msg(self, frames):
        msg = c_void_p(self.cz.zmsg_new())
        for f in frames:
            data = bytes.fromhex(f)
            self.cz.zmsg_addmem(msg, data, len(data))
        return msg

    def event(self, node):
        zy, cz = self.zy, self.cz
        e = c_void_p(zy.zyre_event_new(node))
        if not e.value:
            return None
        kind = zy.zyre_event_type(e).decode()
        ev = {"type": kind,
              "peer": (zy.zyre_event_peer_uuid(e) or b"").decode().upper(),
              "name": (zy.zyre_event_peer_name(e) or b"").decode()}
        if kind == "ENTER":
            headers = {}
            h = zy.zyre_event_headers(e)
            if h:
                v = cz.zhash_first(h)
                while v:
                    headers[cz.zhash_cursor(h).decode()] = ctypes.string_at(v).decode()
                    v = cz.zhash_next(h)
            ev["headers"] = headers
            ev["endpoint"] = (zy.zyre_event_peer_addr(e) or b"").decode()
        if kind in ("JOIN", "LEAVE", "SHOUT", "LEADER"):
            ev["group"] = zy.zyre_event_group(e).decode()
        if kind in ("SHOUT", "WHISPER"):
            msg = c_void_p(zy.zyre_event_get_msg(e))
            ev["payload"] = self.frames_of(msg)
            cz.zmsg_destroy(byref(msg))
        zy.zyre_event_destroy(byref(e))
        return ev


def main():
    libdir, iface, name, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    check_confined(iface)
    if "ipv6" in sys.argv[5:]:
        os.environ["ZSYS_IPV6"] = "1"
    zy, cz = load(libdir)
    p = Peer(zy, cz)
    node = c_void_p(zy.zyre_new(name.encode()))
    zy.zyre_set_interface(node, iface.encode())
    zy.zyre_set_port(node, port)
    for arg in sys.argv[5:]:
        if arg.startswith("+"):
            zy.zyre_join(node, arg[1:].encode())
        elif arg == "verbose":
            zy.zyre_set_verbose(node)
        elif arg == "ipv6":
            pass
        elif arg.startswith("contest="):
            zy.zyre_set_contest_in_group(node, arg.split("=", 1)[1].encode())
        elif arg == "curve":
            cert = c_void_p(cz.zcert_new())
            zy.zyre_set_zcert(node, cert)
        elif arg.startswith("evasive="):
            zy.zyre_set_evasive_timeout(node, int(arg.split("=")[1]))
        elif arg.startswith("expired="):
            zy.zyre_set_expired_timeout(node, int(arg.split("=")[1]))
        elif arg.startswith("endpoint="):
            if zy.zyre_set_endpoint(node, b"%s", arg.split("=", 1)[1].encode()) != 0:
                out({"type": "FATAL", "reason": "zyre_set_endpoint failed"})
                os._exit(4)
        elif arg.startswith("gossip-bind="):
            zy.zyre_gossip_bind(node, b"%s", arg.split("=", 1)[1].encode())
        elif arg.startswith("gossip-connect="):
            zy.zyre_gossip_connect(node, b"%s", arg.split("=", 1)[1].encode())
        else:
            k, v = arg.split("=", 1)
            zy.zyre_set_header(node, k.encode(), b"%s", v.encode())
    if zy.zyre_start(node) != 0:
        out({"type": "FATAL", "reason": "zyre_start failed"})
        os._exit(4)
    out({"type": "STARTED", "peer": zy.zyre_uuid(node).decode().upper(), "name": name,
         "version": zy.zyre_version()})

    # Commands come from a reader thread; every Zyre call stays on this thread.
    cmds = queue.Queue()

    def reader():
        stdin = Lines()
        while not stdin.eof:
            for cmd in stdin.read():
                cmds.put(cmd)
        cmds.put({"cmd": "stop"})

    threading.Thread(target=reader, daemon=True).start()
    poller = c_void_p(cz.zpoller_new(zy.zyre_socket(node), None))
    running = True
    while running:
        if cz.zpoller_wait(poller, 20):
            ev = p.event(node)
            if ev:
                out(ev)
        while running and not cmds.empty():
            cmd = cmds.get()
            c = cmd["cmd"]
            if c == "join":
                zy.zyre_join(node, cmd["group"].encode())
            elif c == "leave":
                zy.zyre_leave(node, cmd["group"].encode())
            elif c == "shout":
                zy.zyre_shout(node, cmd["group"].encode(), byref(p.make_msg(cmd["frames"])))
            elif c == "whisper":
                zy.zyre_whisper(node, cmd["peer"].encode(), byref(p.make_msg(cmd["frames"])))
            elif c == "peers":
                lst = c_void_p(zy.zyre_peers(node))
                peers, item = [], cz.zlist_first(lst)
                while item:
                    peers.append(ctypes.string_at(item).decode().upper())
                    item = cz.zlist_next(lst)
                cz.zlist_destroy(byref(lst))
                out({"type": "PEERS", "peers": peers})
            elif c == "stop":
                running = False
    zy.zyre_stop(node)
    # Zyre's sockets do not linger: give what zyre_stop queued (a gossiping node's
    # GOODBYE to its peers) a moment to leave before the sockets are destroyed, as
    # an application that goes on running after zyre_stop would.
    time.sleep(0.2)
    zy.zyre_destroy(byref(node))
    out({"type": "STOPPED"})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
