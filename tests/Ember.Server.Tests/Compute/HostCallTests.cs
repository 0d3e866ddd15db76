using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Compute;
using Ember.Server.Data;
using Ember.Server.Tests.Fuzz;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// The call protocol between a controller (<see cref="RemoteComputeHost"/>) and a compute host's listener
/// (<see cref="HostCallServer"/>) on a real socket with mutual TLS, the host side being a test double: what arrives,
/// what comes back, errors carried with their kind and message, and who is refused. The registry is the fixture's.
/// </summary>
public sealed class HostCallTests(FuzzFixture fixture) : IClassFixture<FuzzFixture>, IAsyncLifetime
{
    private readonly string _certificates = Path.Combine(fixture.DataDir, "test-certificates", Guid.NewGuid().ToString("N")[..8]);
    private readonly FakeHost _host = new();
    private ServiceCertificate _hostCertificate = null!;
    private ServiceCertificate _controllerCertificate = null!;
    private HostCallServer _listener = null!;

    private ComputeServiceStore Registry => fixture.Host.Services.GetRequiredService<ComputeServiceStore>();

    private string CallUrl => "https://" + _listener.EndPoint;

    public async Task InitializeAsync()
    {
        _hostCertificate = NewCertificate("host");
        _controllerCertificate = NewCertificate("controller");
        await RegisterControllerAsync(_controllerCertificate);
        _listener = await HostCallServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), _host, new BootPasswords(TimeProvider.System), _hostCertificate,
            new RegisteredCallers(Registry, TimeProvider.System), NullLoggerFactory.Instance, default);
    }

    public async Task DisposeAsync()
    {
        await _listener.DisposeAsync();
        _hostCertificate.Dispose();
        _controllerCertificate.Dispose();
    }

    [Fact]
    public async Task Console_output_exec_and_set_password_reach_the_host_and_their_replies_come_back()
    {
        using var calls = Client(_controllerCertificate);
        var remote = Remote(calls);
        var server = Guid.NewGuid().ToString();

        _host.ConsoleText = "login: \u00e9t\u00e9\n";
        Assert.Equal("login: \u00e9t\u00e9\n", (await remote.GetConsoleOutputAsync(new ConsoleOutputRequest("req-1", server, 5), default)).Output);
        var exec = await remote.ExecAsync(new ExecRequest("req-2", server, ["sh", "-c", "cat"], "in", 7), default);
        Assert.Equal(new ExecReply(3, "sh -c cat <in", "err", false), exec);
        await remote.SetPasswordAsync(new SetPasswordRequest("req-3", server, "N3w-pass"), default);

        object[] sent = [new ConsoleOutputRequest("req-1", server, 5), new ExecRequest("req-2", server, ["sh", "-c", "cat"], "in", 7), new SetPasswordRequest("req-3", server, "N3w-pass")];
        Assert.Equal(sent.Select(Comparable), _host.Received.Select(Comparable));
    }

    [Fact]
    public async Task Diagnostics_come_back_with_every_counter()
    {
        using var calls = Client(_controllerCertificate);
        var server = Guid.NewGuid().ToString();
        var reply = await Remote(calls).GetDiagnosticsAsync(new DiagnosticsRequest("req-d", server), default);
        Assert.Equal(("running", "qemu", 42L, 256L), (reply.State, reply.Hypervisor, reply.UptimeSeconds, reply.MemoryMaximumMiB));
        Assert.Equal(new CpuCounters(0, 1_000_000), Assert.Single(reply.Cpus));
        Assert.Equal(new DiskCounters("vda", 4096, 1, 512, 2, 0), Assert.Single(reply.Disks));
        Assert.Equal(new NicCounters("tap0", "fa:16:3e:00:00:01", 10, 1, 0, 0, 20, 2, 0, 0), Assert.Single(reply.Nics));
        Assert.Contains(_host.Received, m => m is DiagnosticsRequest { RequestId: "req-d" } d && d.ServerId == server);
    }

    [Fact]
    public async Task The_hosts_errors_come_back_with_their_kind_and_message()
    {
        using var calls = Client(_controllerCertificate);
        var remote = Remote(calls);
        var server = Guid.NewGuid().ToString();

        _host.Error = ApiException.NotFound($"Instance {server} could not be found.");
        var notFound = await Assert.ThrowsAsync<ApiException>(() => remote.GetConsoleOutputAsync(new ConsoleOutputRequest("r", server, null), default));
        Assert.Equal((ErrorKind.NotFound, $"Instance {server} could not be found."), (notFound.Kind, notFound.Message));

        _host.Error = ApiException.Conflict($"Cannot 'exec in' instance {server}: it is not running on host fake-host.");
        var conflict = await Assert.ThrowsAsync<ApiException>(() => remote.ExecAsync(new ExecRequest("r", server, ["true"], null, 5), default));
        Assert.Equal((ErrorKind.Conflict, $"Cannot 'exec in' instance {server}: it is not running on host fake-host."), (conflict.Kind, conflict.Message));

        // The websocket's refusal carries the same: the host opens the serial port before it accepts the upgrade.
        _host.Error = ApiException.Conflict($"Instance {server} is not running.");
        var serial = await Assert.ThrowsAsync<ApiException>(() => remote.OpenSerialConsoleAsync(new SerialConsoleRequest("r", server), default));
        Assert.Equal((ErrorKind.Conflict, $"Instance {server} is not running."), (serial.Kind, serial.Message));

        _host.Error = new ApiException(ErrorKind.NotImplemented, "Unable to set the admin password: no agent \u2013 none");
        var password = await Assert.ThrowsAsync<ApiException>(() => remote.SetPasswordAsync(new SetPasswordRequest("r", server, "pw"), default));
        Assert.Equal((ErrorKind.NotImplemented, "Unable to set the admin password: no agent \u2013 none"), (password.Kind, password.Message));
    }

    [Fact]
    public async Task The_serial_console_is_a_stream_both_ways_and_closing_it_closes_the_guest_side()
    {
        using var calls = Client(_controllerCertificate);
        var (hostEnd, guest) = await ConnectedPairAsync();
        await using var guestEnd = guest;
        _host.Serial = hostEnd;

        await using (var console = await Remote(calls).OpenSerialConsoleAsync(new SerialConsoleRequest("r", Guid.NewGuid().ToString()), default))
        {
            await guestEnd.WriteAsync(Encoding.ASCII.GetBytes("login: "));
            Assert.Equal("login: ", await ReadAsciiAsync(console, "login: ".Length));
            await console.WriteAsync(Encoding.ASCII.GetBytes("root\n"));
            await console.FlushAsync();
            Assert.Equal("root\n", await ReadAsciiAsync(guestEnd, "root\n".Length));
        }

        // The controller closed its websocket: the host ends the splice and closes the guest's side.
        Assert.Equal(0, await guestEnd.ReadAsync(new byte[16]));
    }

    [Fact]
    public async Task A_client_certificate_no_service_registered_is_refused_until_it_is_registered()
    {
        using var stranger = NewCertificate("stranger");
        using var calls = Client(stranger);
        var remote = Remote(calls);

        var refused = await Assert.ThrowsAsync<ApiException>(() => remote.GetConsoleOutputAsync(new ConsoleOutputRequest("r", "s", null), default));
        Assert.Equal(ErrorKind.Conflict, refused.Kind);
        Assert.Empty(_host.Received);

        // A controller that starts after the listener read the registry: its unknown fingerprint makes the host read again.
        await RegisterControllerAsync(stranger);
        _host.ConsoleText = "now known";
        Assert.Equal("now known", (await remote.GetConsoleOutputAsync(new ConsoleOutputRequest("r", "s", null), default)).Output);
    }

    [Fact]
    public async Task A_listener_whose_certificate_is_not_the_registered_one_is_refused_by_the_client()
    {
        using var other = NewCertificate("impostor");
        using var calls = Client(_controllerCertificate);
        var remote = new RemoteComputeHost("fake-host", Queue, calls, CallUrl, other.Sha256);

        var refused = await Assert.ThrowsAsync<ApiException>(() => remote.ExecAsync(new ExecRequest("r", "s", ["true"], null, 5), default));
        Assert.Equal(ErrorKind.Conflict, refused.Kind);
        Assert.Contains("TLS handshake", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ApiException>(() => remote.OpenSerialConsoleAsync(new SerialConsoleRequest("r", "s"), default));
        Assert.Empty(_host.Received);
    }

    [Fact]
    public async Task A_reply_larger_than_the_client_reads_is_refused()
    {
        using var calls = new HostCallClient(_controllerCertificate, NullLogger<HostCallClient>.Instance) { MaxReplyBytes = 64 << 10 };
        _host.ConsoleText = new string('x', 128 << 10);

        var refused = await Assert.ThrowsAsync<ApiException>(() => Remote(calls).GetConsoleOutputAsync(new ConsoleOutputRequest("r", "s", null), default));
        Assert.Equal(ErrorKind.Internal, refused.Kind);
        Assert.Contains("larger", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_without_a_call_listener_answers_calls_with_409()
    {
        using var calls = Client(_controllerCertificate);
        var remote = new RemoteComputeHost("old-host", Queue, calls, callUrl: null, certificateSha256: null);

        var refused = await Assert.ThrowsAsync<ApiException>(() => remote.ExecAsync(new ExecRequest("r", "s", ["true"], null, 5), default));
        Assert.Equal(ErrorKind.Conflict, refused.Kind);
        Assert.Contains("old-host", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_boot_password_goes_to_the_host_by_call_and_the_queued_spawn_has_none()
    {
        var passwords = new BootPasswords(TimeProvider.System);
        await using var listener = await HostCallServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), _host, passwords, _hostCertificate,
            new RegisteredCallers(Registry, TimeProvider.System), NullLoggerFactory.Instance, default);
        using var calls = Client(_controllerCertificate);
        var host = "boot-" + Guid.NewGuid().ToString("N")[..8];
        var server = Guid.NewGuid().ToString();

        await new RemoteComputeHost(host, Queue, calls, "https://" + listener.EndPoint, _hostCertificate.Sha256)
            .SpawnAsync(new SpawnServer("r", server, new FlavorSpec(64, 1, 1), new ImageSpec("i"), [], "Boot-S3cret"), default);

        Assert.Equal("Boot-S3cret", passwords.Take(server));
        await using var c = await fixture.Host.Services.GetRequiredService<Database>().OpenAsync();
        var body = await c.QuerySingleAsync<string>("SELECT body FROM compute_host_messages WHERE host = @host", new { host });
        Assert.DoesNotContain("Boot-S3cret", body, StringComparison.Ordinal);
        await Queue.ClaimAsync(host, 10, _ => Task.CompletedTask, default);
    }

    [Fact]
    public void The_certificate_is_private_and_the_same_after_a_restart()
    {
        var directory = Path.Combine(_certificates, "restart");
        string first;
        using (var certificate = new ServiceCertificate(directory, "restart-host"))
        {
            first = certificate.Sha256;
        }

        using var again = new ServiceCertificate(directory, "restart-host");
        Assert.Equal(first, again.Sha256);
        Assert.Equal(64, first.Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        foreach (var file in new[] { ServiceCertificate.CertificateFile, ServiceCertificate.KeyFile })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, file)));
        }
    }

    private HostMessageQueue Queue => fixture.Host.Services.GetRequiredService<HostMessageQueue>();

    private RemoteComputeHost Remote(HostCallClient calls) => new("fake-host", Queue, calls, CallUrl, _hostCertificate.Sha256);

    private static HostCallClient Client(ServiceCertificate certificate) => new(certificate, NullLogger<HostCallClient>.Instance);

    private ServiceCertificate NewCertificate(string name) => new(Path.Combine(_certificates, name), name);

    /// <summary>A controller as the registry knows it: a nova-conductor row carrying its certificate's fingerprint.</summary>
    private Task RegisterControllerAsync(ServiceCertificate certificate) =>
        Registry.ReportAsync("controller-" + certificate.Sha256[..8], "nova-conductor", "internal", null, DateTime.UtcNow, certificateSha256: certificate.Sha256);

    private static object Comparable(object message) => message switch
    {
        // Records with a list compare by reference: compare the command as text.
        ExecRequest exec => (exec.RequestId, exec.ServerId, string.Join(' ', exec.Command), exec.Stdin, exec.TimeoutSeconds),
        var other => other,
    };

    private static async Task<(Stream HostEnd, Stream GuestEnd)> ConnectedPairAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var accepted = await listener.AcceptTcpClientAsync();
        return (client.GetStream(), accepted.GetStream());
    }

    private static async Task<string> ReadAsciiAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.ASCII.GetString(buffer);
    }

    /// <summary>The host side as a test double: records the calls, answers from its fields, or throws <see cref="Error"/>.</summary>
    private sealed class FakeHost : IComputeHost
    {
        private readonly ConcurrentQueue<object> _received = new();

        public string Name => "fake-host";

        public string ConsoleText { get; set; } = "";

        public Stream? Serial { get; set; }

        public ApiException? Error { get; set; }

        public IReadOnlyList<object> Received => [.. _received];

        public Task SpawnAsync(SpawnServer message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task AttachVolumeAsync(AttachVolume message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task DetachVolumeAsync(DetachVolume message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task AttachInterfaceAsync(AttachInterface message, CancellationToken cancellationToken) => Answer(message, () => true);

        public Task DetachInterfaceAsync(DetachInterface message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task PowerAsync(PowerAction message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task SnapshotAsync(SnapshotServer message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task RebuildAsync(RebuildServer message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task ResizeAsync(ResizeServer message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task ShelveAsync(ShelveServer message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task RescueAsync(RescueServer message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task DeleteAsync(DeleteServer message, CancellationToken cancellationToken) => throw new NotSupportedException("casts are queued");

        public Task<ConsoleOutputReply> GetConsoleOutputAsync(ConsoleOutputRequest message, CancellationToken cancellationToken) =>
            Answer(message, () => new ConsoleOutputReply(ConsoleText));

        public Task<ExecReply> ExecAsync(ExecRequest message, CancellationToken cancellationToken) =>
            Answer(message, () => new ExecReply(3, string.Join(' ', message.Command) + " <" + message.Stdin, "err", false));

        public Task SetPasswordAsync(SetPasswordRequest message, CancellationToken cancellationToken) => Answer(message, () => true);

        public Task<DiagnosticsReply> GetDiagnosticsAsync(DiagnosticsRequest message, CancellationToken cancellationToken) =>
            Answer(message, () => new DiagnosticsReply("running", "qemu", 42, 256, 256, [new CpuCounters(0, 1_000_000)],
                [new DiskCounters("vda", 4096, 1, 512, 2, 0)], [new NicCounters("tap0", "fa:16:3e:00:00:01", 10, 1, 0, 0, 20, 2, 0, 0)]));

        public Task<Stream> OpenSerialConsoleAsync(SerialConsoleRequest message, CancellationToken cancellationToken) =>
            Answer(message, () => Serial ?? throw new InvalidOperationException("no serial stream set"));

        private Task<T> Answer<T>(object message, Func<T> reply)
        {
            _received.Enqueue(message);
            return Error is { } error ? Task.FromException<T>(error) : Task.FromResult(reply());
        }
    }
}
