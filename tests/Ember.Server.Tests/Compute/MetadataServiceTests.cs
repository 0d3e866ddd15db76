using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Compute.Metadata;
using Ember.Server.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// The metadata service's content in Nova's shapes (the paths cloud-init and ember-firstboot read), and its HTTP handler's
/// bounds on a real loopback socket. The end to end path (169.254.169.254 in a DHCP namespace, from a guest) is
/// MetadataTests in Ember.Tests.
/// </summary>
public sealed class MetadataServiceTests
{
    private const string Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+/ab test@host";

    private static readonly ServerRow s_server = new()
    {
        Id = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5",
        InstanceNumber = 42,
        Name = "Web Server_1",
        ProjectId = "p1",
        FlavorJson = """{"Name":"m1.tiny"}""",
        Metadata = """{"role":"web"}""",
        UserData = Convert.ToBase64String("#!/bin/sh\necho hi\n"u8),
        KeyName = "mine",
        KeyData = Key,
        AvailabilityZone = "nova",
    };

    private static readonly MetadataNic[] s_nics =
    [
        new("aabbccdd-eeff-4011-8233-445566778899", "net-1", "fa:16:3e:00:00:01", 1450,
            [new MetadataAddress("10.0.0.5", "10.0.0.0/24", "10.0.0.1", EnableDhcp: true, ["8.8.8.8"], [])]),
        new("bbccddee-ff00-4122-8344-556677889900", "net-2", "fa:16:3e:00:00:02", 1500,
            [new MetadataAddress("192.168.5.9", "192.168.5.0/26", "192.168.5.1", EnableDhcp: false, ["1.1.1.1"], [new HostRouteText("172.16.0.0/16", "192.168.5.3")])]),
    ];

    private static string Text(MetadataReply reply) => Encoding.UTF8.GetString(reply.Body);

    [Fact]
    public void Openstack_tree_has_novas_versions_files_and_shapes()
    {
        var metadata = new InstanceMetadata(s_server, s_nics);
        Assert.EndsWith("2018-08-27\nlatest", Text(metadata.Answer("/openstack")), StringComparison.Ordinal);
        Assert.Equal("meta_data.json\nvendor_data.json\nuser_data", Text(metadata.Answer("/openstack/2013-04-04/")));
        Assert.Contains("network_data.json", Text(metadata.Answer("/openstack/latest")), StringComparison.Ordinal);
        Assert.Equal(404, metadata.Answer("/openstack/2013-04-04/network_data.json").Status);
        Assert.Equal(404, metadata.Answer("/openstack/1999-01-01/meta_data.json").Status);

        var reply = metadata.Answer("/openstack/latest/meta_data.json");
        Assert.Equal("application/json", reply.ContentType);
        Assert.Contains("I+/ab", Text(reply), StringComparison.Ordinal); // not \u002B: the guest's parser reads it raw
        var json = JsonNode.Parse(reply.Body)!;
        Assert.Equal(s_server.Id, json["uuid"]!.GetValue<string>());
        Assert.Equal(Key, json["public_keys"]!["mine"]!.GetValue<string>());
        Assert.Equal("ssh", json["keys"]![0]!["type"]!.GetValue<string>());
        Assert.Equal("web-server-1", json["hostname"]!.GetValue<string>());
        Assert.Equal("Web Server_1", json["name"]!.GetValue<string>());
        Assert.Equal("web", json["meta"]!["role"]!.GetValue<string>());
        Assert.Equal(512, Convert.FromBase64String(json["random_seed"]!.GetValue<string>()).Length);
        Assert.Equal("#!/bin/sh\necho hi\n", Text(metadata.Answer("/openstack/latest/user_data")));
        Assert.Equal("{}", Text(metadata.Answer("/openstack/latest/vendor_data.json")));

        var network = JsonNode.Parse(metadata.Answer("/openstack/latest/network_data.json").Body)!;
        Assert.Equal("tapaabbccddeef", network["links"]![0]!["id"]!.GetValue<string>());
        Assert.Equal("ipv4_dhcp", network["networks"]![0]!["type"]!.GetValue<string>());
        var fixedNetwork = network["networks"]![1]!;
        Assert.Equal("ipv4", fixedNetwork["type"]!.GetValue<string>());
        Assert.Equal("255.255.255.192", fixedNetwork["netmask"]!.GetValue<string>());
        Assert.Equal("0.0.0.0", fixedNetwork["routes"]![0]!["netmask"]!.GetValue<string>());
        Assert.Equal("255.255.0.0", fixedNetwork["routes"]![1]!["netmask"]!.GetValue<string>());
        Assert.Equal(2, network["services"]!.AsArray().Count);
    }

    [Fact]
    public void Devices_list_the_tagged_interfaces_from_2016_06_30_as_nova_does()
    {
        var tagged = new MetadataNic("ccddeeff-0011-4233-8455-667788990011", "net-3", "fa:16:3e:00:00:03", 1450, [], Tag: "data-plane");
        var metadata = new InstanceMetadata(s_server, [.. s_nics, tagged]);
        var device = Assert.Single(JsonNode.Parse(metadata.Answer("/openstack/latest/meta_data.json").Body)!["devices"]!.AsArray())!;
        Assert.Equal("nic", device["type"]!.GetValue<string>());
        Assert.Equal("fa:16:3e:00:00:03", device["mac"]!.GetValue<string>());
        Assert.Equal(["data-plane"], device["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.False(device["vf_trusted"]!.GetValue<bool>());

        // vf_trusted is Rocky's (2018-08-27); devices themselves Newton's (2016-06-30): older versions have neither.
        var newton = Assert.Single(JsonNode.Parse(metadata.Answer("/openstack/2016-06-30/meta_data.json").Body)!["devices"]!.AsArray())!;
        Assert.Null(newton["vf_trusted"]);
        Assert.Null(JsonNode.Parse(metadata.Answer("/openstack/2015-10-15/meta_data.json").Body)!["devices"]);
        Assert.Empty(JsonNode.Parse(new InstanceMetadata(s_server, s_nics).Answer("/openstack/latest/meta_data.json").Body)!["devices"]!.AsArray());
    }

    [Fact]
    public void Ec2_tree_lists_and_serves_what_cloud_init_reads()
    {
        var metadata = new InstanceMetadata(s_server, s_nics);
        Assert.EndsWith("2009-04-04\nlatest", Text(metadata.Answer("/")), StringComparison.Ordinal);
        Assert.Equal("meta-data/\nuser-data", Text(metadata.Answer("/2009-04-04/")));
        var listing = Text(metadata.Answer("/latest/meta-data/")).Split('\n');
        Assert.Contains("public-keys/", listing);
        Assert.Contains("placement/", listing);
        Assert.Contains("instance-id", listing);
        Assert.Equal("i-0000002a", Text(metadata.Answer("/latest/meta-data/instance-id")));
        Assert.Equal("10.0.0.5", Text(metadata.Answer("/latest/meta-data/local-ipv4")));
        Assert.Equal("m1.tiny", Text(metadata.Answer("/latest/meta-data/instance-type")));
        Assert.Equal("0=mine", Text(metadata.Answer("/latest/meta-data/public-keys/")));
        Assert.Equal("openssh-key", Text(metadata.Answer("/latest/meta-data/public-keys/0/")));
        Assert.Equal(Key, Text(metadata.Answer("/latest/meta-data/public-keys/0/openssh-key")));
        Assert.Equal("nova", Text(metadata.Answer("/latest/meta-data/placement/availability-zone")));
        Assert.Equal("#!/bin/sh\necho hi\n", Text(metadata.Answer("/latest/user-data")));
        Assert.Equal(404, metadata.Answer("/latest/meta-data/no-such").Status);
        Assert.Equal(404, metadata.Answer("/latest/meta-data/instance-id/more").Status);
        Assert.Equal(404, metadata.Answer("/2030-01-01/meta-data/").Status);

        // No key and no user data: neither is listed, both are 404.
        var bare = new InstanceMetadata(s_server with { KeyName = null, KeyData = null, UserData = null }, []);
        Assert.Equal(404, bare.Answer("/latest/user-data").Status);
        Assert.Equal(404, bare.Answer("/openstack/latest/user_data").Status);
        Assert.DoesNotContain("public-keys/", Text(bare.Answer("/latest/meta-data/")), StringComparison.Ordinal);
        Assert.Null(JsonNode.Parse(bare.Answer("/openstack/latest/meta_data.json").Body)!["public_keys"]);
    }

    [Fact]
    public void Config_drive_holds_every_version_and_the_ec2_copy()
    {
        var files = new InstanceMetadata(s_server, s_nics).ConfigDriveFiles();
        Assert.Contains("openstack/latest/meta_data.json", files.Keys);
        Assert.Contains("openstack/2012-08-10/meta_data.json", files.Keys);
        Assert.Contains("openstack/latest/network_data.json", files.Keys);
        Assert.Equal("#!/bin/sh\necho hi\n", Encoding.UTF8.GetString(files["openstack/latest/user_data"]));
        Assert.Equal("i-0000002a", JsonNode.Parse(files["ec2/latest/meta-data.json"])!["instance-id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Listener_answers_by_source_address_and_refuses_what_it_must()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(16);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var asked = new List<(IPAddress, string)>();
        await using var listener = new MetadataListener("net:[1]", socket, (source, path, _) =>
        {
            lock (asked)
            {
                asked.Add((source, path));
            }

            return Task.FromResult(path == "/known" ? MetadataReply.Text(200, "hello") : MetadataReply.NotFound);
        }, NullLogger.Instance);

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", await SendAsync(port, "GET /known?x=1 HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n"), StringComparison.Ordinal);
        Assert.Equal((IPAddress.Loopback, "/known"), Assert.Single(asked)); // the socket's peer, not the header
        var head = await SendAsync(port, "HEAD /known HTTP/1.0\r\n\r\n");
        Assert.Contains("Content-Length: 5", head, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", head, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 404 ", await SendAsync(port, "GET /other HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 405 ", await SendAsync(port, "POST /known HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400 ", await SendAsync(port, "nonsense\r\n\r\n"), StringComparison.Ordinal);
        // A head that fills the buffer without ending is refused (exactly that long, so nothing unread resets the reply).
        Assert.StartsWith("HTTP/1.1 400 ", await SendAsync(port, "GET /" + new string('a', MetadataListener.MaxRequestBytes - 5)), StringComparison.Ordinal);

        // The rate limit: a burst of 100 passes, then 429 until tokens come back (20 a second: 200 requests outrun them).
        var statuses = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            statuses.Add((await SendAsync(port, "GET /known HTTP/1.1\r\n\r\n"))[9..12]);
        }

        Assert.Contains("429", statuses);
    }

    [Fact]
    public async Task Listener_takes_a_small_post_body_by_its_content_length()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(16);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var posted = new List<(string Path, string Body)>();
        await using var listener = new MetadataListener("net:[1]", socket, (_, _, _) => Task.FromResult(MetadataReply.NotFound), NullLogger.Instance,
            (_, path, body, _) =>
            {
                lock (posted)
                {
                    posted.Add((path, Encoding.UTF8.GetString(body)));
                }

                return Task.FromResult(MetadataReply.Text(200, ""));
            });

        Assert.StartsWith("HTTP/1.1 200 ", await SendAsync(port, "POST /openstack/latest/password HTTP/1.1\r\ncontent-length: 6\r\n\r\nsecret"),
            StringComparison.Ordinal);
        Assert.Equal(("/openstack/latest/password", "secret"), Assert.Single(posted));
        // Too big is refused from its Content-Length, before a byte of it is read (none is sent: unread bytes would reset the reply).
        Assert.StartsWith("HTTP/1.1 400 ", await SendAsync(port, $"POST /p HTTP/1.1\r\nContent-Length: {MetadataListener.MaxPostBytes + 1}\r\n\r\n"),
            StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400 ", await SendAsync(port, "POST /p HTTP/1.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.Single(posted);
    }

    private static async Task<string> SendAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync();
    }
}
