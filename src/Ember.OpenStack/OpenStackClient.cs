using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ember.OpenStack;

/// <summary>
/// One authenticated conversation with an OpenStack cloud: Keystone v3 login scoped to a project, endpoints from the
/// token's catalog, the token renewed shortly before it expires and once after a request is refused with 401, JSON
/// requests with a microversion, error replies read into <see cref="OpenStackException"/>. One login at a time, so
/// concurrent requests share a token. The caller owns <paramref name="http"/>.
/// </summary>
public sealed class OpenStackClient(HttpClient http, OpenStackCredentials credentials, TimeProvider? clock = null) : IDisposable
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly SemaphoreSlim _login = new(1, 1);
    private KeystoneToken? _token;

    /// <summary>A token this close to its expiry is renewed first, so that a request does not start on a dying one.</summary>
    public TimeSpan RenewBefore { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Where tokens are kept between runs; none keeps them in memory only.</summary>
    public ITokenStore? TokenStore { get; init; }

    public OpenStackCredentials Credentials => credentials;

    /// <summary>The current token while it is good for <see cref="RenewBefore"/>, else the stored one, else a new one; a new one when <paramref name="force"/>.</summary>
    public async Task<KeystoneToken> AuthenticateAsync(bool force, CancellationToken cancellationToken)
    {
        await _login.WaitAsync(cancellationToken);
        try
        {
            var validUntil = _clock.GetUtcNow() + RenewBefore;
            if (!force && _token is { } current && current.ExpiresAt > validUntil)
            {
                return current;
            }

            if (!force && TokenStore?.Load(validUntil) is { } stored)
            {
                return _token = stored;
            }

            return await LogInAsync(cancellationToken);
        }
        finally
        {
            _login.Release();
        }
    }

    /// <summary>The URL (no trailing slash) of this cloud's endpoint for <paramref name="serviceType"/> or one of its aliases.</summary>
    /// <exception cref="InvalidOperationException">The catalog has no such endpoint for the credentials' interface and region.</exception>
    public async Task<string> EndpointAsync(string serviceType, CancellationToken cancellationToken)
    {
        var token = await AuthenticateAsync(force: false, cancellationToken);
        return token.FindEndpoint(serviceType, credentials.Interface, credentials.RegionName) ?? throw new InvalidOperationException(
            $"No {credentials.Interface} endpoint for service '{serviceType}' (catalog types {string.Join(", ", ServiceTypes.Aliases(serviceType))}) in the service catalog.");
    }

    /// <summary>
    /// Sends <paramref name="body"/> (if any) as JSON to <paramref name="url"/> with the token and returns the response,
    /// whatever its status; the caller disposes it. A 401 gets a new token and one more try.
    /// </summary>
    /// <param name="microversion">The OpenStack-API-Version value, e.g. "volume 3.54" or "compute 2.60".</param>
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, JsonNode? body, string? microversion,
        CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseHeadersRead) =>
        SendAsync(method, url, () => body is null ? null : JsonBody(body), resendable: true, microversion, completion, cancellationToken);

    /// <summary>As <see cref="SendAsync(HttpMethod, string, JsonNode?, string?, CancellationToken, HttpCompletionOption)"/> with a
    /// streamed body, which cannot be read twice: a 401 is returned, not retried.</summary>
    public Task<HttpResponseMessage> SendContentAsync(HttpMethod method, string url, HttpContent content, string? microversion,
        CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseHeadersRead) =>
        SendAsync(method, url, () => content, resendable: false, microversion, completion, cancellationToken);

    /// <summary>A JSON request whose reply is read whole: the parsed body (null when empty), or the error it describes thrown.</summary>
    /// <exception cref="OpenStackException">The reply's status is not 2xx.</exception>
    public async Task<JsonNode?> RequestJsonAsync(HttpMethod method, string url, JsonNode? body, string? microversion, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(method, url, body, microversion, cancellationToken, HttpCompletionOption.ResponseContentRead);
        var reply = await ReadJsonAsync(response, cancellationToken);
        return response.IsSuccessStatusCode ? reply : throw OpenStackException.From(response, reply);
    }

    /// <summary>The body as JSON; null when empty, a string value when it is not JSON (Glance's text errors).</summary>
    public static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    public void Dispose() => _login.Dispose();

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, Func<HttpContent?> content, bool resendable,
        string? microversion, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var token = await AuthenticateAsync(force: false, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, url) { Content = content() };
            request.Headers.Add("X-Auth-Token", token.Id);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (microversion is not null)
            {
                if (microversion.StartsWith("compute ", StringComparison.Ordinal))
                {
                    // Nova before 2.27 reads only its own header.
                    request.Headers.Add("X-OpenStack-Nova-API-Version", microversion["compute ".Length..]);
                }

                request.Headers.Add("OpenStack-API-Version", microversion);
            }

            var response = await http.SendAsync(request, completion, cancellationToken);
            // A token can be revoked (or Keystone restarted with new keys) before it expires: get a new one, once.
            if (response.StatusCode != HttpStatusCode.Unauthorized || attempt > 0 || !resendable)
            {
                return response;
            }

            response.Dispose();
            token = await RenewAsync(token, cancellationToken);
        }
    }

    /// <summary>A new token in place of <paramref name="rejected"/>, unless a concurrent request has already got one.</summary>
    private async Task<KeystoneToken> RenewAsync(KeystoneToken rejected, CancellationToken cancellationToken)
    {
        await _login.WaitAsync(cancellationToken);
        try
        {
            return _token is { } current && !ReferenceEquals(current, rejected) ? current : await LogInAsync(cancellationToken);
        }
        finally
        {
            _login.Release();
        }
    }

    /// <summary>POST /v3/auth/tokens; called under <see cref="_login"/>.</summary>
    private async Task<KeystoneToken> LogInAsync(CancellationToken cancellationToken)
    {
        var url = (credentials.IdentityUrl ?? throw new InvalidOperationException("No auth URL to log in at.")) + "/auth/tokens";
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonBody(AuthBody()) };
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await ReadJsonAsync(response, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw OpenStackException.From(response, body);
        }

        var id = response.Headers.TryGetValues("X-Subject-Token", out var values) ? values.First()
            : credentials.Token ?? throw new InvalidDataException("Identity service returned no X-Subject-Token header.");
        var token = KeystoneToken.FromBody(id, body?["token"] as JsonObject ?? throw new InvalidDataException("Identity service returned no token body."),
            _clock.GetUtcNow());
        _token = token;
        TokenStore?.Save(token);
        return token;
    }

    private JsonObject AuthBody()
    {
        if (!credentials.CanLogIn)
        {
            throw new InvalidOperationException("A user name or id and a password, or a token, are needed to log in.");
        }

        JsonObject identity;
        if (credentials.Token is { } token)
        {
            identity = new JsonObject { ["methods"] = new JsonArray("token"), ["token"] = new JsonObject { ["id"] = token } };
        }
        else
        {
            var user = new JsonObject { ["password"] = credentials.Password };
            if (credentials.UserId is not null)
            {
                user["id"] = credentials.UserId;
            }
            else
            {
                user["name"] = credentials.Username;
                user["domain"] = DomainRef(credentials.UserDomainId, credentials.UserDomainName);
            }

            identity = new JsonObject { ["methods"] = new JsonArray("password"), ["password"] = new JsonObject { ["user"] = user } };
        }

        var auth = new JsonObject { ["identity"] = identity };
        if (credentials.ProjectId is not null)
        {
            auth["scope"] = new JsonObject { ["project"] = new JsonObject { ["id"] = credentials.ProjectId } };
        }
        else if (credentials.ProjectName is not null)
        {
            auth["scope"] = new JsonObject
            {
                ["project"] = new JsonObject { ["name"] = credentials.ProjectName, ["domain"] = DomainRef(credentials.ProjectDomainId, credentials.ProjectDomainName) },
            };
        }

        return new JsonObject { ["auth"] = auth };
    }

    private static JsonObject DomainRef(string? id, string name) => id is not null ? new JsonObject { ["id"] = id } : new JsonObject { ["name"] = name };

    /// <summary>Buffered rather than JsonContent, so Content-Length is sent: some WSGI servers refuse a chunked body.</summary>
    private static StringContent JsonBody(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");
}
