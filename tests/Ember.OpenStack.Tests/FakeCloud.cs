using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace Ember.OpenStack.Tests;

/// <summary>
/// A cloud as the client sees it over HTTP: Keystone issuing tokens valid for an hour with a catalog that lists
/// Block Storage under its old "volumev3" type, and a service that answers 401 to tokens it was told to revoke
/// and 200 {"token": id} to the others.
/// </summary>
internal sealed class FakeCloud : HttpMessageHandler
{
    public const string AuthUrl = "http://cloud.test/identity";

    private readonly ConcurrentQueue<HttpRequestMessage> _requests = new();
    private readonly ConcurrentQueue<string> _bodies = new();
    private readonly ConcurrentQueue<long?> _lengths = new();
    private int _logins;

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public int Logins => _logins;

    /// <summary>Tokens the services refuse (Keystone restarted with new keys, say).</summary>
    public ConcurrentDictionary<string, bool> Revoked { get; } = new();

    public IReadOnlyList<HttpRequestMessage> Requests => [.. _requests];

    /// <summary>The request bodies, in order, as they were sent.</summary>
    public IReadOnlyList<string> Bodies => [.. _bodies];

    /// <summary>The Content-Length of each request as sent (null: chunked or no body).</summary>
    public IReadOnlyList<long?> ContentLengths => [.. _lengths];

    public static JsonArray Catalog() =>
    [
        new JsonObject
        {
            ["type"] = "volumev3",
            ["endpoints"] = new JsonArray(
                new JsonObject { ["interface"] = "internal", ["region_id"] = "RegionOne", ["url"] = "http://internal.test/volume/v3/" },
                new JsonObject { ["interface"] = "public", ["region_id"] = "RegionOne", ["url"] = "http://cloud.test/volume/v3/" },
                new JsonObject { ["interface"] = "public", ["region_id"] = "RegionTwo", ["url"] = "http://two.test/volume/v3" }),
        },
        new JsonObject
        {
            ["type"] = "image",
            ["endpoints"] = new JsonArray(new JsonObject { ["interface"] = "public", ["url"] = "http://cloud.test/image" }),
        },
    ];

    public OpenStackClient Client(OpenStackCredentials? credentials = null) =>
        new(new HttpClient(this), credentials ?? new OpenStackCredentials { AuthUrl = AuthUrl, Username = "host", Password = "pw-secret", ProjectName = "service" }, Clock);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _requests.Enqueue(request);
        _lengths.Enqueue(request.Content?.Headers.ContentLength);
        _bodies.Enqueue(request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken));
        if (request.RequestUri!.AbsolutePath == "/identity/v3/auth/tokens")
        {
            var n = Interlocked.Increment(ref _logins);
            var token = new JsonObject
            {
                ["expires_at"] = Clock.GetUtcNow().AddHours(1).ToString("O"),
                ["user"] = new JsonObject { ["id"] = "u1" },
                ["project"] = new JsonObject { ["id"] = "p1" },
                ["catalog"] = Catalog(),
            };
            var reply = Json(HttpStatusCode.Created, new JsonObject { ["token"] = token });
            reply.Headers.Add("X-Subject-Token", "tok-" + n);
            return reply;
        }

        var presented = request.Headers.GetValues("X-Auth-Token").Single();
        if (Revoked.ContainsKey(presented))
        {
            return Json(HttpStatusCode.Unauthorized, new JsonObject { ["error"] = new JsonObject { ["code"] = 401, ["message"] = "The request you have made requires authentication." } });
        }

        return Json(HttpStatusCode.OK, new JsonObject { ["token"] = presented });
    }

    public static HttpResponseMessage Json(HttpStatusCode status, JsonNode body) =>
        new(status) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
}
