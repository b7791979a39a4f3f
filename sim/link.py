"""A message link between the host process and the cocotb bench running in the simulator.

The host (sim/session.py) listens on a Unix socket in a private temporary folder (mode
0700: only this user can connect); the bench (sim/tb_array.py) connects, then answers one
request at a time. A message is any picklable object, framed as an 8-byte little-endian
length and the pickle. Standard library only: the bench process stays light (no numba, no
torch), so the simulator starts in about a second.
"""

from __future__ import annotations

import pickle
import socket
import time

ENV = "ASQ_TB_LINK"


class LinkClosed(ConnectionError):
    """The other side closed the link."""


def _exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if not k:
            raise LinkClosed("the other side closed the link")
        got += k
    return bytes(buf)


def send(sock: socket.socket, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(8, "little") + data)


def recv(sock: socket.socket):
    n = int.from_bytes(_exact(sock, 8), "little")
    return pickle.loads(_exact(sock, n))


def connect(path: str, timeout: float = 60.0) -> socket.socket:
    """The bench's side: connect to the host's socket at `path`, retrying until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
