"""Times dashboard pages against the API call behind them: sequential GETs on one keep-alive connection each."""
import http.client, json, os, re, statistics, sys, time, urllib.parse

base = urllib.parse.urlparse(sys.argv[1])
volumes, servers, rounds = int(os.environ["VOLUMES"]), int(os.environ["SERVERS"]), int(os.environ["ROUNDS"])


def connect():
    return http.client.HTTPConnection(base.hostname, base.port, timeout=30)


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    reply = conn.getresponse()
    return reply, reply.read()


for _ in range(100):  # wait for the listener
    try:
        request(connect(), "GET", "/")
        break
    except OSError:
        time.sleep(0.2)

api = connect()
auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "bench-secret"}}},
                 "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
reply, body = request(api, "POST", "/identity/v3/auth/tokens", json.dumps(auth), {"Content-Type": "application/json"})
token = reply.getheader("X-Subject-Token")
project = json.loads(body)["token"]["project"]["id"]
# Cinder's default quota is 10 volumes: lift it for the bench project.
reply, _ = request(api, "PUT", f"/volume/v3/os-quota-sets/{project}", json.dumps({"quota_set": {"volumes": -1, "gigabytes": -1}}),
                   {"Content-Type": "application/json", "X-Auth-Token": token})
assert reply.status == 200, reply.status
for i in range(volumes):
    reply, _ = request(api, "POST", "/volume/v3/volumes", json.dumps({"volume": {"name": f"bench-{i:03}", "size": 1}}),
            {"Content-Type": "application/json", "X-Auth-Token": token})
    assert reply.status == 202, reply.status

def nova(method, path, body=None):
    reply, raw = request(api, method, "/compute/v2.1" + path, body and json.dumps(body),
                         {"Content-Type": "application/json", "X-Auth-Token": token, "OpenStack-API-Version": "compute 2.60"})
    assert reply.status < 300, (method, path, reply.status, raw[:300])
    return json.loads(raw) if raw else None


# Servers that no host can hold end in ERROR with NoValidHost: real rows with a fault, no VM booted.
nova("PUT", f"/os-quota-sets/{project}", {"quota_set": {"instances": -1, "cores": -1, "ram": -1}})
flavor = nova("POST", "/flavors", {"flavor": {"name": "bench-too-big", "ram": 64 * 1024 * 1024, "vcpus": 1, "disk": 1}})["flavor"]["id"]
reply, raw = request(api, "GET", "/image/v2/images?name=ember-tiny", headers={"X-Auth-Token": token})
image = json.loads(raw)["images"][0]["id"]
for i in range(servers):
    nova("POST", "/servers", {"server": {"name": f"bench-{i:03}", "flavorRef": flavor, "imageRef": image, "networks": "none"}})
while any(s["status"] == "BUILD" for s in nova("GET", "/servers/detail")["servers"]):
    time.sleep(0.5)

browser = connect()
reply, _ = request(browser, "POST", "/dashboard/login", "user=admin&password=bench-secret&project=admin",
                   {"Content-Type": "application/x-www-form-urlencoded"})
cookie = re.match(r"[^;]+", reply.getheader("Set-Cookie")).group(0)


def timed(conn, path, headers):
    for _ in range(20):
        request(conn, "GET", path, headers=headers)
    times, size = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        reply, body = request(conn, "GET", path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert reply.status == 200, (path, reply.status)
        size = len(body)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], size


rows = [
    ("`GET /dashboard/volumes` (HTML page)", *timed(browser, "/dashboard/volumes", {"Cookie": cookie})),
    ("`GET /dashboard/servers` (HTML page)", *timed(browser, "/dashboard/servers", {"Cookie": cookie})),
    ("`GET /dashboard/topology.json`", *timed(browser, "/dashboard/topology.json", {"Cookie": cookie})),
    ("`GET /dashboard/hosts` (HTML page, one host)", *timed(browser, "/dashboard/hosts", {"Cookie": cookie})),
    ("`GET /volume/v3/volumes/detail` (the API call of the volumes page)",
     *timed(api, "/volume/v3/volumes/detail", {"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.70"})),
    ("`GET /compute/v2.1/servers/detail` (the API call of the servers page)",
     *timed(api, "/compute/v2.1/servers/detail", {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.60"})),
]
load = os.getloadavg()[0]
print(f"{volumes} volumes and {servers} servers (ERROR, NoValidHost), {rounds} sequential requests each, `ember serve` on SQLite (bench/dashboard/run.sh), "
      f"{time.strftime('%Y-%m-%d', time.gmtime())}, load average {load:.0f} on {os.cpu_count()} cores:\n")
print("| Request | median | p90 | body |")
print("|---|---|---|---|")
for name, median, p90, size in rows:
    print(f"| {name} | {median:.1f} ms | {p90:.1f} ms | {size / 1024:.0f} KiB |")
