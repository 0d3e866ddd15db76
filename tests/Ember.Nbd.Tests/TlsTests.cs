using System.Security.Cryptography.X509Certificates;
using Ember.Nbd.Protocol;

namespace Ember.Nbd.Tests;

/// <summary>Ember's CA and a second, unrelated CA in temp directories, shared by the TLS tests.</summary>
public sealed class TlsCredentialsFixture : IDisposable
{
    public TlsCredentialsFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "ember-nbd-tls-" + Guid.NewGuid().ToString("N")[..12]);
        Credentials = NbdTlsCredentials.LoadOrCreate(Path.Combine(Directory, "ours"), ["localhost", "127.0.0.1"]);
        Stranger = NbdTlsCredentials.LoadOrCreate(Path.Combine(Directory, "theirs"), ["localhost", "127.0.0.1"]);
    }

    public string Directory { get; }

    public NbdTlsCredentials Credentials { get; }

    /// <summary>Same file names, same subject names, another CA: its client certificate must not get in.</summary>
    public NbdTlsCredentials Stranger { get; }

    public X509Certificate2 ClientCertificate(NbdTlsCredentials credentials) => X509Certificate2.CreateFromPemFile(
        Path.Combine(credentials.ClientDirectory, NbdTlsCredentials.ClientCertFile),
        Path.Combine(credentials.ClientDirectory, NbdTlsCredentials.ClientKeyFile));

    public Task<TestServer> StartServerAsync() => TestServer.StartAsync(configure: o => o.TcpTls = Credentials);

    public void Dispose()
    {
        Credentials.Dispose();
        Stranger.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>The TCP listener with TLS: FORCEDTLS negotiation, client certificates of Ember's CA only, QEMU and libnbd as clients.</summary>
public class TlsTests(TlsCredentialsFixture tls) : IClassFixture<TlsCredentialsFixture>
{
    private static string[] QemuTlsArgs(TestServer server, string credsDir, string exportName) =>
    [
        "--object", $"tls-creds-x509,id=tls0,endpoint=client,dir={credsDir}",
        "--image-opts",
        $"driver=nbd,server.type=inet,server.host=127.0.0.1,server.port={server.Server.BoundTcpEndPoint!.Port},export={exportName},tls-creds=tls0",
    ];

    [Fact]
    public void Credentials_are_private_files_in_qemu_layout()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(tls.Credentials.Directory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(tls.Credentials.ClientDirectory));
        foreach (var file in new[] { NbdTlsCredentials.CaKeyFile, NbdTlsCredentials.ServerKeyFile, NbdTlsCredentials.CaCertFile, NbdTlsCredentials.ServerCertFile })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(tls.Credentials.Directory, file)));
        foreach (var file in new[] { NbdTlsCredentials.CaCertFile, NbdTlsCredentials.ClientCertFile, NbdTlsCredentials.ClientKeyFile })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(tls.Credentials.ClientDirectory, file)));
        // The client directory is what a compute host gets: no CA key in it.
        Assert.False(File.Exists(Path.Combine(tls.Credentials.ClientDirectory, NbdTlsCredentials.CaKeyFile)));
        // Loading again keeps the same CA (clients already issued stay valid).
        using var again = NbdTlsCredentials.LoadOrCreate(tls.Credentials.Directory, ["localhost", "127.0.0.1"]);
        Assert.Equal(tls.Credentials.CertificateAuthority.Thumbprint, again.CertificateAuthority.Thumbprint);
        Assert.Equal(tls.Credentials.ServerCertificate.Thumbprint, again.ServerCertificate.Thumbprint);
    }

    [Fact]
    public async Task Qemu_with_the_client_certificate_reads_and_writes()
    {
        await using var server = await tls.StartServerAsync();
        var output = await Cli.RunOkAsync("qemu-io", [.. QemuTlsArgs(server, tls.Credentials.ClientDirectory, server.ExportName),
            "-c", "write -P 0xcd 64k 64k", "-c", "read -P 0xcd 64k 64k", "-c", "flush"]);
        Assert.DoesNotContain("failed", output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0xcd, (await File.ReadAllBytesAsync(server.FilePath))[65536]);
        var info = await Cli.RunOkAsync("qemu-img", ["info", .. QemuTlsArgs(server, tls.Credentials.ClientDirectory, server.ExportName)]);
        Assert.Contains("virtual size: 16 MiB", info, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Qemu_without_tls_is_refused()
    {
        await using var server = await tls.StartServerAsync();
        var result = await Cli.RunAsync("qemu-io", ["-f", "raw", server.Uri("tcp"), "-c", "write -P 0xee 0 4k"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("TLS", result.StdErr, StringComparison.Ordinal);
        Assert.Equal(0, (await File.ReadAllBytesAsync(server.FilePath))[0]);
    }

    [Fact]
    public async Task Qemu_with_a_client_certificate_of_another_ca_is_refused()
    {
        await using var server = await tls.StartServerAsync();
        // The stranger's client directory holds its own ca-cert.pem: QEMU cannot even trust our server, so give it ours
        // next to the stranger's client pair, to prove the server (not the client) does the refusing.
        var dir = Path.Combine(server.Directory, "stranger");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(tls.Credentials.ClientDirectory, NbdTlsCredentials.CaCertFile), Path.Combine(dir, NbdTlsCredentials.CaCertFile));
        File.Copy(Path.Combine(tls.Stranger.ClientDirectory, NbdTlsCredentials.ClientCertFile), Path.Combine(dir, NbdTlsCredentials.ClientCertFile));
        File.Copy(Path.Combine(tls.Stranger.ClientDirectory, NbdTlsCredentials.ClientKeyFile), Path.Combine(dir, NbdTlsCredentials.ClientKeyFile));
        var result = await Cli.RunAsync("qemu-io", [.. QemuTlsArgs(server, dir, server.ExportName), "-c", "write -P 0xee 0 4k"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(0, (await File.ReadAllBytesAsync(server.FilePath))[0]);
    }

    [Fact]
    public async Task Nbdinfo_with_the_client_certificate_sees_the_export()
    {
        await using var server = await tls.StartServerAsync();
        var uri = $"nbds://127.0.0.1:{server.Server.BoundTcpEndPoint!.Port}/{server.ExportName}?tls-certificates={tls.Credentials.ClientDirectory}";
        var json = await Cli.RunOkAsync("nbdinfo", "--json", uri);
        Assert.Contains("\"export-size\": 16777216", json, StringComparison.Ordinal);
        var plain = await Cli.RunAsync("nbdinfo", ["--json", server.Uri("tcp")]);
        Assert.NotEqual(0, plain.ExitCode);
    }

    [Fact]
    public async Task Before_starttls_every_option_gets_tls_reqd_and_export_name_closes()
    {
        await using var server = await tls.StartServerAsync();
        await using var client = await server.ConnectAsync("tcp");
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        foreach (var option in new[] { NbdOption.StructuredReply, NbdOption.List, NbdOption.Info, NbdOption.Go })
        {
            var payload = option is NbdOption.Info or NbdOption.Go ? NbdTestClient.InfoPayload(server.ExportName) : [];
            await client.SendOptionAsync(option, payload);
            var reply = await client.ReadOptionReplyAsync();
            Assert.Equal(option, reply.Option);
            Assert.Equal(NbdOptionReplyType.ErrTlsReqd, reply.Type);
        }
        // EXPORT_NAME has no error reply: the server must close rather than serve in the clear.
        await client.SendOptionAsync(NbdOption.ExportName, System.Text.Encoding.UTF8.GetBytes(server.ExportName));
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task After_starttls_negotiation_restarts_and_transmission_runs_over_tls()
    {
        await using var server = await tls.StartServerAsync();
        await using var client = await server.ConnectAsync("tcp");
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        using var cert = tls.ClientCertificate(tls.Credentials);
        await client.StartTlsAsync(tls.Credentials.CertificateAuthority, cert);
        await client.SendOptionAsync(NbdOption.StartTls, []);
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await client.ReadOptionReplyAsync()).Type); // already TLS
        await client.SendOptionAsync(NbdOption.StructuredReply, []);
        Assert.Equal(NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
        Assert.Equal(NbdOptionReplyType.Ack, (await client.GoAsync(server.ExportName))[^1].Type);
        Assert.True(client.Structured);
        var data = new byte[256 * 1024]; // above the direct-I/O threshold, both ways
        Random.Shared.NextBytes(data);
        await client.WriteAsync(1 << 20, data);
        Assert.Equal(data, await client.ReadAsync(1 << 20, (uint)data.Length));
        Assert.Equal(data, (await File.ReadAllBytesAsync(server.FilePath)).AsSpan(1 << 20, data.Length).ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Pipelined_reads_of_mixed_sizes_each_come_back_whole_over_tls(bool structured)
    {
        await using var server = await tls.StartServerAsync();
        await using var client = await server.ConnectAsync("tcp");
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        using var cert = tls.ClientCertificate(tls.Credentials);
        await client.StartTlsAsync(tls.Credentials.CertificateAuthority, cert);
        if (structured)
        {
            await client.SendOptionAsync(NbdOption.StructuredReply, []);
            Assert.Equal(NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
        }
        Assert.Equal(NbdOptionReplyType.Ack, (await client.GoAsync(server.ExportName))[^1].Type);
        Assert.Equal(structured, client.Structured);
        await TransmissionTests.PipelinedReadsOfMixedSizesAsync(client);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tls_without_a_certificate_of_our_ca_gets_no_export(bool stranger)
    {
        await using var server = await tls.StartServerAsync();
        await using var client = await server.ConnectAsync("tcp");
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        using var cert = stranger ? tls.ClientCertificate(tls.Stranger) : null;
        // TLS 1.3 finishes the client's side before the server has checked the certificate: the refusal may come
        // as a handshake failure or as the connection closing on the first option.
        try
        {
            await client.StartTlsAsync(tls.Credentials.CertificateAuthority, cert);
            await client.SendOptionAsync(NbdOption.Go, NbdTestClient.InfoPayload(server.ExportName));
            await client.ReadOptionReplyAsync();
            Assert.Fail("the server answered an option without a valid client certificate");
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or EndOfStreamException)
        {
        }
    }

    [Fact]
    public async Task Unix_socket_stays_plain_and_refuses_starttls()
    {
        await using var server = await tls.StartServerAsync();
        await using var client = await server.ConnectAsync("unix");
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        await client.SendOptionAsync(NbdOption.StartTls, []);
        Assert.Equal(NbdOptionReplyType.ErrUnsup, (await client.ReadOptionReplyAsync()).Type);
        Assert.Equal(NbdOptionReplyType.Ack, (await client.GoAsync(server.ExportName))[^1].Type);
    }
}
