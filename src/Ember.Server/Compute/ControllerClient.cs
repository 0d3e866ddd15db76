using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Ember.Server.Compute;

/// <summary>Who a compute host is towards the controller's APIs: a Keystone user scoped to a project.</summary>
public sealed record ControllerAccess(Uri AuthUrl, string UserName, string Password, string ProjectName, string DomainName = "Default")
{
    /// <summary>Left out, so that logging the record never prints the password.</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"AuthUrl = {AuthUrl}, UserName = {UserName}, ProjectName = {ProjectName}, DomainName = {DomainName}");
        return true;
    }
}

/// <summary>
/// How a compute host on another machine calls the controller: Keystone password auth, the endpoints from the
/// token's catalog, one token reused until shortly before it expires or until a request is refused with 401.
/// </summary>
public sealed class ControllerClient(HttpClient http, ControllerAccess access, TimeProvider clock) : IDisposable
{
    /// <summary>A token this close to its expiry is renewed first, so a long download does not start on a dying one.</summary>
    private static readonly TimeSpan s_renewBefore = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _login = new(1, 1);
    private Session? _session;

    private sealed record Session(string Token, DateTimeOffset ExpiresAt, JsonArray Catalog);

    /// <summary>
    /// Sends <paramref name="method"/> to <paramref name="path"/> under the public endpoint of <paramref name="serviceType"/>
    /// and returns the response with its body unread (the caller disposes it). A 401 logs in again once.
    /// </summary>
    /// <param name="apiVersion">The OpenStack-API-Version header, e.g. "volume 3.54".</param>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string serviceType, string path, JsonNode? body,
        string? apiVersion, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var session = await SessionAsync(forceLogin: attempt > 0, cancellationToken);
            using var request = new HttpRequestMessage(method, new Uri(EndpointOf(session, serviceType), path));
            request.Headers.Add("X-Auth-Token", session.Token);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (apiVersion is not null)
            {
                request.Headers.Add("OpenStack-API-Version", apiVersion);
            }

            if (body is not null)
            {
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            }

            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Unauthorized || attempt > 0)
            {
                return response;
            }

            response.Dispose();
        }
    }

    public Task<HttpResponseMessage> GetAsync(string serviceType, string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, serviceType, path, null, null, cancellationToken);

    /// <summary>GET of a JSON document; a status other than 200 is an error naming the service, path and status.</summary>
    public async Task<JsonObject> GetJsonAsync(string serviceType, string path, CancellationToken cancellationToken)
    {
        using var response = await GetAsync(serviceType, path, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"{serviceType} GET {path}: HTTP {(int)response.StatusCode}", null, response.StatusCode);
        }

        return JsonNode.Parse(body) as JsonObject ?? throw new HttpRequestException($"{serviceType} GET {path}: not a JSON object");
    }

    private async Task<Session> SessionAsync(bool forceLogin, CancellationToken cancellationToken)
    {
        await _login.WaitAsync(cancellationToken);
        try
        {
            if (forceLogin || _session is null || _session.ExpiresAt - clock.GetUtcNow() < s_renewBefore)
            {
                _session = await LoginAsync(cancellationToken);
            }

            return _session;
        }
        finally
        {
            _login.Release();
        }
    }

    private async Task<Session> LoginAsync(CancellationToken cancellationToken)
    {
        var domain = new JsonObject { ["name"] = access.DomainName };
        var body = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject
                {
                    ["methods"] = new JsonArray("password"),
                    ["password"] = new JsonObject
                    {
                        ["user"] = new JsonObject { ["name"] = access.UserName, ["domain"] = domain, ["password"] = access.Password },
                    },
                },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["name"] = access.ProjectName, ["domain"] = domain.DeepClone() } },
            },
        };
        var url = new Uri(access.AuthUrl.ToString().TrimEnd('/') + "/auth/tokens");
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(url, content, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Created || !response.Headers.TryGetValues("X-Subject-Token", out var tokens))
        {
            throw new HttpRequestException($"Login as {access.UserName} at {access.AuthUrl}: HTTP {(int)response.StatusCode}", null, response.StatusCode);
        }

        var token = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["token"];
        var expiresAt = DateTimeOffset.Parse(token?["expires_at"]?.GetValue<string>() ?? throw new HttpRequestException("The token has no expires_at."),
            System.Globalization.CultureInfo.InvariantCulture);
        return new Session(tokens.Single(), expiresAt, token["catalog"] as JsonArray ?? []);
    }

    /// <summary>The public endpoint of a service type, with a trailing slash so relative paths append to it.</summary>
    private static Uri EndpointOf(Session session, string serviceType)
    {
        var url = session.Catalog
            .Where(s => s?["type"]?.GetValue<string>() == serviceType)
            .SelectMany(s => s!["endpoints"]?.AsArray() ?? [])
            .FirstOrDefault(e => e?["interface"]?.GetValue<string>() == "public")?["url"]?.GetValue<string>()
            ?? throw new HttpRequestException($"The catalog has no public {serviceType} endpoint.");
        return new Uri(url.TrimEnd('/') + "/");
    }

    public void Dispose() => _login.Dispose();
}
