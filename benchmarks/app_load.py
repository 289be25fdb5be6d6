"""Load benchmark for the app: requests/s, p50/p99 latency and the server's CPU time per request for GET /healthz
and POST /api/v1/quotes, next to a peer: a bare uvicorn app that answers 200 with no work, under the same load.

Starts the real service (`python -m app`, as the image runs it) on 127.0.0.1 on a free port, then drives it from
this process with a small asyncio HTTP/1.1 keep-alive client, for a bounded time and request count per endpoint.
Client and server share the machine, so wall-clock figures measure both; where the machine has two or more CPUs the
server is pinned to one and the client to another, and the server's own CPU time (utime + stime from /proc) per
request is the figure that measures the app. The ratio to the peer is what the app's own code costs.

    python benchmarks/app_load.py [--seconds 3] [--connections 8] [--max-requests 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUOTE = json.dumps({"currency": "EUR", "items": [{"sku": "MUG-01", "quantity": 12, "unit_price_cents": 1250},
                                                  {"sku": "PEN-7", "quantity": 3, "unit_price_cents": 199}]}).encode()
ENDPOINTS = {
    "GET /healthz": b"GET /healthz HTTP/1.1\r\nhost: bench\r\n\r\n",
    "POST /api/v1/quotes": (b"POST /api/v1/quotes HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
                            b"content-length: " + str(len(QUOTE)).encode() + b"\r\n\r\n" + QUOTE),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The peer: uvicorn with the service's settings and an ASGI app that does nothing but answer.
PEER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_config=None, server_header=False)
"""
SERVER_CPU, CLIENT_CPU = 0, 1


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpu: int) -> bool:
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        return False
    os.sched_setaffinity(pid, {cpu})
    return True


def start_service(port: int, peer: bool = False) -> subprocess.Popen:
    env = {**os.environ, "APP_HOST": "127.0.0.1", "APP_PORT": str(port), "APP_DRAIN_SECONDS": "0"}
    command = [sys.executable, "-c", PEER, str(port)] if peer else [sys.executable, "-m", "app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("error: the service did not become healthy within 20s")


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    return status


async def connection(port: int, request: bytes, stop_at: float, budget: list[int], latencies: list[float],
                     errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            status = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def load(port: int, request: bytes, seconds: float, connections: int, max_requests: int) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    budget = [max_requests]
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(connection(port, request, stop_at, budget, latencies, errors) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "seconds": round(elapsed, 2), "rps": round(len(latencies) / elapsed),
            "p50_ms": round(cuts[49] * 1000, 2), "p99_ms": round(cuts[98] * 1000, 2), "non_200": len(errors)}


def measure(port: int, pid: int, request: bytes, args: argparse.Namespace) -> dict:
    asyncio.run(load(port, request, 0.5, args.connections, 2_000))  # warm-up, not reported
    before = cpu_seconds(pid)
    result = asyncio.run(load(port, request, args.seconds, args.connections, args.max_requests))
    result["server_cpu_us"] = round((cpu_seconds(pid) - before) / max(result["requests"], 1) * 1e6)
    return result


def line(name: str, result: dict) -> str:
    return (f"{name:28} {result['rps']:>7} req/s   p50 {result['p50_ms']:>6} ms   p99 {result['p99_ms']:>6} ms   "
            f"server CPU {result['server_cpu_us']:>5} us/request   ({result['requests']} requests in "
            f"{result['seconds']}s, {result['non_200']} not 200)")


def run_server(peer: bool, requests: dict[str, bytes], args: argparse.Namespace) -> dict[str, dict]:
    port = free_port()
    service = start_service(port, peer=peer)
    pinned = pin(service.pid, SERVER_CPU)
    try:
        return {name: measure(port, service.pid, request, args) | {"pinned": pinned}
                for name, request in requests.items()}
    finally:
        service.terminate()
        service.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per endpoint (default 3)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections (default 8)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="request cap per endpoint")
    args = parser.parse_args()
    if not (0 < args.seconds <= 60 and 0 < args.connections <= 256 and args.max_requests > 0):
        parser.error("--seconds must be within (0, 60], --connections within 1..256, --max-requests positive")
    client_pinned = pin(0, CLIENT_CPU)
    print(f"{args.connections} connections, {args.seconds:g}s per endpoint, CPUs: {os.cpu_count()}, "
          f"server and client pinned to separate CPUs: {client_pinned}")
    app = run_server(False, ENDPOINTS, args)
    peer = run_server(True, {"GET /healthz": ENDPOINTS["GET /healthz"]}, args)["GET /healthz"]
    print(line("peer (bare uvicorn, 200)", peer))
    for name, result in app.items():
        ratio = result["server_cpu_us"] / max(peer["server_cpu_us"], 1)
        print(line(name, result) + f"   x{ratio:.1f} the peer's CPU per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
