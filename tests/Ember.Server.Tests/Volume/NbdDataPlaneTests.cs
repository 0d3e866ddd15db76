using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Volume;

/// <summary>A host with <c>--nbd-listen</c> (TLS by default): the CA in the data dir, the TCP port refusing plain clients.</summary>
public sealed class NbdTlsFixture : EmberFixture
{
    /// <summary>The volume service's host name: a connector naming it is local.</summary>
    public const string ThisHost = "volume-host-1";

    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Nbd.Listen = "127.0.0.1:0";
        options.HostName = ThisHost;
        return Task.CompletedTask;
    }
}

/// <summary>The NBD data plane seen from the API and the network: TLS on TCP, export names only for those who may attach.</summary>
public sealed class NbdDataPlaneTests(NbdTlsFixture fixture) : IClassFixture<NbdTlsFixture>
{
    private const string V354 = "volume 3.54";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private const UnixFileMode Dir0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private async Task<(ApiClient Api, string AttachmentId, JsonNode Connection)> AttachAsync(string connectorHost = "elsewhere")
    {
        var api = new ApiClient(await fixture.ClientAsync("demo"));
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        var a = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments", new JsonObject
        {
            ["attachment"] = new JsonObject
            {
                ["volume_uuid"] = id,
                ["instance_uuid"] = Guid.NewGuid().ToString(),
                ["connector"] = new JsonObject { ["host"] = connectorHost, ["mountpoint"] = "/dev/vdb" },
            },
        }, apiVersion: V354);
        return (api, a["attachment"]!["id"]!.GetValue<string>(), a["attachment"]!["connection_info"]!);
    }

    [Fact]
    public async Task Tcp_listener_serves_qemu_with_the_generated_client_certificate_and_refuses_plain_nbd()
    {
        var tlsDir = Path.Combine(fixture.DataDir, "nbd-tls");
        var clientDir = Path.Combine(tlsDir, "client");
        Assert.Equal(Dir0700, File.GetUnixFileMode(tlsDir));
        Assert.Equal(Dir0700, File.GetUnixFileMode(clientDir));
        Assert.Equal(File0600, File.GetUnixFileMode(Path.Combine(tlsDir, "ca-key.pem")));
        Assert.Equal(File0600, File.GetUnixFileMode(Path.Combine(tlsDir, "server-key.pem")));
        Assert.Equal(File0600, File.GetUnixFileMode(Path.Combine(clientDir, "client-key.pem")));

        var (api, _, connection) = await AttachAsync();
        using var _ = api;
        Assert.True(connection["tls"]!.GetValue<bool>());
        var host = connection["host"]!.GetValue<string>();
        var port = connection["port"]!.GetValue<int>();
        var export = connection["export_name"]!.GetValue<string>();

        var info = await Cli.RunAsync("qemu-img", ["info", "--object", $"tls-creds-x509,id=tls0,endpoint=client,dir={clientDir}", "--image-opts",
            $"driver=nbd,server.type=inet,server.host={host},server.port={port},export={export},tls-creds=tls0"]);
        Assert.Contains("virtual size: 1 GiB", info.EnsureSuccess().StdOut, StringComparison.Ordinal);

        var plain = await Cli.RunAsync("qemu-img", ["info", "-f", "raw", $"nbd://{host}:{port}/{export}"]);
        Assert.NotEqual(0, plain.ExitCode);
        Assert.Contains("TLS", plain.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connector_on_this_host_gets_the_unix_socket_and_one_on_another_host_gets_tls_over_tcp()
    {
        var (api, attachmentId, local) = await AttachAsync(NbdTlsFixture.ThisHost);
        using var _ = api;
        Assert.Equal("nbd", local["driver_volume_type"]!.GetValue<string>());
        Assert.Null(local["host"]);
        Assert.Null(local["port"]);
        var uri = $"nbd+unix:///{local["export_name"]}?socket={local["unix_socket"]}";
        Assert.Equal((1L << 30).ToString(), (await Cli.RunAsync("nbdinfo", ["--size", uri])).EnsureSuccess().StdOut.Trim());

        // The legacy action picks the transport from its connector the same way, in the nested shape.
        var volumeId = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/{attachmentId}", apiVersion: V354))["attachment"]!["volume_id"]!.GetValue<string>();
        foreach (var (host, tcp) in new[] { ("elsewhere", true), (NbdTlsFixture.ThisHost, false) })
        {
            var reply = await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volumeId}/action",
                new JsonObject { ["os-initialize_connection"] = new JsonObject { ["connector"] = new JsonObject { ["host"] = host } } });
            var info = reply["connection_info"]!;
            Assert.Equal("nbd", info["driver_volume_type"]!.GetValue<string>());
            var data = info["data"]!.AsObject();
            Assert.Equal(tcp, data.ContainsKey("port"));
            Assert.Equal(tcp, data.ContainsKey("tls"));
            Assert.Equal(!tcp, data.ContainsKey("unix_socket"));
        }
    }

    [Fact]
    public async Task Compute_gets_a_multiattach_volume_as_multiattach_over_its_own_hosts_socket()
    {
        using var api = new ApiClient(await fixture.ClientAsync("demo"));
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["volume_type"] = "multiattach" } }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        using var admin = new ApiClient(await fixture.ClientAsync("admin"));
        var project = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=demo"))["projects"]![0]!["id"]!.GetValue<string>();

        var volumes = fixture.Host.Services.GetRequiredService<IVolumeService>();
        var compute = new RequestContext("compute-test", "ember-compute", "default", project, null, ["admin"], DateTime.MaxValue);
        var reserved = await volumes.ReserveAsync(compute, id, Guid.NewGuid().ToString());
        Assert.Null(reserved.Connection);
        var connected = await volumes.UpdateAsync(compute, reserved.Id, new Connector(Host: NbdTlsFixture.ThisHost, Mountpoint: "/dev/vdb"), "/dev/vdb");
        var unix = Assert.IsType<NbdUnixConnection>(connected.Connection);
        Assert.True(unix.Multiattach); // QEMU makes the disk shareable (share-rw, no write cache) from this flag
        await volumes.DeleteAttachmentAsync(compute, reserved.Id);
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task A_reader_sees_the_attachment_but_not_its_export_name()
    {
        var (member, attachmentId, connection) = await AttachAsync();
        using var _ = member;
        Assert.NotNull(connection["export_name"]);
        Assert.NotNull((await member.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/{attachmentId}", apiVersion: V354))["attachment"]!["connection_info"]!["export_name"]);

        using var reader = await ReaderOfDemoAsync();
        var shown = await reader.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/{attachmentId}", apiVersion: V354);
        var info = shown["attachment"]!["connection_info"]!.AsObject();
        Assert.Equal("nbd", info["driver_volume_type"]!.GetValue<string>());
        Assert.False(info.ContainsKey("export_name"));
        var export = connection["export_name"]!.GetValue<string>();
        Assert.DoesNotContain(export, shown.ToJsonString(), StringComparison.Ordinal);
        var list = await reader.SendAsync(HttpMethod.Get, "/volume/v3/attachments/detail", apiVersion: V354);
        Assert.Contains(list["attachments"]!.AsArray(), a => a!["id"]!.GetValue<string>() == attachmentId);
        Assert.DoesNotContain(export, list.ToJsonString(), StringComparison.Ordinal);
    }

    /// <summary>A new user with only the reader role on project demo.</summary>
    private async Task<ApiClient> ReaderOfDemoAsync()
    {
        using var admin = new ApiClient(await fixture.ClientAsync("admin"));
        var name = "reader-" + Guid.NewGuid().ToString("N")[..8];
        const string password = "reader-secret";
        var user = await admin.SendAsync(HttpMethod.Post, "/identity/v3/users", new JsonObject
        {
            ["user"] = new JsonObject { ["name"] = name, ["password"] = password, ["domain_id"] = "default" },
        }, HttpStatusCode.Created);
        var userId = user["user"]!["id"]!.GetValue<string>();
        var project = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=demo"))["projects"]![0]!["id"]!.GetValue<string>();
        var role = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=reader"))["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{project}/users/{userId}/roles/{role}", expect: HttpStatusCode.NoContent);

        var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        using var response = await http.PostAsync("/identity/v3/auth/tokens", EmberFixture.PasswordAuth(name, password, "demo"));
        response.EnsureSuccessStatusCode();
        http.DefaultRequestHeaders.Add("X-Auth-Token", response.Headers.GetValues("X-Subject-Token").Single());
        return new ApiClient(http);
    }
}
