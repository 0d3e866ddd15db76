using System.Text.Json.Nodes;

namespace Ember.Tests.Support;

/// <summary>
/// Debian's python3-openstacksdk (0.101) as a user calls its cloud layer from Python: `openstack.connect()` on the cloud
/// the environment names, then one step of a session; each step prints what the SDK returned as one JSON object.
/// </summary>
public static class OpenStackSdk
{
    /// <summary>
    /// "up [NETWORK]": create_server(wait=True) on NETWORK, or with no network first the plain create_server(wait=True)
    /// (which the SDK fails and undoes without an address) and then a create without wait; then create_volume(wait=True)
    /// and attach_volume(wait=True). "down": detach_volume, delete_server and delete_volume, each with wait=True.
    /// </summary>
    private const string Script = """
        import json
        import sys

        import openstack
        from openstack import exceptions

        conn = openstack.connect()
        step = sys.argv[1]
        out = {}
        if step == "up":
            network = sys.argv[2] if len(sys.argv) > 2 else None
            if network:
                server = conn.create_server("sdk-vm", image="ember-tiny", flavor="m1.tiny", network=network, wait=True, auto_ip=True, timeout=600)
            else:
                try:
                    conn.create_server("sdk-noip", image="ember-tiny", flavor="m1.tiny", wait=True, auto_ip=False, timeout=600)
                except exceptions.SDKException as e:
                    out["no_network_error"] = str(e)
                created = conn.create_server("sdk-vm", image="ember-tiny", flavor="m1.tiny", wait=False)
                conn.compute.wait_for_server(conn.compute.get_server(created.id), wait=600)
                server = conn.get_server(created.id)
            out["server"] = {"id": server.id, "status": server.status, "private_v4": server.private_v4}
            volume = conn.create_volume(1, name="sdk-vol", wait=True, timeout=300)
            out["volume"] = {"id": volume.id, "status": volume.status}
            attachment = conn.attach_volume(server, volume, wait=True, timeout=300)
            out["attachment"] = {"volume_id": attachment.volume_id, "server_id": attachment.server_id}
            volume = conn.get_volume(volume.id)
            out["attached"] = {"status": volume.status, "servers": [a["server_id"] for a in volume.attachments]}
        elif step == "down":
            server = conn.get_server("sdk-vm")
            volume = conn.get_volume("sdk-vol")
            conn.detach_volume(server, volume, wait=True, timeout=300)
            out["detached"] = conn.get_volume(volume.id).status
            out["server_deleted"] = conn.delete_server(server.id, wait=True, timeout=300)
            out["server_gone"] = conn.get_server(server.id) is None
            out["volume_deleted"] = conn.delete_volume(volume.id, wait=True, timeout=300)
            out["volume_gone"] = conn.get_volume(volume.id) is None
            out["servers_left"] = [s.name for s in conn.list_servers()]
        print(json.dumps(out))
        """;

    /// <summary>Runs one step of <see cref="Script"/> with Debian's python3 (the SDK is not in other Pythons) and the cloud's environment.</summary>
    public static async Task<JsonNode> RunAsync(IEnumerable<KeyValuePair<string, string>> env, params string[] args)
    {
        var result = (await Cli.RunAsync("/usr/bin/python3", ["-", .. args], env, TimeSpan.FromMinutes(12), Script)).EnsureSuccess();
        return JsonNode.Parse(result.StdOut.Trim().Split('\n')[^1]) ?? throw new InvalidOperationException(result.ToString());
    }
}
