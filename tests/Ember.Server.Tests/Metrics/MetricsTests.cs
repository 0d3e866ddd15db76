using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Metrics;

/// <summary>A host with a scrape token and database counts reused for one second only.</summary>
public sealed class MetricsFixture : EmberFixture
{
    public const string ScrapeToken = "scrape-token-for-tests-0123456789";

    /// <summary>The volume service's host name: a connector naming it gets the unix socket.</summary>
    public const string ThisHost = "metrics-host-1";

    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.HostName = ThisHost;
        options.Metrics.ScrapeToken = ScrapeToken;
        options.Metrics.CacheSeconds = 1;
        return Task.CompletedTask;
    }

    public Task<(HttpStatusCode Status, string ContentType, string Body)> ScrapeAsync(string? authToken = null, string? bearer = null) =>
        MetricsScraper.ScrapeAsync(this, authToken, bearer);

    public Task<PrometheusText> ScrapeUntilAsync(Func<PrometheusText, bool> done, string what) =>
        MetricsScraper.ScrapeUntilAsync(this, done, what, bearer: ScrapeToken);
}

/// <summary>/metrics: who may read it, that it is Prometheus text, and that its figures follow what the APIs did.</summary>
public sealed class MetricsTests(MetricsFixture fixture) : IClassFixture<MetricsFixture>
{
    private const string V354 = "volume 3.54";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Metrics_are_refused_without_credentials_to_a_member_and_with_a_wrong_scrape_token()
    {
        var demo = await fixture.TokenAsync("demo");
        foreach (var (token, bearer, expect) in new (string?, string?, HttpStatusCode)[]
        {
            (null, null, HttpStatusCode.Unauthorized),
            (null, MetricsFixture.ScrapeToken + "x", HttpStatusCode.Unauthorized),
            (null, MetricsFixture.ScrapeToken[..^1], HttpStatusCode.Unauthorized),
            ("not-a-token", null, HttpStatusCode.Unauthorized),
            (demo, null, HttpStatusCode.Forbidden),
            (demo, "wrong", HttpStatusCode.Forbidden),
        })
        {
            var (status, _, body) = await fixture.ScrapeAsync(token, bearer);
            Assert.Equal(expect, status);
            Assert.DoesNotContain("# TYPE", body, StringComparison.Ordinal);
            Assert.DoesNotContain("ember_", body, StringComparison.Ordinal);
            Assert.Contains("\"error\"", body, StringComparison.Ordinal); // the API's own error body
        }
    }

    [Fact]
    public async Task The_admin_token_and_the_scrape_token_get_prometheus_text()
    {
        var admin = await fixture.TokenAsync("admin");
        foreach (var (token, bearer) in new (string?, string?)[] { (admin, null), (null, MetricsFixture.ScrapeToken) })
        {
            var (status, contentType, body) = await fixture.ScrapeAsync(token, bearer);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.StartsWith("text/plain", contentType, StringComparison.Ordinal);
            var text = PrometheusText.Parse(body);
            Assert.Equal("histogram", text.Types["http_server_request_duration_seconds"]);
            Assert.Equal("gauge", text.Types["ember_volumes"]);
            Assert.Single(text.Find("ember_volumes", ("status", "error"))); // a status no volume has is a 0, not a missing series
            Assert.Equal("gauge", text.Types["ember_qemu_processes"]);
            Assert.Equal("gauge", text.Types["ember_nbd_exports"]);
            Assert.Contains(text.Types.Keys, name => name.StartsWith("dotnet_gc_", StringComparison.Ordinal)); // the runtime's meter
            Assert.Contains(text.Samples, s => s.Name == "http_server_request_duration_seconds_bucket" && s.Labels.ContainsKey("le") && s.Labels.ContainsKey("http_route"));
            Assert.Equal(0, Assert.Single(text.Find("ember_qemu_processes", ("host", MetricsFixture.ThisHost))).Value); // no server runs here
        }
    }

    [Fact]
    public async Task The_request_histogram_counts_calls_per_route_template_and_status()
    {
        using var api = new ApiClient(await fixture.ClientAsync("demo"));
        const string route = "/volume/v3/volumes/{id}";
        (string, string)[] series = [("http_route", route), ("http_response_status_code", "404"), ("http_request_method", "GET")];
        var before = PrometheusText.Parse((await fixture.ScrapeAsync(bearer: MetricsFixture.ScrapeToken)).Body).Sum("http_server_request_duration_seconds_count", series);

        var missing = Guid.NewGuid().ToString();
        for (var i = 0; i < 3; i++)
        {
            await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{missing}", expect: HttpStatusCode.NotFound);
        }

        var text = await fixture.ScrapeUntilAsync(t => t.Sum("http_server_request_duration_seconds_count", series) >= before + 3, $"3 more requests on {route}");
        // The label is the template: no raw path (with the id in it) becomes a series of its own.
        Assert.DoesNotContain(text.Samples, s => s.Labels.Values.Any(v => v.Contains(missing, StringComparison.Ordinal)));
        Assert.All(text.Find("http_server_request_duration_seconds_count").Where(s => s.Labels.TryGetValue("http_route", out var r) && r.StartsWith("/volume/", StringComparison.Ordinal)),
            s => Assert.DoesNotMatch("[0-9a-f]{8}-[0-9a-f]{4}-", s.Labels["http_route"]));
    }

    [Fact]
    public async Task Each_compute_host_has_gauges_equal_to_what_os_hypervisors_shows()
    {
        using var admin = new ApiClient(await fixture.ClientAsync("admin"));
        var hypervisors = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/detail", apiVersion: ApiClient.Compute260))["hypervisors"]!.AsArray();
        Assert.Contains(hypervisors, h => h!["service"]!["host"]!.GetValue<string>() == MetricsFixture.ThisHost);
        var text = await fixture.ScrapeUntilAsync(t => t.Types.ContainsKey("ember_host_up"), "ember_host_up");
        foreach (var name in new[] { "ember_host_up", "ember_host_servers", "ember_host_vcpus", "ember_host_vcpus_used", "ember_host_memory_bytes", "ember_host_memory_used_bytes" })
        {
            Assert.Equal("gauge", text.Types[name]);
            Assert.Equal(hypervisors.Count, text.Find(name).Count());
        }

        foreach (var h in hypervisors)
        {
            var host = h!["service"]!["host"]!.GetValue<string>();
            double Value(string name) => Assert.Single(text.Find(name, ("host", host))).Value;
            Assert.Equal(h["state"]!.GetValue<string>() == "up" ? 1 : 0, Value("ember_host_up"));
            Assert.Equal(h["running_vms"]!.GetValue<long>(), Value("ember_host_servers"));
            Assert.Equal(h["vcpus"]!.GetValue<long>(), Value("ember_host_vcpus"));
            Assert.Equal(h["vcpus_used"]!.GetValue<long>(), Value("ember_host_vcpus_used"));
            Assert.Equal(h["memory_mb"]!.GetValue<long>() * 1048576.0, Value("ember_host_memory_bytes"));
            Assert.Equal(h["memory_mb_used"]!.GetValue<long>() * 1048576.0, Value("ember_host_memory_used_bytes"));
        }

        Assert.Equal(1, Assert.Single(text.Find("ember_host_up", ("host", MetricsFixture.ThisHost))).Value);
    }

    [Fact]
    public async Task The_volumes_gauge_matches_the_volumes_by_status()
    {
        var project = await fixture.NewProjectClientAsync("metrics");
        using var api = project.Api;
        for (var i = 0; i < 2; i++)
        {
            await CreateAvailableVolumeAsync(api);
        }

        using var admin = new ApiClient(await fixture.ClientAsync("admin"));
        var all = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail?all_tenants=1&limit=1000"))["volumes"]!.AsArray();
        var byStatus = all.GroupBy(v => v!["status"]!.GetValue<string>()).ToDictionary(g => g.Key, g => (double)g.Count());
        Assert.True(byStatus.GetValueOrDefault("available") >= 2);

        await fixture.ScrapeUntilAsync(
            t => byStatus.All(kv => t.Sum("ember_volumes", ("status", kv.Key)) == kv.Value) && t.Find("ember_volumes").Sum(s => s.Value) == all.Count,
            "ember_volumes equal to " + string.Join(", ", byStatus.Select(kv => $"{kv.Key}={kv.Value}")));
    }

    [Fact]
    public async Task The_nbd_counters_of_an_attachment_grow_with_what_a_client_reads_and_writes()
    {
        using var api = new ApiClient(await fixture.ClientAsync("demo"));
        var volumeId = await CreateAvailableVolumeAsync(api);
        var attachment = (await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments", new JsonObject
        {
            ["attachment"] = new JsonObject
            {
                ["volume_uuid"] = volumeId,
                ["instance_uuid"] = Guid.NewGuid().ToString(),
                ["connector"] = new JsonObject { ["host"] = MetricsFixture.ThisHost, ["mountpoint"] = "/dev/vdb" },
            },
        }, apiVersion: V354))["attachment"]!;
        var attachmentId = attachment["id"]!.GetValue<string>();
        var connection = attachment["connection_info"]!;
        var exportName = connection["export_name"]!.GetValue<string>();
        var uri = $"nbd+unix:///{exportName}?socket={connection["unix_socket"]}";
        (string, string)[] series = [("volume_id", volumeId), ("attachment_id", attachmentId)];

        await Cli.RunOkAsync("qemu-io", "-f", "raw", uri, "-c", "write -P 0x5a 0 1M", "-c", "read -P 0x5a 0 1M", "-c", "read 1M 512k");

        var text = await fixture.ScrapeUntilAsync(
            t => t.Sum("ember_nbd_written_bytes_total", series) >= 1 << 20 && t.Sum("ember_nbd_read_bytes_total", series) >= (1 << 20) + (512 << 10),
            $"the bytes of attachment {attachmentId}");
        Assert.Equal(1 << 20, text.Sum("ember_nbd_written_bytes_total", series));
        Assert.True(text.Sum("ember_nbd_operations_total", [.. series, ("operation", "write")]) >= 1);
        Assert.True(text.Sum("ember_nbd_operations_total", [.. series, ("operation", "read")]) >= 2);
        Assert.True(text.Sum("ember_nbd_operation_time_seconds_total", [.. series, ("operation", "read")]) > 0);
        Assert.Equal(0, text.Sum("ember_nbd_errors_total", series));
        Assert.DoesNotContain(text.Samples, s => s.Labels.Values.Contains(exportName)); // the export name is a secret

        // Detached: the export and its series are gone.
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/attachments/{attachmentId}", apiVersion: V354);
        await fixture.ScrapeUntilAsync(t => !t.Find("ember_nbd_read_bytes_total", series).Any(), $"no series of attachment {attachmentId}");
    }

    private static async Task<string> CreateAvailableVolumeAsync(ApiClient api)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }
}
