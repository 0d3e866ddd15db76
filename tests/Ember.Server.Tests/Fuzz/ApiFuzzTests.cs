using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Xunit.Abstractions;

namespace Ember.Server.Tests.Fuzz;

/// <summary>Runs <see cref="ApiFuzzCases"/> on SQLite.</summary>
public sealed class ApiFuzzTests(FuzzFixture fixture, ITestOutputHelper output) : ApiFuzzCases(fixture, output), IClassFixture<FuzzFixture>;

/// <summary>Runs <see cref="ApiFuzzCases"/> on PostgreSQL.</summary>
public sealed class PostgresApiFuzzTests(PostgresFuzzFixture fixture, ITestOutputHelper output) : ApiFuzzCases(fixture, output), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// A seeded, bounded fuzzer over every route of a real host (real sockets): valid requests of each route, mutated in
/// body, query, headers, microversion and ids. No answer may be a 5xx other than a deliberate 501, the server must answer afterwards, and its
/// managed memory must stay bounded. The suite replays one pinned seed, so a red run means a change broke something;
/// EMBER_FUZZ_SEED=random explores new inputs, EMBER_FUZZ_SEED=N replays a run, EMBER_FUZZ_REQUESTS changes its length.
/// </summary>
public abstract class ApiFuzzCases(FuzzFixture fixture, ITestOutputHelper output)
{
    private const int Workers = 4;
    private const long ManagedGrowthLimit = 256L * 1024 * 1024;

    /// <summary>The suite's seed. When exploration finds a bug, its seed's request becomes a test in BadInputTests.</summary>
    private const int PinnedSeed = 20261130;

    [Fact]
    public async Task Fuzzed_requests_of_every_route_get_no_5xx_and_leave_the_server_answering_with_bounded_memory()
    {
        var seedText = Environment.GetEnvironmentVariable("EMBER_FUZZ_SEED");
        var seed = seedText == "random" ? Random.Shared.Next()
            : int.TryParse(seedText, CultureInfo.InvariantCulture, out var s) ? s : PinnedSeed;
        var total = int.TryParse(Environment.GetEnvironmentVariable("EMBER_FUZZ_REQUESTS"), CultureInfo.InvariantCulture, out var n) ? n : 20_000;
        output.WriteLine($"fuzz seed {seed} (replay: EMBER_FUZZ_SEED={seed}), {total} requests");

        var world = await FuzzWorld.CreateAsync(fixture);
        var routes = Routes();
        Assert.True(routes.Count > 60, $"only {routes.Count} routes found");

        GC.Collect();
        var managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        var failures = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        var connectionErrors = 0;
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, RequestHeaderEncodingSelector = (_, _) => System.Text.Encoding.UTF8 })
        {
            BaseAddress = new Uri(fixture.BaseUrl),
            Timeout = TimeSpan.FromSeconds(60),
        };

        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var generator = new RequestGenerator(world, routes, new Random(seed + worker));
            for (var i = worker; i < total; i += Workers)
            {
                var request = generator.Next();
                try
                {
                    var (status, body) = await SendAsync(http, request);
                    statuses.AddOrUpdate(status, 1, (_, c) => c + 1);
                    // 501 is a deliberate answer ("not implemented", in the API's own error body), not a failure.
                    if (status >= 500 && status != StatusCodes.Status501NotImplemented)
                    {
                        failures.Enqueue($"#{i} (worker {worker}) -> {status} {body}\n{request.Describe()}");
                    }

                    Harvest(world, request, status, body);
                }
                catch (TaskCanceledException)
                {
                    failures.Enqueue($"#{i} (worker {worker}) -> no answer in 60 s\n{request.Describe()}");
                }
                catch (HttpRequestException ex)
                {
                    // The server may close a connection on a body it refuses (413) before the client has sent it all.
                    if (Interlocked.Increment(ref connectionErrors) <= 3)
                    {
                        output.WriteLine($"connection error {ex.Message}: {request.Describe()}");
                    }
                }
            }
        })));

        output.WriteLine("statuses: " + string.Join(", ", statuses.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}x{kv.Value}")));
        output.WriteLine($"connection errors: {connectionErrors}");
        Assert.True(failures.IsEmpty,
            $"seed {seed} (replay with EMBER_FUZZ_SEED={seed}): {failures.Count} requests got a 5xx or no answer; the first:\n"
            + string.Join("\n\n", failures.Take(8)));
        Assert.True(connectionErrors < total / 20, $"seed {seed}: {connectionErrors} connection errors");

        // Still alive: discovery, a fresh token, a list.
        using var demo = await fixture.ClientAsync("demo");
        Assert.Equal(HttpStatusCode.OK, (await demo.GetAsync("/identity/v3")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await demo.GetAsync("/volume/v3/volumes")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await demo.GetAsync("/compute/v2.1/servers")).StatusCode);

        var managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine($"managed heap {managedBefore / 1048576} MiB -> {managedAfter / 1048576} MiB, working set {Environment.WorkingSet / 1048576} MiB");
        Assert.True(managedAfter - managedBefore < ManagedGrowthLimit,
            $"seed {seed}: managed heap grew from {managedBefore} to {managedAfter} bytes");
    }

    /// <summary>Every (method, route pattern) the host serves, read from its endpoint data sources.</summary>
    private List<(string Method, string Pattern)> Routes()
    {
        var endpoints = ((IEndpointRouteBuilder)fixture.Host.App).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>();
        return [.. endpoints
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [HttpMethods.Get, HttpMethods.Post])
                .Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))
            .Distinct()
            .OrderBy(r => r.Item2, StringComparer.Ordinal).ThenBy(r => r.m, StringComparer.Ordinal)];
    }

    private static async Task<(int Status, string Body)> SendAsync(HttpClient http, FuzzRequest fuzz)
    {
        using var request = Build(fuzz);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        }
        catch (HttpRequestException) when (fuzz.Body is not { Length: > 1024 * 1024 })
        {
            // A pooled connection the server had just closed after refusing a large body: once more on a new one.
            using var again = Build(fuzz);
            response = await http.SendAsync(again, HttpCompletionOption.ResponseHeadersRead);
        }

        using var _ = response;
        var body = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, body.Length > 400 ? body[..400] : body);
    }

    private static HttpRequestMessage Build(FuzzRequest fuzz)
    {
        var request = new HttpRequestMessage(new HttpMethod(fuzz.Method), fuzz.Url);
        if (fuzz.Body is not null)
        {
            request.Content = new ByteArrayContent(fuzz.Body);
            if (fuzz.ContentType is { Length: > 0 })
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", fuzz.ContentType);
            }
        }

        foreach (var (name, value) in fuzz.Headers)
        {
            if (name == "Host")
            {
                request.Headers.Host = value;
            }
            else
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return request;
    }

    /// <summary>Ids of what a request created join the pools, so later requests aim at them too.</summary>
    private static void Harvest(FuzzWorld world, FuzzRequest request, int status, string body)
    {
        if (request.Method != "POST" || status is < 200 or >= 300 || !body.StartsWith('{'))
        {
            return;
        }

        try
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(body) as System.Text.Json.Nodes.JsonObject;
            foreach (var (key, kind) in new[]
            {
                ("volume", "volumes"), ("snapshot", "snapshots"), ("server", "servers"), ("attachment", "attachments"),
                ("volume_type", "types"), ("flavor", "flavors"), ("project", "projects"), ("user", "users"), ("role", "roles"),
            })
            {
                if (json?[key] is System.Text.Json.Nodes.JsonObject o && o["id"]?.GetValueKind() == System.Text.Json.JsonValueKind.String)
                {
                    world.Add(kind, o["id"]!.GetValue<string>());
                }
            }

            if (request.Url.StartsWith("/image/v2/images", StringComparison.Ordinal) && json?["id"]?.GetValueKind() == System.Text.Json.JsonValueKind.String)
            {
                world.Add("images", json["id"]!.GetValue<string>());
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // A truncated body: nothing to harvest.
        }
    }
}
