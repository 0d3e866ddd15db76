using System.Net.Sockets;

namespace Ember.Nbd.Tests;

/// <summary>The TCP listener under a flood of idle sockets: caps per source and in total, no thread per idle socket.</summary>
public class ConnectionLimitTests(TlsCredentialsFixture tls) : IClassFixture<TlsCredentialsFixture>
{
    private static int ThreadCount() => Directory.GetDirectories("/proc/self/task").Length;

    /// <summary>Polls until <paramref name="condition"/> holds; a hang ends the test with a cancellation, not a time assertion.</summary>
    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }

    private static async Task<Socket> ConnectAsync(TestServer server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.Server.BoundTcpEndPoint!);
        return socket;
    }

    /// <summary>Bytes until the server's greeting (18) or EOF, with a timeout.</summary>
    private static async Task<int> ReadGreetingAsync(Socket socket)
    {
        var buffer = new byte[18];
        var total = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (total < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cts.Token);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_thousand_idle_tcp_connections_do_not_make_a_thousand_threads(bool withTls)
    {
        await using var server = await TestServer.StartAsync(configure: o =>
        {
            o.MaxTcpConnections = 2000;
            o.MaxTcpConnectionsPerSource = 2000;
            if (withTls)
                o.TcpTls = tls.Credentials;
        });
        var before = ThreadCount();
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 1000; i++)
                sockets.Add(await ConnectAsync(server));
            await WaitForAsync(() => server.Server.ConnectionCount == 1000);
            var during = ThreadCount();
            // One thread per connection (the DedicatedThread model's handshake) would add 1,000.
            Assert.True(during - before < 100, $"threads: {before} before, {during} with 1,000 idle connections");
            // They are real connections: each got its greeting.
            Assert.Equal(18, await ReadGreetingAsync(sockets[999]));
        }
        finally
        {
            foreach (var socket in sockets)
                socket.Dispose();
        }
        await WaitForAsync(() => server.Server.TcpConnectionCount == 0);
    }

    [Theory]
    [InlineData("source")]
    [InlineData("total")]
    public async Task Connections_over_the_cap_are_closed_before_the_greeting(string cap)
    {
        await using var server = await TestServer.StartAsync(configure: o =>
        {
            if (cap == "source")
                o.MaxTcpConnectionsPerSource = 4;
            else
                o.MaxTcpConnections = 4;
        });
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                sockets.Add(await ConnectAsync(server));
                Assert.Equal(18, await ReadGreetingAsync(sockets[^1]));
            }
            using (var excess = await ConnectAsync(server))
                Assert.Equal(0, await ReadGreetingAsync(excess)); // EOF, no greeting
            Assert.Equal(4, server.Server.TcpConnectionCount);
            // The unix socket is not counted: the local hypervisor is never locked out by a TCP flood.
            await using (var local = await server.ConnectAsync("unix"))
                Assert.NotEqual(default, local.GreetingFlags);
            // A slot freed is a slot reusable.
            sockets[0].Dispose();
            sockets.RemoveAt(0);
            await WaitForAsync(() => server.Server.TcpConnectionCount == 3);
            sockets.Add(await ConnectAsync(server));
            Assert.Equal(18, await ReadGreetingAsync(sockets[^1]));
        }
        finally
        {
            foreach (var socket in sockets)
                socket.Dispose();
        }
    }

    [Fact]
    public async Task A_client_that_never_finishes_the_handshake_is_dropped()
    {
        await using var server = await TestServer.StartAsync(configure: o =>
        {
            o.HandshakeTimeout = TimeSpan.FromMilliseconds(300);
            o.TcpTls = tls.Credentials;
        });
        using var socket = await ConnectAsync(server);
        Assert.Equal(18, await ReadGreetingAsync(socket));
        await WaitForAsync(() => server.Server.TcpConnectionCount == 0);
        var buffer = new byte[16];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token));
    }
}
