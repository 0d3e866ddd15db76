using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Ember.Server.Tests.Support;

/// <summary>A thin JSON client over one Ember host for scenario tests: every call asserts its status code.</summary>
public sealed class ApiClient(HttpClient http) : IDisposable
{
    public const string Compute260 = "compute 2.60";

    public HttpClient Http { get; } = http;

    public async Task<JsonNode> SendAsync(HttpMethod method, string path, JsonNode? body = null, HttpStatusCode expect = HttpStatusCode.OK,
        string? apiVersion = null)
    {
        var (status, json, text) = await TrySendAsync(method, path, body, apiVersion);
        Assert.True(status == expect, $"{method} {path}: expected {(int)expect}, got {(int)status}: {text}");
        return json ?? new JsonObject();
    }

    public async Task<(HttpStatusCode Status, JsonNode? Json, string Text)> TrySendAsync(HttpMethod method, string path, JsonNode? body = null,
        string? apiVersion = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        if (apiVersion is not null)
        {
            request.Headers.Add("OpenStack-API-Version", apiVersion);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/json" && text.Length > 0)
        {
            json = JsonNode.Parse(text);
        }

        return (response.StatusCode, json, text);
    }

    /// <summary>
    /// Follows a list's "next" links (Cinder's and Nova's <c>{collection}_links</c>) from <paramref name="path"/>
    /// and returns the ids in the order the pages gave them; an id seen twice or a walk that does not end fails.
    /// </summary>
    public async Task<List<string>> WalkPagesAsync(string path, string collection, string? apiVersion = null)
    {
        var ids = new List<string>();
        string? page = path;
        for (var pages = 0; page is not null; pages++)
        {
            Assert.True(pages < 50, $"the walk of {collection} does not end");
            var body = await SendAsync(HttpMethod.Get, page, apiVersion: apiVersion);
            ids.AddRange(body[collection]!.AsArray().Select(item => item!["id"]!.GetValue<string>()));
            page = body[collection + "_links"]?[0]?["href"]?.GetValue<string>() is { } next ? new Uri(next).PathAndQuery : null;
        }

        Assert.Equal(ids.Distinct().Count(), ids.Count);
        return ids;
    }

    /// <summary>Polls <paramref name="path"/> until <paramref name="done"/> holds (a hang is a failure, not a wait forever).</summary>
    public async Task<JsonNode> WaitForAsync(string path, Func<JsonNode, bool> done, TimeSpan timeout, string? apiVersion = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        JsonNode? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var (status, json, _) = await TrySendAsync(HttpMethod.Get, path, apiVersion: apiVersion);
            if (status == HttpStatusCode.OK && json is not null)
            {
                last = json;
                if (done(json))
                {
                    return json;
                }
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"{path} did not reach the expected state in {timeout.TotalSeconds:0} s; last: {last?.ToJsonString()}");
    }

    /// <summary>Waits until GET <paramref name="path"/> answers 404.</summary>
    public async Task WaitGoneAsync(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var (status, _, _) = await TrySendAsync(HttpMethod.Get, path);
            if (status == HttpStatusCode.NotFound)
            {
                return;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"{path} still exists after {timeout.TotalSeconds:0} s");
    }

    /// <summary>
    /// Runs a shell line in a guest through Ember's ember-exec server action, retrying while the guest agent
    /// is not up yet (409); asserts exit code 0 and returns stdout.
    /// </summary>
    public async Task<string> ExecInGuestAsync(string server, string script)
    {
        var body = new JsonObject { ["ember-exec"] = new JsonObject { ["command"] = new JsonArray("sh", "-c", script), ["timeout"] = 120 } };
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        while (true)
        {
            var (status, json, text) = await TrySendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/action", body);
            if (status == HttpStatusCode.OK)
            {
                Assert.True(json!["exit_code"]!.GetValue<int>() == 0, $"'{script}' failed: {json.ToJsonString()}");
                return json["stdout"]!.GetValue<string>().Trim();
            }

            Assert.True(status == HttpStatusCode.Conflict && DateTime.UtcNow < deadline, $"exec failed with {(int)status}: {text}");
            await Task.Delay(1000);
        }
    }

    public void Dispose() => Http.Dispose();

    public static MediaTypeWithQualityHeaderValue JsonMedia { get; } = new("application/json");
}
