"""JSON lines on stdin and stdout, shared by the interop helpers."""
import json
import os
import sys


class Lines:
    """Whole lines from stdin without Python's buffering, which would hide lines
    from the poller once read ahead."""

    def __init__(self):
        self.buf = b""
        self.eof = False

    def read(self):
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:
            self.eof = True
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return [json.loads(l) for l in lines if l.strip()]


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
