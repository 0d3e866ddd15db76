using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Debian's openstackclient and novaclient managing key pairs, and a server booted with one.</summary>
public sealed class KeypairClientTests(CloudFixture ember) : IClassFixture<CloudFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("ember-keys-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private Task<CliResult> OpenStackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", args);

    private Task<CliResult> NovaAsync(params string[] args) => Cli.RunAsync("nova", args, ember.OpenRc());

    [Fact]
    public async Task Openstack_keypair_create_import_list_show_delete()
    {
        // A generated key: the client prints the private key.
        var generated = (await OpenStackAsync("keypair", "create", "osc-generated")).EnsureSuccess().StdOut;
        Assert.Contains("-----BEGIN RSA PRIVATE KEY-----", generated, StringComparison.Ordinal);

        var path = Path.Combine(_work, "osc");
        (await Cli.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path])).EnsureSuccess();
        var imported = (await OpenStackAsync("keypair", "create", "--public-key", path + ".pub", "osc-imported", "-f", "json")).EnsureSuccess().Json();
        var fingerprint = (await Cli.RunAsync("ssh-keygen", ["-l", "-E", "md5", "-f", path + ".pub"])).EnsureSuccess().StdOut.Split(' ')[1]["MD5:".Length..];
        Assert.Equal(fingerprint, imported["fingerprint"]!.GetValue<string>());

        var listed = (await OpenStackAsync("keypair", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(listed, k => k!["Name"]!.GetValue<string>() == "osc-imported" && k["Fingerprint"]!.GetValue<string>() == fingerprint);
        Assert.Contains(listed, k => k!["Name"]!.GetValue<string>() == "osc-generated");

        var shown = (await OpenStackAsync("keypair", "show", "osc-imported", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(fingerprint, shown["fingerprint"]!.GetValue<string>());
        var publicKey = (await OpenStackAsync("keypair", "show", "--public-key", "osc-imported")).EnsureSuccess().StdOut.Trim();
        Assert.Equal((await File.ReadAllTextAsync(path + ".pub")).Trim(), publicKey);

        (await OpenStackAsync("keypair", "delete", "osc-imported", "osc-generated")).EnsureSuccess();
        var missing = await OpenStackAsync("keypair", "show", "osc-imported");
        Assert.NotEqual(0, missing.ExitCode);
    }

    [Fact]
    public async Task Nova_keypair_add_list_show_delete()
    {
        var path = Path.Combine(_work, "nova");
        (await Cli.RunAsync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", path])).EnsureSuccess();
        (await NovaAsync("keypair-add", "--pub-key", path + ".pub", "nova-imported")).EnsureSuccess();
        // novaclient 18.1 negotiates 2.92, where Nova generates no key pairs: as against Nova, it must ask for 2.91 to get one.
        var refused = await NovaAsync("keypair-add", "nova-generated");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("public_key", refused.StdErr, StringComparison.Ordinal);
        var generated = (await NovaAsync("--os-compute-api-version", "2.91", "keypair-add", "nova-generated")).EnsureSuccess().StdOut;
        Assert.Contains("-----BEGIN RSA PRIVATE KEY-----", generated, StringComparison.Ordinal);

        var list = (await NovaAsync("keypair-list")).EnsureSuccess().StdOut;
        Assert.Contains("nova-imported", list, StringComparison.Ordinal);
        Assert.Contains("| ssh ", list, StringComparison.Ordinal); // the Type column of 2.2+
        var show = (await NovaAsync("keypair-show", "nova-imported")).EnsureSuccess().StdOut;
        Assert.Contains((await File.ReadAllTextAsync(path + ".pub")).Split(' ')[1], show, StringComparison.Ordinal);

        (await NovaAsync("keypair-delete", "nova-imported")).EnsureSuccess();
        (await NovaAsync("keypair-delete", "nova-generated")).EnsureSuccess();
        Assert.DoesNotContain("nova-imported", (await NovaAsync("keypair-list")).EnsureSuccess().StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_create_keeps_its_key_name_and_refuses_an_unknown_one()
    {
        var unknown = await OpenStackAsync("--os-compute-api-version", "2.60", "server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
            "--key-name", "no-such-key", "keyless");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("HTTP 400", unknown.StdErr, StringComparison.Ordinal);
        Assert.Contains("Keypair no-such-key not found", unknown.StdErr, StringComparison.Ordinal);

        (await OpenStackAsync("keypair", "create", "boot-key")).EnsureSuccess();
        var server = (await OpenStackAsync("--os-compute-api-version", "2.60", "server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
            "--key-name", "boot-key", "keyed", "-f", "json")).EnsureSuccess().Json();
        var id = server["id"]!.GetValue<string>();
        Assert.Equal("boot-key", server["key_name"]!.GetValue<string>());
        var shown = (await OpenStackAsync("server", "show", id, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("boot-key", shown["key_name"]!.GetValue<string>());

        (await OpenStackAsync("server", "delete", "--wait", id)).EnsureSuccess();
        (await OpenStackAsync("keypair", "delete", "boot-key")).EnsureSuccess();
    }

    [Fact]
    public async Task Server_create_with_a_config_drive_shows_it_and_refuses_bad_values()
    {
        var http = await ember.ClientAsync();
        foreach (var (field, value, message) in new[]
        {
            ("config_drive", "maybe", "config_drive"),
            ("user_data", "not base64!", "user_data"),
            ("user_data", new string('A', 65536), "user_data"),
        })
        {
            var body = new JsonObject
            {
                ["server"] = new JsonObject { ["name"] = "bad", ["imageRef"] = "ember-tiny", ["flavorRef"] = "1", ["networks"] = "none", [field] = value },
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{ember.BaseUrl}/compute/v2.1/servers") { Content = JsonContent.Create(body) };
            request.Headers.Add("OpenStack-API-Version", "compute 2.60");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["badRequest"]!["message"]!.GetValue<string>();
            Assert.Contains(message, error, StringComparison.Ordinal);
        }

        // openstackclient sends config_drive: true; the host builds the drive (ISO 9660, config-2) before QEMU starts.
        var userData = Path.Combine(_work, "user-data");
        await File.WriteAllTextAsync(userData, "#!/bin/sh\necho hello\n");
        var server = (await OpenStackAsync("--os-compute-api-version", "2.60", "server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
            "--config-drive", "true", "--user-data", userData, "--wait", "with-drive", "-f", "json")).EnsureSuccess().Json();
        var id = server["id"]!.GetValue<string>();
        Assert.Equal("True", server["config_drive"]!.GetValue<string>());
        var drive = Path.Combine(ember.DataDir, "instances", id, "disk.config");
        Assert.True(File.Exists(drive), "no config drive in the instance directory");
        var label = (await Cli.RunAsync("isoinfo", ["-d", "-i", drive])).EnsureSuccess().StdOut;
        Assert.Contains("Volume id: config-2", label, StringComparison.Ordinal);
        var files = (await Cli.RunAsync("isoinfo", ["-R", "-f", "-i", drive])).EnsureSuccess().StdOut;
        Assert.Contains("/openstack/latest/meta_data.json", files, StringComparison.Ordinal);
        Assert.Contains("/openstack/latest/user_data", files, StringComparison.Ordinal);
        var metaData = (await Cli.RunAsync("isoinfo", ["-R", "-i", drive, "-x", "/openstack/latest/meta_data.json"])).EnsureSuccess().StdOut;
        Assert.Equal(id, JsonNode.Parse(metaData)!["uuid"]!.GetValue<string>());

        var plain = (await OpenStackAsync("--os-compute-api-version", "2.60", "server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
            "without-drive", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("", plain["config_drive"]!.GetValue<string>());

        // The drive goes with the server.
        (await OpenStackAsync("server", "delete", "--wait", id, plain["id"]!.GetValue<string>())).EnsureSuccess();
        Assert.False(File.Exists(drive), "the config drive outlived its server");
    }
}
