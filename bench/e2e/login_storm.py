#!/usr/bin/env python3
"""What a password-guessing storm does to another tenant (issue 11, item 8).

Against a running `ember serve`: the victim (a user with a token) lists its volumes over and over, first
alone, then while STORM threads post wrong passwords for made-up users as fast as they can. Prints the
victim's p50/p99 in both phases, their ratio, and what the storm got back (201/401/429 counts).

  bench/e2e/login_storm.py --url http://127.0.0.1:15000 --password DEMO_PASSWORD [--threads 32] [--seconds 10]
                           [--storm-user admin]   (guess one real user's password instead of made-up names)

Loopback only; standard library only.
"""
import argparse
import json
import statistics
import threading
import time
import urllib.error
import urllib.request


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def password_body(user, password, project=None):
    auth = {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"name": "Default"}, "password": password}}}}
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return {"auth": auth}


def victim_latencies(url, token, seconds):
    """Lists the victim's volumes back to back for `seconds`; returns each request's latency in ms."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        request = urllib.request.Request(f"{url}/volume/v3/volumes", headers={"X-Auth-Token": token})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)], len(ordered)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", required=True)
    parser.add_argument("--project", default="demo")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--storm-user", help="guess this user's password (default: a new made-up user name per guess)")
    args = parser.parse_args()

    status, headers = post_json(f"{args.url}/identity/v3/auth/tokens", password_body(args.user, args.password, args.project))
    if status != 201:
        raise SystemExit(f"victim login failed: {status}")
    token = headers["X-Subject-Token"]

    quiet = summary(victim_latencies(args.url, token, args.seconds))

    stop = threading.Event()
    counts = {}
    lock = threading.Lock()

    def guess(n):
        i = 0
        while not stop.is_set():
            name = args.storm_user or f"guess-{n}-{i}"
            code, _ = post_json(f"{args.url}/identity/v3/auth/tokens", password_body(name, f"wrong-{i}"))
            with lock:
                counts[code] = counts.get(code, 0) + 1
            i += 1

    storm = [threading.Thread(target=guess, args=(n,), daemon=True) for n in range(args.threads)]
    for t in storm:
        t.start()
    time.sleep(1)  # let the storm reach its steady state
    stormy = summary(victim_latencies(args.url, token, args.seconds))
    stop.set()
    for t in storm:
        t.join(timeout=130)

    print(json.dumps({
        "victim_quiet_ms": {"p50": round(quiet[0], 2), "p99": round(quiet[1], 2), "n": quiet[2]},
        "victim_storm_ms": {"p50": round(stormy[0], 2), "p99": round(stormy[1], 2), "n": stormy[2]},
        "p50_ratio": round(stormy[0] / quiet[0], 2),
        "p99_ratio": round(stormy[1] / quiet[1], 2),
        "storm_threads": args.threads,
        "storm_user": args.storm_user or "made-up names",
        "storm_answers": {str(k): v for k, v in sorted(counts.items())},
    }, indent=2))


if __name__ == "__main__":
    main()
