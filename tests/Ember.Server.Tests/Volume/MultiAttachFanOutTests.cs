using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Ember.Server.Tests.Volume;

/// <summary>
/// Issue 17's fan-out: one multi-attach volume with 64 attachments, each served to its own real NBD client (qemu-io,
/// QEMU's block layer) at the same time, every client reading what all the others wrote.
/// </summary>
public sealed class MultiAttachFanOutTests(NbdTlsFixture fixture, ITestOutputHelper output) : IClassFixture<NbdTlsFixture>
{
    private const int Clients = 64;
    private const int Block = 4096;
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Sixty_four_attachments_of_one_volume_are_served_at_once_and_each_reads_what_the_others_wrote()
    {
        using var api = new ApiClient(await fixture.ClientAsync("demo"));
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["volume_type"] = "multiattach" } }, HttpStatusCode.Accepted);
        var volumeId = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{volumeId}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);

        var uris = new List<string>();
        for (var i = 0; i < Clients; i++)
        {
            var attachment = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments", new JsonObject
            {
                ["attachment"] = new JsonObject
                {
                    ["volume_uuid"] = volumeId,
                    ["instance_uuid"] = Guid.NewGuid().ToString(),
                    ["connector"] = new JsonObject { ["host"] = NbdTlsFixture.ThisHost, ["mountpoint"] = "/dev/vdb" },
                },
            }, apiVersion: "volume 3.54");
            var connection = attachment["attachment"]!["connection_info"]!;
            uris.Add($"nbd+unix:///{connection["export_name"]}?socket={connection["unix_socket"]}");
        }

        Assert.Equal(Clients, uris.Distinct().Count()); // an export (and a name) per attachment
        var server = fixture.Host.Services.GetRequiredService<VolumeDataPlane>().Server!;
        var connectionsBefore = server.ConnectionCount;
        var rssBefore = RssBytes();

        var clients = new List<QemuIo>();
        try
        {
            // Every client writes its own block and flushes while all 64 connections are open.
            for (var i = 0; i < Clients; i++)
            {
                clients.Add(QemuIo.Start(uris[i]));
            }

            await Task.WhenAll(clients.Select((client, i) => client.RunAsync($"write -P {Pattern(i)} {i * Block} {Block}", "wrote")));
            await Task.WhenAll(clients.Select(client => client.RunAsync("flush", expect: null)));
            Assert.True(server.ConnectionCount - connectionsBefore >= Clients, $"{server.ConnectionCount - connectionsBefore} connections open");
            output.WriteLine($"server RSS grew by {(RssBytes() - rssBefore) / 1024} KiB for {Clients} open connections");

            // Then every client reads every block, with qemu-io checking each byte against the writer's pattern.
            var reads = Enumerable.Range(0, Clients).Select(j => $"read -P {Pattern(j)} {j * Block} {Block}").ToArray();
            var results = await Task.WhenAll(clients.Select(client => client.FinishAsync(reads)));
            foreach (var (result, i) in results.Select((r, i) => (r, i)))
            {
                Assert.True(result.ExitCode == 0, $"client {i}: exit {result.ExitCode}\n{result.Output}");
                Assert.DoesNotContain("verification failed", result.Output, StringComparison.Ordinal);
                Assert.Equal(Clients, CountOf(result.Output, $"read {Block}/{Block} bytes"));
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    private static int Pattern(int client) => client + 1;

    private static int CountOf(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    /// <summary>This process's resident set (the fixture's server runs in it).</summary>
    private static long RssBytes() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;

    /// <summary>qemu-io holding one NBD connection, fed commands on its standard input.</summary>
    private sealed class QemuIo : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly Task<string> _stderr;

        private QemuIo(Process process)
        {
            _process = process;
            _stderr = process.StandardError.ReadToEndAsync();
        }

        public static QemuIo Start(string uri)
        {
            var start = new ProcessStartInfo("qemu-io", ["-f", "raw", uri])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            return new QemuIo(Process.Start(start)!);
        }

        /// <summary>Sends one command and, when <paramref name="expect"/> is given, reads output until a line holds it.</summary>
        public async Task RunAsync(string command, string? expect)
        {
            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
            using var timeout = new CancellationTokenSource(s_wait);
            while (expect is not null)
            {
                var line = await _process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException($"qemu-io ended: {_output}{await _stderr}");
                _output.AppendLine(line);
                if (line.Contains(expect, StringComparison.Ordinal))
                {
                    return;
                }
            }
        }

        /// <summary>Sends the last commands and quit, and waits for the exit.</summary>
        public async Task<(int ExitCode, string Output)> FinishAsync(IEnumerable<string> commands)
        {
            foreach (var command in commands)
            {
                await _process.StandardInput.WriteLineAsync(command);
            }

            await _process.StandardInput.WriteLineAsync("quit");
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(s_wait);
            _output.Append(await _process.StandardOutput.ReadToEndAsync(timeout.Token));
            await _process.WaitForExitAsync(timeout.Token);
            return (_process.ExitCode, _output.Append(await _stderr).ToString());
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            _process.Dispose();
        }
    }
}
