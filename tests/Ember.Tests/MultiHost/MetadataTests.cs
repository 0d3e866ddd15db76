using System.Text.Json.Nodes;
using Ember.Tests.Support;
using static Ember.Tests.Support.MultiHostFixture;

namespace Ember.Tests.MultiHost;

/// <summary>
/// Keys and metadata end to end, as a user meets them: `openstack keypair create` saves the private key, a server booted
/// with `--key-name` and `--user-data` gets the key from the metadata service at 169.254.169.254 (served in its
/// network's DHCP namespace) and runs the user data, and `ssh -i key` logs in once a security group rule opens tcp/22;
/// a server with `--config-drive true` and no network at all gets its key from the drive.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class MetadataTests(NetworkMultiHostFixture cloud) : IClassFixture<NetworkMultiHostFixture>, IDisposable
{
    private const string Host = "host-1";
    private readonly string _work = Directory.CreateTempSubdirectory("ember-metadata-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task A_server_gets_its_key_and_user_data_from_the_metadata_service_and_ssh_logs_in()
    {
        var privateKey = Path.Combine(_work, "meta-key");
        (await cloud.OpenStackAsync("keypair", "create", "--private-key", privateKey, "meta-key", "-f", "json")).EnsureSuccess();
        File.SetUnixFileMode(privateKey, UnixFileMode.UserRead | UnixFileMode.UserWrite); // ssh refuses a key others can read
        var publicKey = (await cloud.OpenStackAsync("keypair", "show", "--public-key", "meta-key")).EnsureSuccess().StdOut.Trim();
        var userData = Path.Combine(_work, "user-data");
        await File.WriteAllTextAsync(userData, "#!/bin/sh\necho \"user data ran as $(id -u)\" > /root/user-data-ran\n");

        var network = Id((await cloud.OpenStackAsync("network", "create", "meta-net", "-f", "json")).EnsureSuccess().Json());
        (await cloud.OpenStackAsync("subnet", "create", "--network", "meta-net", "--subnet-range", "10.93.4.0/24", "meta-v4", "-f", "json")).EnsureSuccess();
        var server = Id((await cloud.OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--network", "meta-net",
            "--key-name", "meta-key", "--user-data", userData, "--availability-zone", $"nova:{Host}", "--wait", "meta-1", "-f", "json")).EnsureSuccess().Json());
        var address = Text(Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", "meta-1", "-f", "json")).EnsureSuccess().Json().AsArray())!
            ["Fixed IP Addresses"]!.AsArray()[0], "ip_address");

        // The guest's first-boot script fetched the key from the metadata service (not the drive: there is none).
        var firstBoot = await cloud.ExecAsync("meta-1",
            "for i in $(seq 110); do grep -q 'ember-firstboot: ' /var/log/firstboot.log 2>/dev/null && break; sleep 1; done; grep 'ember-firstboot: ' /var/log/firstboot.log");
        Assert.Contains("ember-firstboot: metadata, 1 key(s)", firstBoot, StringComparison.Ordinal);
        Assert.Equal(publicKey, await cloud.ExecAsync("meta-1", "cat /root/.ssh/authorized_keys"));

        // What the guest reads at 169.254.169.254 (through the route DHCP gave it): its own uuid and key, in Nova's shapes.
        var metaData = JsonNode.Parse(await cloud.ExecAsync("meta-1", "wget -qO- http://169.254.169.254/openstack/latest/meta_data.json"))!;
        Assert.Equal(server, Text(metaData, "uuid"));
        Assert.Equal(publicKey, metaData["public_keys"]!["meta-key"]!.GetValue<string>());
        Assert.Equal("meta-1", Text(metaData, "hostname"));
        Assert.Contains("169.254.169.254 via 10.93.4.2", await cloud.ExecAsync("meta-1", "ip route"), StringComparison.Ordinal);
        Assert.Equal(publicKey, await cloud.ExecAsync("meta-1", "wget -qO- http://169.254.169.254/latest/meta-data/public-keys/0/openssh-key"));
        Assert.Equal(address, await cloud.ExecAsync("meta-1", "wget -qO- http://169.254.169.254/2009-04-04/meta-data/local-ipv4"));
        var networkData = JsonNode.Parse(await cloud.ExecAsync("meta-1", "wget -qO- http://169.254.169.254/openstack/latest/network_data.json"))!;
        Assert.Equal(network, Text(networkData["networks"]![0], "network_id"));
        Assert.Contains("user data ran as 0", await cloud.ExecAsync("meta-1", "cat /root/user-data-ran"), StringComparison.Ordinal);

        // Asked from an address no server holds (the DHCP namespace itself), the service knows nobody.
        var dhcpNamespace = $"{cloud.NamespacePrefixOf(Host)}-qdhcp-{network}";
        var stranger = await cloud.InHostNamespaceAsync(Host, dhcpNamespace, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            "http://169.254.169.254/openstack/latest/meta_data.json");
        Assert.Equal("404", stranger.StdOut.Trim());

        // tcp/22 is closed from outside the default group (the DHCP namespace is not in it) until a rule opens it.
        var closed = await SshAsync(dhcpNamespace, privateKey, address, "true");
        Assert.NotEqual(0, closed.ExitCode);
        (await cloud.OpenStackAsync("security group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--ingress", "default", "-f", "json")).EnsureSuccess();
        CliResult? login = null;
        await WaitForAsync(async () => (login = await SshAsync(dhcpNamespace, privateKey, address, "id -u; cat /root/user-data-ran")).ExitCode == 0,
            "ssh -i key to log in once tcp/22 is open");
        Assert.StartsWith("0\n", login!.StdOut, StringComparison.Ordinal);

        // Another key does not get in: the guest took exactly the server's key.
        var otherKey = Path.Combine(_work, "other-key");
        (await Cli.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey])).EnsureSuccess();
        Assert.NotEqual(0, (await SshAsync(dhcpNamespace, otherKey, address, "true")).ExitCode);

        (await cloud.OpenStackAsync("server", "delete", "--wait", "meta-1")).EnsureSuccess();
        (await cloud.OpenStackAsync("network", "delete", "meta-net")).EnsureSuccess();
        (await cloud.OpenStackAsync("keypair", "delete", "meta-key")).EnsureSuccess();
    }

    [Fact]
    public async Task A_server_without_a_network_gets_its_key_from_the_config_drive()
    {
        var keyPath = Path.Combine(_work, "drive-key");
        (await Cli.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "drive@test", "-f", keyPath])).EnsureSuccess();
        (await cloud.OpenStackAsync("keypair", "create", "--public-key", keyPath + ".pub", "drive-key", "-f", "json")).EnsureSuccess();
        var userData = Path.Combine(_work, "drive-user-data");
        await File.WriteAllTextAsync(userData, "#!/bin/sh\ntouch /root/from-the-drive\n");
        var server = (await cloud.OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none", "--config-drive", "true",
            "--key-name", "drive-key", "--user-data", userData, "--availability-zone", "nova:host-2", "--wait", "drive-1", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("True", Text(server, "config_drive"));

        var firstBoot = await cloud.ExecAsync("drive-1",
            "for i in $(seq 110); do grep -q 'ember-firstboot: ' /var/log/firstboot.log 2>/dev/null && break; sleep 1; done; grep 'ember-firstboot: ' /var/log/firstboot.log");
        Assert.Contains("ember-firstboot: config-drive, 1 key(s)", firstBoot, StringComparison.Ordinal);
        Assert.Equal((await File.ReadAllTextAsync(keyPath + ".pub")).Trim(), await cloud.ExecAsync("drive-1", "cat /root/.ssh/authorized_keys"));
        Assert.Equal("/dev/sr0", await cloud.ExecAsync("drive-1", "findfs LABEL=config-2"));
        Assert.Equal("ok", await cloud.ExecAsync("drive-1", "[ -f /root/from-the-drive ] && echo ok"));
        // The virtio disk names are those of a server without a drive: only the root disk.
        Assert.Equal("vda", await cloud.ExecAsync("drive-1", "ls /sys/block | grep vd"));

        var id = Id(server);
        Assert.True(File.Exists(Path.Combine(cloud.InstanceDirOf("host-2", id), "disk.config")));
        (await cloud.OpenStackAsync("server", "delete", "--wait", "drive-1")).EnsureSuccess();
        Assert.False(Directory.Exists(cloud.InstanceDirOf("host-2", id)), "the instance directory (and its config drive) outlived the server");
        (await cloud.OpenStackAsync("keypair", "delete", "drive-key")).EnsureSuccess();
    }

    /// <summary>Debian's ssh client, non-interactive, from inside the compute host's namespace <paramref name="ns"/>.</summary>
    private Task<CliResult> SshAsync(string ns, string key, string address, string command) =>
        cloud.InHostNamespaceAsync(Host, ns, "ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", $"root@{address}", command);
}
