#!/usr/bin/env python3
"""Writes the mesh resources of the benchmark as `meshctl apply` files.

Usage: mesh_resources.py OUTDIR HOST BACKEND_PORT_1 BACKEND_PORT_2 ROUTES

OUTDIR/bench.yaml: Service `bench` (round robin), Endpoints bench-1 and
bench-2 on 127.0.0.1 at the two backend ports, and Route `bench` sending
every request for HOST to it. Both router variants get it; for router-1k
(ROUTES > 0) the route also sets a request header and adds a response
header (header modifier filters).

OUTDIR/routes-NNN.yaml (ROUTES > 0, the router-1k variant): 20 more
Services of two endpoints each and ROUTES more Routes, 100 to a file (one
etcd transaction each), spread over 100 hostnames r<k>.example.com: each
has an Exact GET rule, a PathPrefix rule with a header match, a plain
PathPrefix rule and weighted backendRefs; every 50th has a wildcard
hostname instead, every 100th a RegularExpression rule, and every 100th
(offset by one) also claims HOST with paths under /r<i>, so that HOST's
bucket holds a few rules besides the bench route. Apply these before
bench.yaml: once the bench route answers, the router serves them all.
"""

import json
import os
import sys

SERVICES = 20
PER_FILE = 100


def doc(kind: str, name: str, spec: dict) -> str:
    return json.dumps({"kind": kind, "name": name, "spec": spec})


def write(path: str, docs: list) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n---\n".join(docs) + "\n")


def service_docs(name: str, ports: list) -> list:
    docs = [doc("Service", name, {"protocol": "http", "loadBalancer": "round_robin",
                                   "connectTimeout": "1s"})]
    for k, port in enumerate(ports, 1):
        docs.append(doc("Endpoint", f"{name}-{k}", {
            "service": name, "address": "127.0.0.1", "port": port, "weight": 1,
            "zone": "a", "labels": {"version": "v1"}}))
    return docs


def route(i: int, host: str) -> str:
    svc = [f"svc-{(i + k) % SERVICES}" for k in (0, 1, 7)]
    hostnames = [f"*.wild{i % 100}.example.com" if i % 50 == 0 else f"r{i % 100}.example.com"]
    if i % 100 == 1:
        hostnames.append(host)
    rules = [
        {"matches": [{"path": {"type": "Exact", "value": f"/r{i}/health"}, "method": "GET"}],
         "backendRefs": [{"name": svc[2]}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": f"/r{i}/api/v1"},
                      "headers": [{"type": "Exact", "name": "x-tenant", "value": f"t{i % 7}"}]}],
         "backendRefs": [{"name": svc[0], "weight": 90}, {"name": svc[1], "weight": 10}],
         "timeouts": {"request": "5s"}},
        {"matches": [{"path": {"type": "PathPrefix", "value": f"/r{i}/api"}}],
         "backendRefs": [{"name": svc[0]}]},
    ]
    if i % 100 == 0:
        rules.append({"matches": [{"path": {"type": "RegularExpression",
                                            "value": f"/r{i}/items/[0-9]+/detail"}}],
                      "backendRefs": [{"name": svc[1]}]})
    return doc("Route", f"route-{i}", {"hostnames": hostnames, "rules": rules})


def main() -> None:
    out, host = sys.argv[1], sys.argv[2]
    ports = [int(sys.argv[3]), int(sys.argv[4])]
    routes = int(sys.argv[5])
    os.makedirs(out, exist_ok=True)
    bench = service_docs("bench", ports)
    rule = {"backendRefs": [{"name": "bench"}]}
    if routes > 0:
        # router-1k: the bench route edits headers both ways, as mesh routes often do
        rule["filters"] = [
            {"type": "RequestHeaderModifier",
             "requestHeaderModifier": {"set": [{"name": "x-mesh-tier", "value": "bench"}],
                                       "remove": ["x-debug"]}},
            {"type": "ResponseHeaderModifier",
             "responseHeaderModifier": {"add": [{"name": "x-served-by", "value": "mesh"}]}},
        ]
    bench.append(doc("Route", "bench", {"hostnames": [host], "rules": [rule]}))
    write(os.path.join(out, "bench.yaml"), bench)
    if routes <= 0:
        return
    services = []
    for s in range(SERVICES):
        services += service_docs(f"svc-{s}", ports)
    write(os.path.join(out, "routes-000.yaml"), services)
    for start in range(0, routes, PER_FILE):
        docs = [route(i, host) for i in range(start, min(routes, start + PER_FILE))]
        write(os.path.join(out, f"routes-{start // PER_FILE + 1:03d}.yaml"), docs)


if __name__ == "__main__":
    main()
