using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>A host with <c>--nbd-listen</c> (TLS by default): the CA in the data dir, the TCP port refusing plain clients.</summary>
public sealed class NbdTlsFixture : EmberFixture
{
    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.NbdListen = "127.0.0.1:0";
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

    private async Task<(ApiClient Api, string AttachmentId, JsonNode Connection)> AttachAsync()
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
                ["connector"] = new JsonObject { ["host"] = "elsewhere", ["mountpoint"] = "/dev/vdb" },
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
