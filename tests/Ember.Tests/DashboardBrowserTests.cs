using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Tests.Support;
using Microsoft.Playwright;

namespace Ember.Tests;

/// <summary>
/// The dashboard in a real browser: Debian's chromium driven by Playwright (its bundled driver; no browser is ever
/// downloaded). Log in, create a multiattach volume, boot two servers with it, see two edges, run a command on the serial
/// console, watch the attachments' I/O, detach one and see its edge go; /metrics shows the attachments' byte counters.
/// Screenshots go to $EMBER_DASHBOARD_SCREENSHOTS (docs/images for the docs) or to the fixture's temp directory.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed partial class DashboardBrowserTests(DashboardBrowserTests.Cloud cloud) : IClassFixture<DashboardBrowserTests.Cloud>
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly TimeSpan s_boot = TimeSpan.FromMinutes(6);

    [Fact]
    public async Task Multiattach_volume_two_servers_topology_console_io_and_detach()
    {
        // Never let Playwright fetch a browser: it drives the system chromium.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        Assert.True(File.Exists(Chromium), "chromium is in tools/debian-packages.txt: install it with tools/install-deps.sh");
        // A relative directory (docs/images) is the repository's, not the test host's working directory (its bin folder).
        var shots = Environment.GetEnvironmentVariable("EMBER_DASHBOARD_SCREENSHOTS") is { Length: > 0 } dir
            ? Path.Combine(RepositoryRoot(), dir)
            : Path.Combine(cloud.Root, "screenshots");
        Directory.CreateDirectory(shots);
        var profile = Path.Combine(cloud.Root, "chromium-profile");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile, new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
            ViewportSize = new() { Width = 1280, Height = 800 },
        });
        browser.SetDefaultTimeout(60_000);
        var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
        var shot = (string name) => page.ScreenshotAsync(new() { Path = Path.Combine(shots, $"dashboard-{name}.png"), FullPage = true });
        var baseUrl = cloud.Host.BaseUrl;

        // Log in: / sends a browser to the dashboard, which sends it to the login page.
        await page.GotoAsync(baseUrl + "/");
        Assert.EndsWith("/dashboard/login", page.Url, StringComparison.Ordinal);
        await page.FillAsync("input[name=user]", "admin");
        await page.FillAsync("input[name=password]", "admin-secret");
        await page.FillAsync("input[name=project]", "admin");
        await shot("login");
        await page.ClickAsync("#login");
        await page.WaitForURLAsync("**/dashboard/servers");

        // An image uploaded from the page (the bar follows the XHR's progress) ends up active in the list.
        await page.GotoAsync(baseUrl + "/dashboard/images");
        await page.FillAsync("#upload-image input[name=name]", "uploaded-by-browser");
        await page.SelectOptionAsync("#upload-image select[name=disk_format]", "raw");
        await page.SetInputFilesAsync("#upload-image input[name=file]",
            new FilePayload { Name = "disk.raw", MimeType = "application/octet-stream", Buffer = new byte[4 * 1024 * 1024] });
        await page.ClickAsync("#upload-image button");
        await page.Locator("#images tr", new() { HasText = "uploaded-by-browser" }).Locator("td", new() { HasText = "active" }).WaitForAsync();
        await shot("images");

        // A multiattach volume is one choice of type.
        await page.GotoAsync(baseUrl + "/dashboard/volumes");
        await page.FillAsync("#create-volume input[name=name]", "shared-disk");
        await page.SelectOptionAsync("#create-volume select[name=type]", "multiattach");
        await page.ClickAsync("#create-volume button");
        await page.WaitForURLAsync(new Regex("/dashboard/volumes/[0-9a-f-]{36}$"));
        var volume = page.Url[(page.Url.LastIndexOf('/') + 1)..];
        await WaitForTextAsync(page, "#volume-status", "available", TimeSpan.FromMinutes(1));
        Assert.Equal("yes", await page.TextContentAsync("#volume-multi-attach"));

        // Two servers with the volume at boot.
        var servers = new List<string>();
        foreach (var name in new[] { "vm-a", "vm-b" })
        {
            await page.GotoAsync(baseUrl + "/dashboard/servers/new");
            await page.FillAsync("input[name=name]", name);
            await page.SelectOptionAsync("select[name=flavor]", new SelectOptionValue { Label = "dash.tiny (1 vCPU, 256 MiB, 1 GiB)" });
            await page.SelectOptionAsync("select[name=image]", new SelectOptionValue { Label = "ember-tiny" });
            await page.CheckAsync($"input[name=volume][value='{volume}']");
            await page.ClickAsync("#create-server");
            await page.WaitForURLAsync(new Regex("/dashboard/servers/[0-9a-f-]{36}$"));
            servers.Add(page.Url[(page.Url.LastIndexOf('/') + 1)..]);
        }

        cloud.Servers.AddRange(servers);
        foreach (var server in servers)
        {
            await page.GotoAsync($"{baseUrl}/dashboard/servers/{server}");
            await WaitForTextAsync(page, "#server-status", "ACTIVE", s_boot);
        }

        await page.GotoAsync(baseUrl + "/dashboard/servers");
        await shot("servers");

        // The hosts page (admin): this host is up with the two servers.
        await page.GotoAsync(baseUrl + "/dashboard/hosts");
        var host = page.Locator($"#hosts tr[data-host='{cloud.HostName}'] td");
        Assert.Equal("up", await host.Nth(1).TextContentAsync());
        Assert.Equal("2", await host.Nth(3).TextContentAsync());
        await shot("hosts");

        // The topology: two edges from the volume, read-write, with the host.
        await page.GotoAsync(baseUrl + "/dashboard/topology");
        await UntilAsync(page, "() => document.getElementById('topology').dataset.edges === '2'");
        Assert.Equal("events", await page.EvaluateAsync<string>("() => document.body.dataset.live")); // pushed, not polled
        Assert.Equal(2, await page.Locator($"line.edge.rw[data-volume='{volume}']").CountAsync());
        Assert.Equal(2, await page.Locator("text.edge-label", new() { HasText = "rw · " + cloud.HostName }).CountAsync());
        await shot("topology");

        // The serial console: the guest's root shell runs what is typed (it expands $((6*7)); the echoed line does not).
        await page.GotoAsync($"{baseUrl}/dashboard/servers/{servers[0]}/console");
        await WaitForTextAsync(page, "#console-state", "connected", TimeSpan.FromMinutes(1));
        await WaitForTerminalAsync(page, "ember-tiny:/#");
        var nonce = Random.Shared.Next(1000, 9999).ToString(CultureInfo.InvariantCulture);
        await page.ClickAsync("#terminal");
        await page.Keyboard.TypeAsync($"echo hello-$((6*7))-{nonce}");
        await page.Keyboard.PressAsync("Enter");
        await WaitForTerminalAsync(page, $"hello-42-{nonce}");
        await shot("console");

        // I/O through both attachments while the volume page watches: writes from vm-a, reads from vm-b.
        await page.GotoAsync($"{baseUrl}/dashboard/volumes/{volume}");
        using (var cli = new LinkedCli(cloud.Env()))
        {
            // The shot is taken while the guests move data, so the graphs show it.
            var write = cli.ExecAsync("vm-a", "for i in 1 2 3 4; do dd if=/dev/urandom of=/dev/vdb bs=65536 count=256 2>/dev/null; sync; done");
            var read = cli.ExecAsync("vm-b", "for i in 1 2 3 4; do echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vdb of=/dev/null bs=65536 count=256 2>/dev/null; done");
            await UntilAsync(page, "() => document.querySelectorAll('#io .io-row').length === 2");
            await page.WaitForTimeoutAsync(6000); // a few polls: the graphs have points
            await shot("volume");
            (await write).EnsureSuccess();
            (await read).EnsureSuccess();
        }

        await shot("volume");

        // Detach vm-b: its edge goes.
        await page.Locator("#attachments tr", new() { HasText = "vm-b" }).Locator("button").ClickAsync();
        await page.WaitForURLAsync($"**/dashboard/volumes/{volume}");
        await page.GotoAsync(baseUrl + "/dashboard/topology");
        await UntilAsync(page, "() => document.getElementById('topology').dataset.edges === '1'", TimeSpan.FromMinutes(2));
        Assert.Equal(1, await page.Locator($"line.edge[data-volume='{volume}'][data-server='{servers[0]}']").CountAsync());
        Assert.Equal(0, await page.Locator($"line.edge[data-server='{servers[1]}']").CountAsync());

        // /metrics after the scenario: the volume's attachments moved bytes both ways.
        var metrics = await ScrapeAsync(baseUrl);
        Assert.True(Sum(metrics, "ember_nbd_written_bytes_total", volume) >= 256 * 65536, "written bytes of the volume's attachments");
        Assert.True(Sum(metrics, "ember_nbd_read_bytes_total", volume) > 0, "read bytes of the volume's attachments");
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ember.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }

    private static async Task WaitForTextAsync(IPage page, string selector, string expected, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        string? seen;
        while ((seen = (await page.TextContentAsync(selector))?.Trim()) != expected)
        {
            Assert.True(DateTime.UtcNow < until, $"{selector} is '{seen}', not '{expected}', after {timeout}");
            Assert.NotEqual("ERROR", seen);
            await Task.Delay(2000);
            if (selector != "#console-state")
            {
                await page.ReloadAsync();
            }
        }
    }

    /// <summary>Waits until the xterm.js buffer (what the terminal shows) contains <paramref name="text"/>.</summary>
    private static Task WaitForTerminalAsync(IPage page, string text) => UntilAsync(page, $$"""
        () => {
          const b = window.emberTerminal.buffer.active;
          let all = "";
          for (let i = 0; i < b.length; i++) all += b.getLine(i).translateToString(true) + "\n";
          return all.includes({{System.Text.Json.JsonSerializer.Serialize(text)}});
        }
        """, TimeSpan.FromSeconds(90));

    /// <summary>
    /// Polls <paramref name="function"/> in the page. Not WaitForFunctionAsync: its polling evaluates a string, which the
    /// dashboard's Content-Security-Policy (no 'unsafe-eval') refuses, as it should.
    /// </summary>
    private static async Task UntilAsync(IPage page, string function, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(1));
        while (!await page.EvaluateAsync<bool>(function))
        {
            Assert.True(DateTime.UtcNow < until, $"still false after {timeout}: {function}");
            await Task.Delay(500);
        }
    }

    private static async Task<string> ScrapeAsync(string baseUrl)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        var auth = JsonNode.Parse("""
            {"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"admin-secret"}}},
             "scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}
            """);
        using var login = await http.PostAsJsonAsync("/identity/v3/auth/tokens", auth);
        login.EnsureSuccessStatusCode();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Add("X-Auth-Token", login.Headers.GetValues("X-Subject-Token").Single());
        using var reply = await http.SendAsync(request);
        reply.EnsureSuccessStatusCode();
        return await reply.Content.ReadAsStringAsync();
    }

    /// <summary>The sum of <paramref name="metric"/> over the series of <paramref name="volume"/> (one per attachment).</summary>
    private static double Sum(string metrics, string metric, string volume) =>
        metrics.Split('\n').Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains($"volume_id=\"{volume}\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));

    /// <summary>A cloud with the guest image and a small flavor; deletes the servers the test made.</summary>
    public sealed class Cloud : GuestCloudFixture
    {
        public string HostName { get; } = "dash-host-1";

        public List<string> Servers { get; } = [];

        protected override async Task ConfigureAsync(Server.EmberOptions options)
        {
            await base.ConfigureAsync(options);
            options.HostName = HostName;
        }

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            (await RunAsync("ember", "flavor", "create", "dash.tiny", "--ram", "256", "--disk", "1", "--vcpus", "1")).EnsureSuccess();
        }

        public override async Task DisposeAsync()
        {
            try
            {
                foreach (var server in Servers)
                {
                    await RunAsync("ember", "server", "delete", server, "--wait");
                }
            }
            finally
            {
                await base.DisposeAsync();
            }
        }
    }
}
