using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Ember.Client;

/// <summary>
/// One authenticated conversation with a cloud: Keystone v3 password (or token) auth with a cached token,
/// endpoint lookup in the catalog, JSON requests that turn error replies into <see cref="ApiException"/>.
/// </summary>
public sealed partial class OpenStackSession : IDisposable
{
    /// <summary>Catalog types tried for each service, official type first (os-service-types aliases).</summary>
    private static readonly Dictionary<string, string[]> s_serviceTypes = new()
    {
        ["volume"] = ["block-storage", "volumev3", "volume", "block-store"],
        ["compute"] = ["compute"],
        ["image"] = ["image"],
        ["identity"] = ["identity"],
    };

    private readonly CliContext _context;
    private readonly CloudCredentials _credentials;
    private readonly HttpClient _http;
    private readonly TextWriter? _debug;
    private CachedToken? _token;

    public OpenStackSession(CliContext context, CloudCredentials credentials, bool debug)
    {
        _context = context;
        _credentials = credentials;
        _debug = debug ? context.Err : null;
        var handler = new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All };
        if (credentials.Insecure)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("ember-cli/1.0");
    }

    /// <summary>Compute microversion sent on every compute request; 2.60 allows multi-attach volumes.</summary>
    public string ComputeMicroversion { get; set; } = "2.60";

    /// <summary>Block Storage microversion, or null for the base version 3.0.</summary>
    public string? VolumeMicroversion { get; set; }

    public CloudCredentials Credentials => _credentials;

    public void Dispose() => _http.Dispose();

    /// <summary>The token (from the cache when still valid for a minute), with catalog and ids.</summary>
    public async Task<CachedToken> AuthenticateAsync(CancellationToken cancellationToken, bool force = false)
    {
        if (_token is not null && !force && _token.ExpiresAt > DateTimeOffset.UtcNow.AddSeconds(60))
        {
            return _token;
        }

        var authUrl = IdentityV3Url();
        var cacheFile = TokenCacheFile(authUrl);
        if (!force && CachedToken.Load(cacheFile) is { } cached && cached.ExpiresAt > DateTimeOffset.UtcNow.AddSeconds(60))
        {
            Debug($"using cached token from {cacheFile}");
            return _token = cached;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, authUrl + "/auth/tokens");
        request.Content = new StringContent(AuthBody().ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await SendLoggedAsync(request, redactBody: true, cancellationToken);
        var body = await ReadJsonAsync(response, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw ErrorFrom(response, body);
        }

        var tokenId = response.Headers.TryGetValues("X-Subject-Token", out var values) ? values.First() : _credentials.Token
            ?? throw new CliException("Identity service returned no X-Subject-Token header.");
        _token = CachedToken.FromBody(tokenId, body?["token"] as JsonObject ?? throw new CliException("Identity service returned no token body."));
        _token.Save(cacheFile);
        return _token;
    }

    /// <summary>The endpoint URL of <paramref name="service"/> (volume, compute, image, identity), without a trailing slash.</summary>
    public async Task<string> EndpointAsync(string service, CancellationToken cancellationToken)
    {
        var token = await AuthenticateAsync(cancellationToken);
        if (service == "identity")
        {
            return IdentityV3Url();
        }

        foreach (var type in s_serviceTypes[service])
        {
            var entry = token.Catalog.OfType<JsonObject>().FirstOrDefault(e => (string?)e["type"] == type);
            var endpoint = (entry?["endpoints"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(e =>
                ((string?)e["interface"] ?? "public") == _credentials.Interface
                && (_credentials.RegionName is null || (string?)e["region_id"] == _credentials.RegionName || (string?)e["region"] == _credentials.RegionName));
            if (endpoint?["url"]?.GetValue<string>() is { } url)
            {
                url = url.TrimEnd('/');
                // Glance's catalog entry is unversioned; this client speaks v2.
                return service == "image" && !url.EndsWith("/v2", StringComparison.Ordinal) ? url + "/v2" : url;
            }
        }

        throw new CliException($"No {_credentials.Interface} endpoint for service '{service}' (catalog types {string.Join(", ", s_serviceTypes[service])}) in the service catalog.");
    }

    /// <summary>Sends a JSON request to <paramref name="service"/> and returns the parsed reply (null when empty).</summary>
    public async Task<JsonNode?> RequestAsync(HttpMethod method, string service, string path, JsonNode? body = null,
        CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(method, service, path, body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken);
        var reply = await ReadJsonAsync(response, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw ErrorFrom(response, reply);
        }

        return reply;
    }

    public Task<JsonNode?> GetAsync(string service, string path, CancellationToken cancellationToken = default) =>
        RequestAsync(HttpMethod.Get, service, path, null, cancellationToken);

    public Task<JsonNode?> PostAsync(string service, string path, JsonNode body, CancellationToken cancellationToken = default) =>
        RequestAsync(HttpMethod.Post, service, path, body, cancellationToken);

    public Task<JsonNode?> DeleteAsync(string service, string path, CancellationToken cancellationToken = default) =>
        RequestAsync(HttpMethod.Delete, service, path, null, cancellationToken);

    /// <summary>Sends a request with the token and version headers; retries once with a new token on 401.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string service, string path, HttpContent? content,
        CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var endpoint = await EndpointAsync(service, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            var token = await AuthenticateAsync(cancellationToken, force: attempt > 0);
            using var request = new HttpRequestMessage(method, endpoint + path) { Content = content };
            request.Headers.Add("X-Auth-Token", token.Id);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (service == "compute")
            {
                request.Headers.Add("X-OpenStack-Nova-API-Version", ComputeMicroversion);
                request.Headers.Add("OpenStack-API-Version", "compute " + ComputeMicroversion);
            }
            else if (service == "volume" && VolumeMicroversion is not null)
            {
                request.Headers.Add("OpenStack-API-Version", "volume " + VolumeMicroversion);
            }

            var response = await SendLoggedAsync(request, redactBody: false, cancellationToken, completion);
            // A cached token can be revoked before it expires: get a fresh one once. A streamed body cannot be re-sent.
            if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && content is null or StringContent)
            {
                response.Dispose();
                continue;
            }

            return response;
        }
    }

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
        catch (System.Text.Json.JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    /// <summary>Turns any of the OpenStack error shapes (Nova/Cinder fault, Keystone error, Glance webob) into one exception.</summary>
    public static ApiException ErrorFrom(HttpResponseMessage response, JsonNode? body)
    {
        string? message = null;
        if (body is JsonObject obj)
        {
            if (obj["message"] is JsonValue direct)
            {
                message = direct.ToString();
            }
            else
            {
                foreach (var (_, value) in obj)
                {
                    if (value is JsonObject fault && fault["message"] is JsonValue inner)
                    {
                        message = inner.ToString();
                        break;
                    }
                }
            }
        }
        else if (body is JsonValue text)
        {
            message = text.ToString().Trim();
        }

        message ??= response.ReasonPhrase ?? "request failed";
        var requestId = response.Headers.TryGetValues("x-openstack-request-id", out var ids) ? ids.First()
            : response.Headers.TryGetValues("x-compute-request-id", out var computeIds) ? computeIds.First() : null;
        return new ApiException((int)response.StatusCode, message, requestId);
    }

    private string IdentityV3Url()
    {
        var url = (_credentials.AuthUrl ?? throw new CliException(
            "Missing credentials: set --os-cloud/OS_CLOUD (clouds.yaml) or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME.")).TrimEnd('/');
        if (url.EndsWith("/v2.0", StringComparison.Ordinal))
        {
            url = url[..^5];
        }

        return url.EndsWith("/v3", StringComparison.Ordinal) ? url : url + "/v3";
    }

    private JsonObject AuthBody()
    {
        JsonObject identity;
        if (_credentials.Token is { } token)
        {
            identity = new JsonObject { ["methods"] = new JsonArray("token"), ["token"] = new JsonObject { ["id"] = token } };
        }
        else
        {
            if (_credentials.Username is null && _credentials.UserId is null || _credentials.Password is null)
            {
                throw new CliException("Missing credentials: a user name (OS_USERNAME) and password (OS_PASSWORD) are needed, or --os-cloud/OS_CLOUD.");
            }

            var user = new JsonObject { ["password"] = _credentials.Password };
            if (_credentials.UserId is not null)
            {
                user["id"] = _credentials.UserId;
            }
            else
            {
                user["name"] = _credentials.Username;
                user["domain"] = DomainRef(_credentials.UserDomainId, _credentials.UserDomainName);
            }

            identity = new JsonObject { ["methods"] = new JsonArray("password"), ["password"] = new JsonObject { ["user"] = user } };
        }

        var auth = new JsonObject { ["identity"] = identity };
        if (_credentials.ProjectId is not null)
        {
            auth["scope"] = new JsonObject { ["project"] = new JsonObject { ["id"] = _credentials.ProjectId } };
        }
        else if (_credentials.ProjectName is not null)
        {
            auth["scope"] = new JsonObject
            {
                ["project"] = new JsonObject { ["name"] = _credentials.ProjectName, ["domain"] = DomainRef(_credentials.ProjectDomainId, _credentials.ProjectDomainName) },
            };
        }

        return new JsonObject { ["auth"] = auth };
    }

    private static JsonObject DomainRef(string? id, string name) => id is not null ? new JsonObject { ["id"] = id } : new JsonObject { ["name"] = name };

    /// <summary>~/.cache/ember/tokens/&lt;hash of auth url, user, project&gt;.json (XDG_CACHE_HOME honoured).</summary>
    private string TokenCacheFile(string authUrl)
    {
        var cacheHome = _context.Env("XDG_CACHE_HOME") ?? Path.Combine(_context.HomeDirectory, ".cache");
        var key = string.Join('\n', authUrl, _credentials.UserId, _credentials.Username, _credentials.UserDomainId, _credentials.UserDomainName,
            _credentials.ProjectId, _credentials.ProjectName, _credentials.ProjectDomainId, _credentials.ProjectDomainName,
            // A different password or token must not reuse a token issued for the old one.
            Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(_credentials.Password ?? _credentials.Token ?? ""))));
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32];
        return Path.Combine(cacheHome, "ember", "tokens", name + ".json");
    }
}
