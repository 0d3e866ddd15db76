using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Dashboard;

/// <summary>An API call the cloud refused: <see cref="Exception.Message"/> is the API's own message.</summary>
public sealed class CloudApiException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// The dashboard's way to the cloud: each page calls Ember's own APIs on the listener the browser came in on, with the
/// session's token, so policy, project scoping, validation and error messages are exactly what any API client gets.
/// </summary>
public sealed class CloudApi : IDisposable
{
    /// <summary>The microversions the pages are written against (multiattach and volume attach in compute, Cinder 3.70).</summary>
    public const string ComputeVersion = "compute 2.60";
    public const string VolumeVersion = "volume 3.70";

    private readonly HttpClient _client = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    // Image data may take as long as the browser takes to send it: no overall timeout, the browser's disconnect cancels it.
    private readonly HttpClient _streaming = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public void Dispose()
    {
        _client.Dispose();
        _streaming.Dispose();
    }

    /// <summary>Sends one API request; returns the parsed reply body (null when empty) or throws <see cref="CloudApiException"/>.</summary>
    public async Task<JsonNode?> SendAsync(HttpContext http, HttpMethod method, string path, string? token, JsonNode? body = null,
        string? version = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var reply = await SendRawAsync(http, method, path, token, body, version, headers);
        var text = await reply.Content.ReadAsStringAsync(http.RequestAborted);
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }

    /// <summary>As <see cref="SendAsync"/>, for callers that need the reply's headers (the login's X-Subject-Token).</summary>
    public async Task<HttpResponseMessage> SendRawAsync(HttpContext http, HttpMethod method, string path, string? token, JsonNode? body = null,
        string? version = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, LoopbackBase(http) + path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (token is not null)
        {
            request.Headers.Add("X-Auth-Token", token);
        }

        if (version is not null)
        {
            request.Headers.Add("OpenStack-API-Version", version);
        }

        DashboardForwarding.Add(request, http);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add(name, value);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        var reply = await _client.SendAsync(request, http.RequestAborted);
        if (reply.IsSuccessStatusCode)
        {
            return reply;
        }

        using (reply)
        {
            var text = await reply.Content.ReadAsStringAsync(http.RequestAborted);
            throw new CloudApiException((int)reply.StatusCode, MessageOf(text) ?? $"{(int)reply.StatusCode} {reply.ReasonPhrase}");
        }
    }

    /// <summary>
    /// Sends the browser's request body on as it arrives (image data: never held in memory), with its length when the
    /// browser gave one; throws <see cref="CloudApiException"/> with the API's message on a refusal.
    /// </summary>
    public async Task StreamAsync(HttpContext http, HttpMethod method, string path, string token, string contentType)
    {
        using var request = new HttpRequestMessage(method, LoopbackBase(http) + path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Add("X-Auth-Token", token);
        DashboardForwarding.Add(request, http);
        request.Content = new StreamContent(http.Request.Body);
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Content.Headers.ContentLength = http.Request.ContentLength;
        using var reply = await _streaming.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, http.RequestAborted);
        if (!reply.IsSuccessStatusCode)
        {
            var text = await reply.Content.ReadAsStringAsync(http.RequestAborted);
            throw new CloudApiException((int)reply.StatusCode, MessageOf(text) ?? $"{(int)reply.StatusCode} {reply.ReasonPhrase}");
        }
    }

    /// <summary>The message of any OpenStack error body: {"badRequest":{"message"}}, {"error":{"message"}}, {"NeutronError":{"message"}}.</summary>
    internal static string? MessageOf(string body)
    {
        try
        {
            if (JsonNode.Parse(body) is not JsonObject root)
            {
                return null;
            }

            foreach (var (_, value) in root)
            {
                if (value is JsonObject fault && fault["message"] is JsonValue message && message.TryGetValue<string>(out var text))
                {
                    return text;
                }
            }

            return root["message"] is JsonValue m && m.TryGetValue<string>(out var plain) ? plain : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>The listener this request came in on (loopback-equivalent: the call never leaves the machine).</summary>
    private static string LoopbackBase(HttpContext http)
    {
        var local = http.Connection.LocalIpAddress ?? IPAddress.Loopback;
        if (local.IsIPv4MappedToIPv6)
        {
            local = local.MapToIPv4();
        }

        return $"http://{new IPEndPoint(local, http.Connection.LocalPort)}";
    }
}
