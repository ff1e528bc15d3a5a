#!/usr/bin/env python3
"""Changes one route in etcd at a steady pace, so that routers swap tables
while they are measured (the `swap` phase of bench/run).

Usage: swap_writer.py ETCD_URL PREFIX BACKEND_SERVICE INTERVAL_S DURATION_S

Every INTERVAL_S seconds for DURATION_S seconds, puts PREFIX/routes/swap-probe:
a Route for host swap.example whose one rule's path prefix changes with
every put (/v0, /v1, ...), sending to BACKEND_SERVICE. Each put is a new
table for the controller to compile and publish and for every router
following it to build and swap in. Writes through etcd's JSON gateway
(POST ETCD_URL/v3/kv/put) from this one process: no etcdctl process per
put. Prints `puts N failed M` at the end; exits 1 if any put failed.
"""

import base64
import json
import sys
import time
import urllib.request


def put(etcd: str, key: str, value: str) -> bool:
    body = json.dumps({
        "key": base64.b64encode(key.encode()).decode(),
        "value": base64.b64encode(value.encode()).decode(),
    }).encode()
    req = urllib.request.Request(f"{etcd}/v3/kv/put", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def main() -> None:
    etcd, prefix, service = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"), sys.argv[3]
    interval, duration = float(sys.argv[4]), float(sys.argv[5])
    key = f"{prefix}/routes/swap-probe"
    puts = failed = 0
    start = time.monotonic()
    next_at = start
    while time.monotonic() - start < duration:
        doc = {"kind": "Route", "name": "swap-probe", "spec": {
            "hostnames": ["swap.example"],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": f"/v{puts}"}}],
                       "backendRefs": [{"name": service}]}]}}
        if not put(etcd, key, json.dumps(doc)):
            failed += 1
        puts += 1
        next_at += interval
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print(f"puts {puts} failed {failed}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
