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
        var generated = (await NovaAsync("keypair-add", "nova-generated")).EnsureSuccess().StdOut;
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
}
