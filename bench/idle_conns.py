#!/usr/bin/env python3
"""Holds N idle keep-alive connections to a proxy (memory-per-connection test).

Usage: idle_conns.py PORT N HOLD [HOST]

Opens N connections to 127.0.0.1:PORT, sends one GET on each (Host: HOST,
default bench.local) and reads its answer, so that every connection has been
through the proxy once and now sits idle in keep-alive. Prints `ready N` once
all are open, holds them for HOLD seconds (or until stdin closes, when HOLD is
0), then closes them. Adapted from the shared peer benchmark.
"""

import socket
import sys
import time


def one_answer(s: socket.socket) -> bool:
    """Reads one HTTP/1.1 answer with a Content-Length body; False on EOF."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            return False
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            return False
        body += chunk
    return head.split(b" ", 2)[1] == b"200"


def main() -> None:
    port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    host = sys.argv[4] if len(sys.argv) > 4 else "bench.local"
    req = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    socks, failed = [], 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(req)
        if not one_answer(s):
            failed += 1
        socks.append(s)
    print("ready", len(socks), "failed", failed, flush=True)
    if hold > 0:
        time.sleep(hold)
    else:
        sys.stdin.read()
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
