"""Importing this confines Pyre to loopback.

Stock Pyre broadcasts on the first non-loopback interface; this replaces its beacon
socket setup so that it uses 127.0.0.1 and broadcasts to 127.255.255.255, and the
process exits at once (status 3) if a beacon would go anywhere else.
"""
import ipaddress
import os

from lines import out
from pyre import zbeacon

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def _prepare_socket(self):
    self.address = ipaddress.IPv4Address("127.0.0.1")
    self.network_address = ipaddress.IPv4Address("127.0.0.0")
    self.broadcast_address = ipaddress.IPv4Address("127.255.255.255")
    self.interface_name = "lo"


_orig_send_beacon = zbeacon.ZBeacon.send_beacon


def _guarded_send_beacon(self):
    if ipaddress.IPv4Address(str(self.broadcast_address)) not in LOOPBACK:
        out({"type": "FATAL", "reason": "beacon to %s refused" % self.broadcast_address})
        os._exit(3)
    _orig_send_beacon(self)


zbeacon.ZBeacon._prepare_socket = _prepare_socket
zbeacon.ZBeacon.send_beacon = _guarded_send_beacon
