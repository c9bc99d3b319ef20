"""Requests/s of ``gather_users`` against a raw aiohttp + msgspec loop, nginx serving.

    python -m benchmarks.nginx_throughput [--quick] [--offers 20] [--concurrency 64]
                                          [--rounds 11]

The server here is nginx, which costs less per request than any Python server: the client's
own per-request cost is most of what is measured. nginx runs as a child process (never a
daemon), on 127.0.0.1 and a free port, one worker (pinned to the second core where the OS
allows; the client on the first), no access log, keep-alive, answering a pre-built
vendor-shaped history for the history path whatever the query. Its config, pid file and
temporary paths live in a temporary directory removed at the end.

When ``nginx`` is not on PATH, a full run installs the Debian package (``apt-get install -y
nginx``) and says so; a quick run skips the measurement with a note instead, so that a
smoke run stays cheap and needs no network. The two clients alternate (ours, raw, ours,
raw, ...) in rounds of equal length; the table shows the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks._payloads import history_body
from benchmarks._report import Check, Section
from benchmarks.throughput import FLOOR, GATHER, PATH, _measure, gather, raw_msgspec

OFFERS, CONCURRENCY, TARGET = 20, 64, 0.95
SERVER_CPU, CLIENT_CPU = 1, 0

CONFIG = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    sendfile on;
    tcp_nodelay on;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location {location} {{
            root {tmp};
            default_type application/json;
            try_files /history.json =404;
        }}
    }}
}}
"""


class NginxUnavailableError(RuntimeError):
    """nginx is not installed and could not be installed."""


def find_nginx(install: bool) -> tuple[str | None, str]:
    """(path of nginx or None, a note saying how it was found or why it is missing)."""
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate, ""
    if not install:
        return None, "nginx is not installed; a quick run does not install it."
    apt = shutil.which("apt-get")
    if apt is None:
        raise NginxUnavailableError("nginx is not installed and there is no apt-get to install it: "
                               "install nginx (the Debian package `nginx`) and run again")
    print("nginx not found: installing it with `apt-get install -y nginx` ...",
          file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run([apt, "install", "-y", "nginx"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NginxUnavailableError("nginx is not installed and `apt-get install -y nginx` failed "
                               f"(exit {done.returncode}): {done.stderr.strip()[-500:]}")
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(path, os.X_OK):
        raise NginxUnavailableError("apt-get installed nginx, yet no nginx executable was found")
    return path, "nginx was not installed: this run installed it (`apt-get install -y nginx`)."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


@contextmanager
def nginx_server(nginx: str, body: bytes) -> Iterator[str]:
    """Run nginx serving ``body`` on the history path; yield its base URL; stop it after."""
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        os.chmod(tmp, 0o755)  # the worker may run as another user (nobody, www-data)
        (Path(tmp) / "history.json").write_bytes(body)
        os.chmod(Path(tmp) / "history.json", 0o644)
        port = _free_port()
        location = PATH.split("?", 1)[0]
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(CONFIG.format(tmp=tmp, port=port, location=location))
        proc = subprocess.Popen(
            [nginx, "-p", tmp, "-c", str(conf), "-e", f"{tmp}/error.log", "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=lambda: _pin(SERVER_CPU))  # pins nginx; no threads yet
        affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        try:
            deadline = time.monotonic() + 15
            while True:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    log = Path(tmp, "error.log")
                    err += log.read_text(errors="replace") if log.exists() else ""
                    raise NginxUnavailableError(f"nginx exited at start ({proc.returncode}): "
                                           f"{err.strip()[-500:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise NginxUnavailableError("nginx did not listen within 15 s") from None
                    time.sleep(0.05)
            _pin(CLIENT_CPU)
            yield f"http://127.0.0.1:{port}"
        finally:
            if affinity is not None:
                os.sched_setaffinity(0, affinity)
            proc.terminate()  # SIGTERM: nginx's fast shutdown, master and worker
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if proc.stderr:
                proc.stderr.close()


def section(quick: bool, offers: int = OFFERS, concurrency: int = CONCURRENCY,
            rounds: int | None = None) -> Section:
    default_rounds = 3 if quick else 11
    rounds = rounds or default_rounds
    seconds = 0.25 if quick else 2.0  # one client's round
    body = history_body(offers)
    command = "python -m benchmarks.nginx_throughput" + (" --quick" if quick else "")
    if offers != OFFERS:
        command += f" --offers {offers}"
    if concurrency != CONCURRENCY:
        command += f" --concurrency {concurrency}"
    if rounds != default_rounds:
        command += f" --rounds {rounds}"
    title = (f"Throughput against nginx: {offers}-offer history ({len(body):,} bytes), "
             f"concurrency {concurrency}, medians of {rounds} alternating rounds")
    header = ["client", "req/s (median)", "CPU ms/req (median)", "req/s min-max",
              "gather_users vs it"]
    nginx, how = find_nginx(install=not quick)
    if nginx is None:
        return Section(title=title, command=command,
                       rows=[header, ["(skipped)", "", "", "", ""]],
                       notes=[how + " The full run installs it and measures."])
    clients = {GATHER: gather, FLOOR: raw_msgspec}
    rates: dict[str, list[float]] = {name: [] for name in clients}
    cpus: dict[str, list[float]] = {name: [] for name in clients}
    try:
        with nginx_server(nginx, body) as base:
            _measure(raw_msgspec, base, 0.2, 4)  # warm-up: connections, caches, the decoder
            for _ in range(rounds):
                for name, client in clients.items():  # ours, raw, ours, raw, ...
                    rate, cpu = _measure(client, base, seconds, concurrency)
                    rates[name].append(rate)
                    cpus[name].append(cpu)
    except NginxUnavailableError as exc:
        if not quick:
            raise
        return Section(title=title, command=command,  # a smoke run must not fail on nginx
                       rows=[header, ["(skipped)", "", "", "", ""]],
                       notes=[f"nginx could not be started: {exc}"])
    median = {name: statistics.median(rates[name]) for name in clients}
    rows = [header]
    for name in clients:
        ratio = "" if name == GATHER else f"{median[GATHER] / median[name]:.2f}x"
        rows.append([name, f"{median[name]:,.0f}", f"{statistics.median(cpus[name]):.3f}",
                     f"{min(rates[name]):,.0f}-{max(rates[name]):,.0f}", ratio])
    ratios = [a / b for a, b in zip(rates[GATHER], rates[FLOOR], strict=True)]
    notes = [
        f"nginx: {nginx}, one worker. Rounds of {seconds:g} s per client; the ratio is of "
        "the two medians. Ratios of each round's pair: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f" (their median: {statistics.median(ratios):.2f}).",
    ]
    if how:
        notes.insert(0, how)
    checks = []
    if offers == OFFERS and concurrency == CONCURRENCY:
        checks.append(Check(f"{offers} offers, c={concurrency}, nginx: {GATHER} vs {FLOOR}",
                            median[GATHER] / median[FLOOR], TARGET))
    return Section(title=title, command=command, rows=rows, checks=checks, notes=notes)


def run(quick: bool) -> Section:
    return section(quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="three short rounds; skip if nginx is not installed")
    parser.add_argument("--offers", type=int, default=OFFERS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--rounds", type=int, help="rounds per client (default 11; quick 3)")
    args = parser.parse_args()
    try:
        print(section(args.quick, args.offers, args.concurrency, args.rounds).text())
    except NginxUnavailableError as exc:
        sys.exit(f"nginx_throughput: {exc}")


if __name__ == "__main__":
    main()
