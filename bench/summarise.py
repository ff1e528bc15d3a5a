#!/usr/bin/env python3
"""Summarises a bench/run run directory (Python standard library only).

  summarise.py line RUN_DIR CSV_LINE          one measurement, one line (progress)
  summarise.py summary RUN_DIR RESULTS_TXT [BENCHMARKS_MD]

The run directory holds meta.env (machine, versions, knobs), commands.txt,
checks.txt, measurements.csv (one line per measurement: phase, target, rep,
raw output file, CPU ticks), the raw outputs of wrk, oha and h2load,
idle.csv, and the control-phase outputs. Medians are over the repetitions,
with min-max beside them.
"""

import csv
import json
import os
import re
import statistics
import sys

TARGET_ORDER = ["direct", "nginx", "haproxy", "router", "router-1k"]
# Defaults of bench/run: a run with other knobs is labelled as such.
DEFAULTS = {"DURATION": "10", "REPS": "3", "CONNS": "64", "RATE": "5000", "IDLE": "10000",
            "H2_CONNS": "16", "H2_STREAMS": "4", "ROUTES": "1000",
            "CONTROL_ROUTES": "10 10000 100000", "PROP_ROUTERS": "2 10", "PROP_ROUTES": "10 10000 100000",
            "PROP_UPDATES": "100", "LOOKUP_ARGS": "", "QUIET_MAX": "15", "SWAP_INTERVAL": "0.1"}
# The shared peer benchmark's numbers on this machine kind (proxy-core us/req).
REFERENCE = "nginx 14.4, HAProxy 15.4, a minimal pingora proxy 22.4 (shared peer benchmark, 2026-11-28)"


# --- parsing the raw outputs ---------------------------------------------------------

def us(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else float("nan")


def parse_wrk(s):
    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", s).group(1)),
           "requests": int(re.search(r"(\d+) requests in", s).group(1))}
    for p in ("50", "99"):
        m = re.search(rf"\s{p}%\s+(\S+)", s)
        out[f"p{p}"] = us(m.group(1)) if m else float("nan")
    err = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", s)
    if m:
        err += sum(map(int, m.groups()))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", s)
    if m:
        err += int(m.group(1))
    out["errors"] = err
    return out


def parse_oha(s):
    d = json.loads(s)
    summary, lp = d["summary"], d.get("latencyPercentiles", {})
    codes = d.get("statusCodeDistribution", {}) or {}
    ok = sum(v for k, v in codes.items() if str(k).startswith("2"))
    bad = sum(v for k, v in codes.items() if not str(k).startswith("2"))
    # requests still in flight when the duration ends are not errors
    errors = sum(v for k, v in (d.get("errorDistribution") or {}).items()
                 if "aborted due to deadline" not in k) + bad
    return {"rps": summary.get("requestsPerSec") or 0.0, "requests": ok + bad,
            "p50": (lp.get("p50") or 0) * 1e6, "p99": (lp.get("p99") or 0) * 1e6,
            "p99.9": (lp.get("p99.9") or 0) * 1e6, "errors": errors,
            "success": summary.get("successRate", 0.0)}


def parse_h2load(s):
    m = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", s)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", s)
    c = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", s)
    t = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", s)
    done = int(r.group(3))
    errors = int(r.group(5)) + int(r.group(6)) + int(r.group(7)) + int(c.group(3)) + int(c.group(4))
    return {"rps": float(m.group(1)), "requests": done, "errors": errors,
            "mean": us(t.group(3)) if t else float("nan"),
            "max": us(t.group(2)) if t else float("nan")}


PARSERS = {"wrk": parse_wrk, "tls": parse_wrk, "rate": parse_oha, "h2c": parse_h2load,
           "h2tls": parse_h2load, "swap": parse_wrk}


def read_meta(run):
    meta = {}
    path = os.path.join(run, "meta.env")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    return meta


def measurement(run, row, clk):
    """One measurements.csv row with its raw output parsed; None if unreadable."""
    try:
        text = open(os.path.join(run, row["file"]), encoding="utf-8").read()
        m = PARSERS[row["phase"]](text)
    except Exception:  # a failed tool run: reported as such
        return None
    m.update({k: row[k] for k in ("phase", "target", "rep", "file")})
    for k in ("rc", "pre_busy", "load_util", "proxy_util", "proxy_busy_ticks", "owner_ticks",
              "rss_kb", "wall_s"):
        m[k] = float(row[k])
    n = m["requests"] or float("nan")
    m["core_us"] = m["proxy_busy_ticks"] / clk * 1e6 / n if row["target"] != "direct" else float("nan")
    m["own_us"] = m["owner_ticks"] / clk * 1e6 / n
    return m


def load(run, clk):
    path = os.path.join(run, "measurements.csv")
    rows, failed = [], []
    if os.path.exists(path):
        for row in csv.DictReader(open(path, encoding="utf-8")):
            m = measurement(run, row, clk)
            (rows.append(m) if m else failed.append(row))
    return rows, failed


# --- formatting -------------------------------------------------------------------------

def med(vals):
    vals = [v for v in vals if v == v]
    return statistics.median(vals) if vals else float("nan")


def fmt(v, digits=0):
    if v != v:
        return "-"
    return f"{v:,.{digits}f}" if abs(v) >= 10000 else f"{v:.{digits}f}"


def spread(vals, digits=0):
    """median (min-max) of vals; only the median for one value."""
    vals = [v for v in vals if v == v]
    if not vals:
        return "-"
    if len(vals) == 1:
        return fmt(vals[0], digits)
    return f"{fmt(statistics.median(vals), digits)} ({fmt(min(vals), digits)}–{fmt(max(vals), digits)})"


class Table:
    def __init__(self, title, head, notes=()):
        self.title, self.head, self.rows, self.notes = title, head, [], list(notes)

    def add(self, *cells):
        self.rows.append([str(c) for c in cells])

    def text(self):
        widths = [max(len(r[i]) for r in [self.head] + self.rows) for i in range(len(self.head))]
        line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        out = [self.title] + [line(self.head)] + [line(r) for r in self.rows]
        return "\n".join(out + [f"  {n}" for n in self.notes]) + "\n"

    def markdown(self):
        out = [f"**{self.title}**", "", "| " + " | ".join(self.head) + " |",
               "|" + "|".join([" --- "] + [" ---: "] * (len(self.head) - 1)) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.notes:
            out += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def ordered(targets):
    return [t for t in TARGET_ORDER if t in targets] + sorted(set(targets) - set(TARGET_ORDER))


def by_target(rows, phase):
    out = {}
    for r in rows:
        if r["phase"] == phase:
            out.setdefault(r["target"], []).append(r)
    return {t: out[t] for t in ordered(out)}


def tables(run, meta):
    clk = int(meta.get("clk_tck", "100"))
    rows, failed = load(run, clk)
    out, warnings = [], []
    dur = meta.get("knob_DURATION", "?")

    wrk = by_target(rows, "wrk")
    if wrk:
        t = Table(f"Closed-loop max throughput: wrk -t1 -c{meta.get('knob_CONNS')}, {dur} s, "
                  "median (min–max)",
                  ["target", "req/s", "proxy-core µs/req", "process µs/req", "p50 µs", "p99 µs",
                   "errors", "RSS MB", "load CPU %", "proxy CPU %"],
                  ["proxy-core µs/req: all busy time of the proxy's CPU (user, system, softirq) "
                   "per request; the number to compare. process µs/req: the proxy process's own "
                   "CPU time (for direct: the backend's)",
                   "wrk's p50/p99 are closed-loop (coordinated omission): see the fixed-rate table "
                   "for latency", f"reference on this machine kind, proxy-core µs/req: {REFERENCE}"])
        for name, rs in wrk.items():
            t.add(name, spread([r["rps"] for r in rs]), spread([r["core_us"] for r in rs], 1),
                  spread([r["own_us"] for r in rs], 1), fmt(med([r["p50"] for r in rs])),
                  fmt(med([r["p99"] for r in rs])), fmt(sum(r["errors"] for r in rs)),
                  fmt(med([r["rss_kb"] for r in rs]) / 1024, 1),
                  fmt(med([r["load_util"] for r in rs])), fmt(med([r["proxy_util"] for r in rs])))
        out.append(t)

    rate = by_target(rows, "rate")
    if rate:
        direct = rate.get("direct")
        base = {p: med([r[p] for r in direct]) for p in ("p50", "p99", "p99.9")} if direct else None
        t = Table(f"Fixed rate: oha -q {meta.get('knob_RATE')} -c {meta.get('knob_CONNS')} "
                  f"--latency-correction, {dur} s, latency in µs, median (min–max)",
                  ["target", "achieved req/s", "p50", "p99", "p99.9", "added p50", "added p99",
                   "added p99.9", "errors", "proxy-core µs/req"],
                  ["added: the target's median minus direct's median (what the proxy adds)",
                   "proxy-core µs/req at this rate includes the idle work of the proxy CPU"])
        for name, rs in rate.items():
            added = ["-", "-", "-"]
            if base and name != "direct":
                added = [fmt(med([r[p] for r in rs]) - base[p]) for p in ("p50", "p99", "p99.9")]
            t.add(name, fmt(med([r["rps"] for r in rs])), spread([r["p50"] for r in rs]),
                  spread([r["p99"] for r in rs]), spread([r["p99.9"] for r in rs]), *added,
                  fmt(sum(r["errors"] for r in rs)), spread([r["core_us"] for r in rs], 1))
        out.append(t)

    idle_csv = os.path.join(run, "idle.csv")
    if os.path.exists(idle_csv):
        t = Table("Memory of idle keep-alive connections (RSS growth of the proxy)",
                  ["target", "connections", "failed", "RSS before MB", "RSS after MB", "KB/conn",
                   "MB per 10k conns"])
        for r in csv.DictReader(open(idle_csv, encoding="utf-8")):
            n, grow = int(r["idle_conns"]), int(r["rss_after_kb"]) - int(r["rss_before_kb"])
            t.add(r["target"], n, r["failed"], fmt(int(r["rss_before_kb"]) / 1024, 1),
                  fmt(int(r["rss_after_kb"]) / 1024, 1), fmt(grow / n, 2),
                  fmt(grow / n * 10000 / 1024, 1))
        out.append(t)

    tls = by_target(rows, "tls")
    if tls:
        t = Table(f"TLS termination: wrk -t1 -c{meta.get('knob_CONNS')} over https (TLS 1.3, "
                  f"ECDSA P-256, HTTP/1.1), {dur} s, median (min–max)",
                  ["target", "req/s", "proxy-core µs/req", "p50 µs", "p99 µs", "errors"])
        for name, rs in tls.items():
            t.add(name, spread([r["rps"] for r in rs]), spread([r["core_us"] for r in rs], 1),
                  fmt(med([r["p50"] for r in rs])), fmt(med([r["p99"] for r in rs])),
                  fmt(sum(r["errors"] for r in rs)))
        out.append(t)

    for phase, what in (("h2c", "HTTP/2 cleartext (h2c, prior knowledge)"),
                        ("h2tls", "HTTP/2 over TLS (ALPN h2)")):
        h2 = by_target(rows, phase)
        if not h2:
            continue
        t = Table(f"{what}: h2load -t1 -c{meta.get('knob_H2_CONNS')} -m{meta.get('knob_H2_STREAMS')}, "
                  f"{dur} s, median (min–max)",
                  ["target", "req/s", "proxy-core µs/req", "mean latency µs", "errors"],
                  ["upstream is HTTP/1.1 with keep-alive for every target"] if phase == "h2c" else [])
        for name, rs in h2.items():
            t.add(name, spread([r["rps"] for r in rs]), spread([r["core_us"] for r in rs], 1),
                  fmt(med([r["mean"] for r in rs])), fmt(sum(r["errors"] for r in rs)))
        out.append(t)

    swap = by_target(rows, "swap")
    swap_csv = os.path.join(run, "swap.csv")
    if swap and os.path.exists(swap_csv):
        swaps = {}
        for r in csv.DictReader(open(swap_csv, encoding="utf-8")):
            swaps.setdefault(r["target"], []).append((int(r["puts"]), int(r["swaps"])))
        t = Table(f"Table swaps under load: wrk -t1 -c{meta.get('knob_CONNS')} while one route changes "
                  f"in etcd every {meta.get('knob_SWAP_INTERVAL')} s, {dur} s, median (min–max)",
                  ["target", "puts", "tables swapped", "req/s", "req/s without swaps", "change",
                   "p99 µs", "p99 µs without", "proxy-core µs/req", "errors"],
                  ["without swaps: the wrk phase of the same run; each swap is a compile in the "
                   "controller, a delta pushed, a table built and swapped in by the router (on the "
                   "proxy CPU)"])
        for name, rs in swap.items():
            base = wrk.get(name, []) if wrk else []
            rps, rps0 = med([r["rps"] for r in rs]), med([r["rps"] for r in base])
            change = fmt((rps / rps0 - 1) * 100, 1) + " %" if rps0 == rps0 and rps0 else "-"
            counts = swaps.get(name, [])
            t.add(name, fmt(med([p for p, _ in counts])), spread([s for _, s in counts]),
                  spread([r["rps"] for r in rs]), fmt(rps0), change, fmt(med([r["p99"] for r in rs])),
                  fmt(med([r["p99"] for r in base])), spread([r["core_us"] for r in rs], 1),
                  fmt(sum(r["errors"] for r in rs)))
        out.append(t)

    quiet_max = float(meta.get("knob_QUIET_MAX", "15"))
    noisy = [r for r in rows if r["pre_busy"] > quiet_max
             or (r["target"] == "direct" and r["proxy_util"] > 20)]
    if noisy:
        warnings.append(f"{len(noisy)} of {len(rows)} measurements saw foreign CPU load (machine "
                        f"busier than {quiet_max:.0f}% before the run, or the proxy CPU busy during a "
                        "direct run): " + ", ".join(f"{r['phase']}/{r['target']}/{r['rep']}"
                                                     for r in noisy[:12])
                        + (" ..." if len(noisy) > 12 else ""))
    if failed:
        warnings.append("unreadable tool output (the tool failed; see the .err file): "
                        + ", ".join(r["file"] for r in failed))
    errs = [r for r in rows if r["errors"]]
    if errs:
        warnings.append("measurements with errors or non-2xx answers: "
                        + ", ".join(f"{r['file']} ({r['errors']:.0f})" for r in errs))
    return out, warnings


def control(run):
    out = []
    path = os.path.join(run, "control-compile.txt")
    if os.path.exists(path):
        t = Table("Control plane: compile (cargo run --release -p mesh-controller --example compile_bench)",
                  ["routes", "etcd keys", "full compile ms", "1-route change ms (median, min–max)",
                   "diff ms", "snapshot bytes", "delta bytes"])
        pat = re.compile(r"(\d+) routes \((\d+) keys\): full compile ([\d.]+) ms, incremental \(1 route "
                         r"changed\) median ([\d.]+) ms min ([\d.]+) ms max ([\d.]+) ms; diff ([\d.]+) ms;"
                         r".*snapshot (\d+) bytes, delta (\d+) bytes")
        for line in open(path, encoding="utf-8"):
            m = pat.search(line)
            if m:
                g = m.groups()
                t.add(f"{int(g[0]):,}", f"{int(g[1]):,}", g[2], f"{g[3]} ({g[4]}–{g[5]})", g[6],
                      f"{int(g[7]):,}", f"{int(g[8]):,}")
        out.append(t if t.rows else "compile_bench printed nothing parseable; see control-compile.*\n")
    path = os.path.join(run, "control-lookup.txt")
    if os.path.exists(path):
        s = open(path, encoding="utf-8").read()
        builds = [ln.strip() for ln in s.splitlines() if ln.startswith("index ")]
        found = re.findall(r"lookup/(\d+)_routes/(\S+)\s+time:\s+\[\S+ \S+ ([\d.]+) (\S+) \S+ \S+\]", s)
        sizes = sorted({int(n) for n, _, _, _ in found})
        cases = list(dict.fromkeys(c for _, c, _, _ in found))
        t = Table("Control plane: route lookup (cargo bench -p mesh-config --bench lookup; criterion "
                  "median estimate)", ["case"] + [f"{n:,} routes" for n in sizes], builds)
        val = {(int(n), c): f"{v} {u}" for n, c, v, u in found}
        for c in cases:
            t.add(c, *[val.get((n, c), "-") for n in sizes])
        out.append(t if found or builds else "lookup bench printed nothing parseable; see control-lookup.*\n")
    path = os.path.join(run, "control-propagation.txt")
    if os.path.exists(path):
        s = open(path, encoding="utf-8").read()
        found = re.findall(r"routers=(\d+) routes=(\d+) updates=(\d+) p50=([\d.]+)ms p99=([\d.]+)ms "
                           r"max=([\d.]+)ms min=([\d.]+)ms", s)
        if found:
            t = Table("Control plane: propagation, etcd put -> every router serving the change "
                      "(cargo test --release -p mesh-tests --test propagation)",
                      ["routers", "routes", "updates", "p50 ms", "p99 ms", "max ms", "min ms"], [])
            for row in found:
                t.add(*row)
            out.append(t)
        else:
            lines = [ln.rstrip() for ln in s.splitlines()
                     if re.search(r"p50|p99|propagat|skipped|test result|error", ln, re.I)]
            out.append("Control plane: propagation printed nothing parseable:\n"
                       + "\n".join("  " + ln for ln in (lines or s.splitlines()[-10:])[:25]) + "\n")
    return out


# --- the two outputs -------------------------------------------------------------------

def header_lines(meta):
    return [
        f"date: {meta.get('date')}   git: {meta.get('git')}",
        f"machine: {meta.get('cpu_model')}, {meta.get('cpus')} CPUs"
        + (f" ({meta['hypervisor']} guest)" if meta.get("hypervisor") else "")
        + f", {meta.get('memory')}, {meta.get('os')}, {meta.get('kernel')}",
        f"versions: {meta.get('rustc')}; {meta.get('nginx')}; {meta.get('haproxy')}; {meta.get('wrk')}; "
        f"{meta.get('oha')}; {meta.get('h2load')}; {meta.get('openssl')}; {meta.get('etcd')}",
        "knobs: " + " ".join(f"{k[5:]}={v!r}" if " " in v or not v else f"{k[5:]}={v}"
                             for k, v in meta.items() if k.startswith("knob_")),
    ]


def short_run(meta):
    diff = [f"{k}={meta.get('knob_' + k)}" for k, v in DEFAULTS.items() if meta.get("knob_" + k, v) != v]
    phases = meta.get("knob_PHASES", "")
    if phases and phases != "wrk,rate,idle,tls,h2,swap,control":
        diff.append(f"PHASES={phases}")
    return diff


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(run, name):
    """A file of the run dir, with the repository's path left out of what it says."""
    path = os.path.join(run, name)
    if not os.path.exists(path):
        return ""
    return open(path, encoding="utf-8").read().strip().replace(ROOT + "/", "")


def router_metrics(run):
    """What each router's /metrics said at the end: size, series, requests by status class."""
    out = []
    for name in ("router", "router-1k"):
        path = os.path.join(run, f"{name}-metrics.txt")
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8").read()
        series = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        classes = {}
        for ln in series:
            m = re.match(r'mesh_router_requests_total\{.*class="(\w+)".*\} (\d+)', ln)
            if m and int(m.group(2)):
                classes[m.group(1)] = classes.get(m.group(1), 0) + int(m.group(2))
        out.append(f"{name} /metrics at the end: {len(text):,} bytes, {len(series):,} series; requests "
                   "by class: " + ", ".join(f"{k} {v:,}" for k, v in sorted(classes.items())))
    return out


def summary(run, results_txt, benchmarks_md=None):
    meta = read_meta(run)
    data, warnings = tables(run, meta)
    ctl = control(run)
    diff = short_run(meta)
    label = (f"SMOKE / PARTIAL RUN, NOT FOR QUOTING (knobs differ from the defaults: "
             f"{', '.join(diff)}): numbers are indicative only" if diff else "")
    checks, commands = read(run, "checks.txt"), read(run, "commands.txt")
    after = router_metrics(run)
    if after:
        checks = "\n".join([checks] + after if checks else after)

    txt = ["mesh-router benchmarks (bench/run)"] + header_lines(meta)
    if label:
        txt.append(label)
    txt += [f"WARNING: {w}" for w in warnings] + [""]
    if checks:
        txt += ["checks:"] + ["  " + ln for ln in checks.splitlines()] + [""]
    for t in data + ctl:
        txt.append(t.text() if isinstance(t, Table) else t)
    txt += ["commands (pinned with taskset; all on 127.0.0.1):"] + ["  " + ln for ln in commands.splitlines()]
    txt.append(f"raw outputs: {os.path.relpath(run, ROOT)}")
    with open(results_txt, "w", encoding="utf-8") as f:
        f.write("\n".join(txt) + "\n")

    if not benchmarks_md:
        return
    rel = os.path.relpath(results_txt, os.path.dirname(os.path.abspath(benchmarks_md)))
    md = ["# Benchmarks", "",
          "mesh-router against nginx and HAProxy on the same machine, all configured alike: one "
          "worker thread pinned to its own core (the proxy CPU), the load generator and the "
          "backend (one nginx worker answering a 200 with a tiny body on two ports) on the other "
          "core, round robin over the two backends, upstream keep-alive, every request with "
          "`Host: bench.local`. `direct` is the backend without a proxy. `router` is mesh-router "
          "(`--threads 1`) with just the bench route; `router-1k` serves 1,000 more routes "
          "(100 hostnames, header, regex and wildcard rules, 11 rules on the bench host); its bench "
          "route also sets a request header and adds a response header, and it writes an access log "
          "(one JSON line per request). Metrics are always on. Plain HTTP/1.1 goes through the "
          "router's own fast path; TLS and HTTP/2 through pingora's proxy. Runs are interleaved (each repetition runs every target in turn) "
          "and each waits for a quiet machine first.", "",
          "Reproduce with `bench/run` (see [bench/README.md](bench/README.md) for the knobs and "
          f"caveats). This page is written by it; the full output of this run is `{rel}`.", ""]
    if label:
        md += [f"> **{label}.** Rerun `bench/run` with the defaults on a quiet machine for numbers "
               "to quote.", ""]
    md += [f"> **Warning:** {w}" + "\n" for w in warnings]
    md += ["## Machine and versions", ""] + [f"- {ln}" for ln in header_lines(meta)] + [""]
    md += ["## Data plane", ""]
    for t in data:
        md.append(t.markdown())
    if ctl:
        md += ["## Control plane", ""]
        for t in ctl:
            md.append(t.markdown() if isinstance(t, Table) else "```\n" + t.rstrip() + "\n```\n")
    if checks:
        md += ["## Checks", "", "Before measuring; the routers' /metrics after.", "", "```", checks, "```", ""]
    md += ["## Exact commands", "", "Each load tool ran pinned to the load CPU "
           "(`taskset -c LOAD_CPU`); ports as in this run.", "", "```", commands, "```", ""]
    with open(benchmarks_md, "w", encoding="utf-8") as f:
        f.write("\n".join(md))


def line(run, csv_line):
    meta = read_meta(run)
    head = open(os.path.join(run, "measurements.csv"), encoding="utf-8").readline().strip().split(",")
    row = dict(zip(head, csv_line.strip().split(",")))
    m = measurement(run, row, int(meta.get("clk_tck", "100")))
    if not m:
        print(f"FAILED (exit {row.get('rc')}; see {row.get('file')}.err)")
        return
    parts = [f"{m['rps']:.0f} req/s"]
    if m["target"] != "direct":
        parts.append(f"proxy-core {m['core_us']:.1f} µs/req")
    for p in ("p50", "p99", "p99.9"):
        if p in m:
            parts.append(f"{p} {m[p]:.0f} µs")
    if "mean" in m:
        parts.append(f"mean {m['mean']:.0f} µs")
    parts.append(f"errors {m['errors']:.0f}")
    parts.append(f"busy before {m['pre_busy']:.0f}%")
    print(", ".join(parts))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "line":
        line(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit(__doc__)
