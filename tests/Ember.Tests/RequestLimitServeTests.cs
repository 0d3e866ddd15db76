using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ember.Tests.Support;
using Xunit.Abstractions;

namespace Ember.Tests;

/// <summary>A real `ember serve` process under unauthenticated 50 MB bodies: its peak memory must not follow them.</summary>
public sealed class RequestLimitServeTests(ITestOutputHelper output) : IDisposable
{
    private const long AllowedPeakGrowth = 150L * 1024 * 1024;
    private readonly string _dataDir = Directory.CreateTempSubdirectory("ember-limits-test").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Fifty_megabyte_posts_to_the_token_endpoint_leave_the_servers_peak_memory_flat()
    {
        await using var serve = await ServeProcess.StartAsync(_dataDir, "limits-test-admin", "limits-test-demo");
        using var http = new HttpClient { BaseAddress = new Uri(serve.BaseUrl) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/identity/v3")).StatusCode);

        var (rssBefore, peakBefore) = Memory(serve.Pid);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PostHugeAsync(serve.Port, 50_000_000)));
        var (rssAfter, peakAfter) = Memory(serve.Pid);
        output.WriteLine($"RSS {rssBefore / 1048576} MiB -> {rssAfter / 1048576} MiB, peak {peakBefore / 1048576} MiB -> {peakAfter / 1048576} MiB; answers: {string.Join(", ", statuses)}");

        Assert.All(statuses, s => Assert.StartsWith("HTTP/1.1 413", s, StringComparison.Ordinal));
        Assert.True(peakAfter - Math.Max(peakBefore, rssBefore) < AllowedPeakGrowth,
            $"peak RSS grew from {peakBefore} to {peakAfter} bytes under four 50 MB bodies");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/identity/v3")).StatusCode);
    }

    /// <summary>Sends the headers of a <paramref name="length"/>-byte JSON body, then the body, until the server answers or closes.</summary>
    private static async Task<string> PostHugeAsync(int port, int length)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        var head = $"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var chunk = Encoding.ASCII.GetBytes("{\"auth\":\"" + new string('a', 1024 * 1024 - 9));
        try
        {
            for (var sent = 0; sent < length; sent += chunk.Length)
            {
                await stream.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, length - sent)));
            }
        }
        catch (IOException)
        {
            // The server answered and closed before the body was all sent: that is the point.
        }

        var answer = new byte[4096];
        var read = 0;
        try
        {
            read = await stream.ReadAsync(answer);
        }
        catch (IOException)
        {
            // A reset after the answer was sent may lose it on some kernels; the status then reads as empty.
        }

        return Encoding.ASCII.GetString(answer, 0, read).Split("\r\n")[0];
    }

    /// <summary>VmRSS and VmHWM (peak RSS) of a process, in bytes.</summary>
    private static (long Rss, long Peak) Memory(int pid)
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadAllLines($"/proc/{pid}/status"))
        {
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts is ["VmRSS:", var kb, "kB"])
            {
                rss = long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
            else if (parts is ["VmHWM:", var peakKb, "kB"])
            {
                peak = long.Parse(peakKb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return (rss, peak);
    }
}
