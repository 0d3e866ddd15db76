#!/usr/bin/python3
"""Prepares a Tempest workspace for an Ember cloud: two small flavors and tempest.conf.

    tempest_setup.py URL WORKSPACE        (the admin password comes from EMBER_ADMIN_PASSWORD)
    tempest_setup.py --openstack AUTH_URL WORKSPACE
        a real Keystone (AUTH_URL its v3 root, e.g. http://127.0.0.1:5000/v3) and the services in its catalog, such
        as the Keystone + Cinder anchor; the admin password comes from OS_PASSWORD. Only identity and volume are
        configured: the anchor has no Nova, Glance or cinder-backup, so Tempest skips what needs them.

Tempest runs with dynamic credentials: each test class gets fresh projects and users, and its admin user holds the
admin role on a fresh project. For that admin to be the cloud admin, Ember must run with Identity:AdminProjectName
empty (Keystone's admin_project_name unset, as on DevStack): conformance/tempest.sh starts it so.
"""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 30


def call(method, url, token=None, body=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        if error.code == 300:  # a versions document
            return 300, error.headers, json.loads(raw)
        raise SystemExit(f"tempest_setup: {method} {url}: HTTP {error.code} {raw[:300]!r}")


def login(identity, password):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    _, headers, token = call("POST", identity + "/v3/auth/tokens", body=body)
    # A real cloud may list a service without a public endpoint (one a test left behind): not ours to use.
    catalog = {entry["type"]: public[0] for entry in token["token"]["catalog"]
               if (public := [e["url"] for e in entry["endpoints"] if e["interface"] == "public"])}
    return headers["X-Subject-Token"], catalog


def flavor(compute, token, name, ram):
    """Tempest boots its servers with flavor_ref: the smallest that boots Ember's guest image, made once."""
    flavors = call("GET", compute + "/flavors?is_public=None", token)[2]["flavors"]
    for f in flavors:
        if f["name"] == name:
            return f["id"]
    body = {"flavor": {"name": name, "ram": ram, "vcpus": 1, "disk": 1}}
    return call("POST", compute + "/flavors", token, body)[2]["flavor"]["id"]


def version_range(root):
    """(min, max) microversion of the CURRENT version in a service's versions document."""
    _, _, doc = call("GET", root)
    versions = doc["versions"]
    current = next(v for v in versions if v["status"] == "CURRENT")
    return current["min_version"], current["version"]


def service_root(endpoint, marker):
    return endpoint[: endpoint.index(marker) + len(marker)]


def common_conf(workspace, password, identity, volume_min, volume_max, storage_protocol, vendor_name):
    """The sections Ember and a real Keystone + Cinder share: the same identity and volume settings for both."""
    return f"""[DEFAULT]
log_dir = {workspace}/logs
log_file = tempest.log

[oslo_concurrency]
lock_path = {workspace}/tempest_lock

[auth]
use_dynamic_credentials = True
default_credentials_domain_name = Default
admin_username = admin
admin_project_name = admin
admin_password = {password}
admin_domain_name = Default
create_isolated_networks = False

[identity]
uri_v3 = {identity}/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public
catalog_type = identity
admin_role = admin
default_domain_id = default

[identity-feature-enabled]
api_v2 = False
api_v2_admin = False
api_v3 = True
trust = True
domain_specific_drivers = False
security_compliance = False
project_tags = True
application_credentials = True
access_rules = False

[image]
catalog_type = image
endpoint_type = public
container_formats = bare,ovf
disk_formats = raw,qcow2

[image-feature-enabled]
api_v1 = False
api_v2 = True
import_image = True
os_glance_reserved = False
manage_locations = False

[volume]
catalog_type = block-storage
endpoint_type = public
min_microversion = {volume_min}
max_microversion = {volume_max}
build_interval = 1
build_timeout = 60
volume_size = 1
storage_protocol = {storage_protocol}
vendor_name = {vendor_name}
"""


def openstack_conf(auth_url, workspace):
    """tempest.conf for a real Keystone + Cinder: the identity and volume sections as for Ember, but what the cloud has."""
    password = os.environ.get("OS_PASSWORD")
    if not password:
        raise SystemExit("tempest_setup: OS_PASSWORD is not set")
    identity = auth_url.rstrip("/").removesuffix("/v3")
    _, catalog = login(identity, password)
    volume = catalog["block-storage"]
    # Cinder's versions document is at the root of its endpoint (http://host:8776/), not under a path.
    parts = urllib.parse.urlsplit(volume)
    volume_min, volume_max = version_range(f"{parts.scheme}://{parts.netloc}/")
    # What Cinder's fake driver reports (FakeLoggingVolumeDriver); only the excluded capability tests read them.
    conf = common_conf(workspace, password, identity, volume_min, volume_max, "iSCSI", "Open Source") + """
[volume-feature-enabled]
backup = False
snapshot = True
clone = True
manage_volume = False
manage_snapshot = False
multi_backend = False
extend_attached_volume = True
api_extensions = all

[service_available]
cinder = True
glance = False
nova = False
neutron = False
swift = False
horizon = False
"""
    return conf, f"volume {volume_min}-{volume_max} at {volume}"


def network_settings(catalog, token):
    """Neutron's sections when Ember's network service has what Tempest's network tests need, else None: an external
    network (made at start with Network:External:Name) and a compute host whose network agents are alive (its data plane
    is on, so servers get interfaces). Without root neither is there and Tempest runs without Neutron."""
    network = catalog.get("network")
    if not network:
        return None
    network = network.rstrip("/") + "/v2.0"
    externals = call("GET", network + "/networks?router:external=True", token)[2]["networks"]
    public = next((n for n in externals if n["name"] == "public"), externals[0] if externals else None)
    agents = call("GET", network + "/agents?agent_type=Linux+bridge+agent", token)[2]["agents"]
    if public is None or not any(a["alive"] for a in agents):
        return None
    extensions = sorted(e["alias"] for e in call("GET", network + "/extensions", token)[2]["extensions"])
    return public, extensions


def write_conf(workspace, conf):
    conf_file = os.path.join(workspace, "etc", "tempest.conf")
    with open(os.open(conf_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(conf)


def main():
    if sys.argv[1] == "--openstack":
        workspace = sys.argv[3]
        conf, summary = openstack_conf(sys.argv[2], workspace)
        write_conf(workspace, conf)
        print(f"tempest_setup: {summary}")
        return
    url, workspace = sys.argv[1].rstrip("/"), sys.argv[2]
    password = os.environ.get("EMBER_ADMIN_PASSWORD")
    if not password:
        raise SystemExit("tempest_setup: EMBER_ADMIN_PASSWORD is not set")
    identity = url + "/identity"
    token, catalog = login(identity, password)

    compute = catalog["compute"]
    flavor_ref = flavor(compute, token, "tempest.nano", 256)
    flavor_ref_alt = flavor(compute, token, "tempest.micro", 320)
    images = call("GET", catalog["image"] + "/v2/images?status=active", token)[2]["images"]
    image_ref = images[0]["id"] if images else ""
    volume_min, volume_max = version_range(service_root(catalog["block-storage"], "/volume"))
    compute_min, compute_max = version_range(service_root(compute, "/compute"))
    neutron = network_settings(catalog, token)

    conf = common_conf(workspace, password, identity, volume_min, volume_max, "nbd", "Ember") + f"""
[volume-feature-enabled]
backup = True
snapshot = True
clone = True
manage_volume = False
manage_snapshot = False
multi_backend = False
extend_attached_volume = True
# Cinder's extensions Ember serves (GET /extensions); the default "all" would look for os-hosts, which it has not.
api_extensions = os-availability-zone,os-services,os-admin-actions,os-volume-actions,os-quota-sets,os-types-manage

[compute]
catalog_type = compute
endpoint_type = public
image_ref = {image_ref}
image_ref_alt = {image_ref}
flavor_ref = {flavor_ref}
flavor_ref_alt = {flavor_ref_alt}
min_microversion = {compute_min}
max_microversion = {compute_max}
build_interval = 1
build_timeout = 180
# Seconds after ACTIVE before a test acts on a server: a TCG guest needs a few to boot before it can release a
# hot-unplugged disk (Ember gives up on a detach after 60 s; Nova's libvirt driver retries it).
ready_wait = 10
volume_device_name = vdb
fixed_network_name =

[compute-feature-enabled]
disk_config = False
change_password = False
console_output = True
resize = False
pause = True
shelve = False
suspend = True
cold_migration = False
live_migration = False
metadata_service = False
vnc_console = False
spice_console = False
serial_console = False
rescue = False
enable_instance_password = True
interface_attach = False
snapshot = True
personality = False
attach_encrypted_volume = False
config_drive = False
volume_multiattach = True
swap_volume = False

{network_sections(neutron)}

[validation]
run_validation = False
security_group = False
security_group_rules = False

[service_available]
cinder = True
glance = True
nova = True
neutron = {neutron is not None}
swift = False
horizon = False
"""
    if neutron:
        # Each test class's projects get a network, a subnet and a router on the external network, as on DevStack.
        conf = conf.replace("create_isolated_networks = False", "create_isolated_networks = True", 1)
    write_conf(workspace, conf)
    print(f"tempest_setup: volume {volume_min}-{volume_max}, compute {compute_min}-{compute_max}, "
          f"image {image_ref or 'none'}, flavors {flavor_ref}/{flavor_ref_alt}, "
          f"network {'public ' + neutron[0]['id'] if neutron else 'off'}")


def network_sections(neutron):
    """[network] and [network-feature-enabled]: the external network, the projects' networks' range, the extensions Ember
    lists (so Tempest skips what it has not), IPv4 only; or, without the network service, no floating IPs."""
    if neutron is None:
        return """[network]
catalog_type = network

[network-feature-enabled]
floating_ips = False"""
    public, extensions = neutron
    return f"""[network]
catalog_type = network
public_network_id = {public["id"]}
floating_network_name = {public["name"]}
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
project_networks_reachable = False
shared_physical_network = False

[network-feature-enabled]
api_extensions = {",".join(extensions)}
ipv6 = False
ipv6_subnet_attributes = False
floating_ips = True
port_security = True
port_admin_state_change = True"""


if __name__ == "__main__":
    main()
