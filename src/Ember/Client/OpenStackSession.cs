using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ember.OpenStack;

namespace Ember.Client;

/// <summary>
/// The CLI's conversation with a cloud over <see cref="OpenStackClient"/>: the service names the commands use (volume,
/// compute, image, identity) and their microversions, the token cached between runs, --debug, and every failure
/// turned into a <see cref="CliException"/> (an error reply into an <see cref="ApiException"/>).
/// </summary>
public sealed class OpenStackSession : IDisposable
{
    private readonly CloudCredentials _credentials;
    private readonly HttpClient _http;
    private readonly OpenStackClient _client;

    public OpenStackSession(CliContext context, CloudCredentials credentials, bool debug)
    {
        _credentials = credentials;
        var debugOut = debug ? context.Err : null;
        var handler = new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All };
        if (credentials.Insecure)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        _http = new HttpClient(debugOut is null ? handler : new DebugHandler(handler, debugOut)) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("ember-cli/1.0");
        _client = new OpenStackClient(_http, credentials)
        {
            // Each run is short: a token good for another minute is worth reusing.
            RenewBefore = TimeSpan.FromSeconds(60),
            TokenStore = credentials.IdentityUrl is { } identity ? new TokenCache(TokenCacheFile(context, identity), debugOut) : null,
        };
    }

    /// <summary>Compute microversion sent on every compute request; 2.60 allows multi-attach volumes.</summary>
    public string ComputeMicroversion { get; set; } = "2.60";

    /// <summary>Block Storage microversion, or null for the base version 3.0.</summary>
    public string? VolumeMicroversion { get; set; }

    public CloudCredentials Credentials => _credentials;

    public void Dispose()
    {
        _client.Dispose();
        _http.Dispose();
    }

    /// <summary>The token (from the cache when still valid for a minute), with catalog and ids.</summary>
    public Task<KeystoneToken> AuthenticateAsync(CancellationToken cancellationToken, bool force = false)
    {
        var identity = _credentials.IdentityUrl ?? throw new CliException(
            "Missing credentials: set --os-cloud/OS_CLOUD (clouds.yaml) or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME.");
        if (!_credentials.CanLogIn)
        {
            throw new CliException("Missing credentials: a user name (OS_USERNAME) and password (OS_PASSWORD) are needed, or --os-cloud/OS_CLOUD.");
        }

        return CallAsync(identity + "/auth/tokens", () => _client.AuthenticateAsync(force, cancellationToken));
    }

    /// <summary>The endpoint URL of <paramref name="service"/> (volume, compute, image, identity), without a trailing slash.</summary>
    public async Task<string> EndpointAsync(string service, CancellationToken cancellationToken)
    {
        var token = await AuthenticateAsync(cancellationToken);
        if (service == "identity")
        {
            return _credentials.IdentityUrl!;
        }

        var url = token.FindEndpoint(service, _credentials.Interface, _credentials.RegionName) ?? throw new CliException(
            $"No {_credentials.Interface} endpoint for service '{service}' (catalog types {string.Join(", ", ServiceTypes.Aliases(service))}) in the service catalog.");
        // Glance's catalog entry is unversioned; this client speaks v2.
        return service == "image" && !url.EndsWith("/v2", StringComparison.Ordinal) ? url + "/v2" : url;
    }

    /// <summary>Sends a JSON request to <paramref name="service"/> and returns the parsed reply (null when empty).</summary>
    public async Task<JsonNode?> RequestAsync(HttpMethod method, string service, string path, JsonNode? body = null,
        CancellationToken cancellationToken = default)
    {
        var url = await EndpointAsync(service, cancellationToken) + path;
        return await CallAsync(url, () => _client.RequestJsonAsync(method, url, body, Microversion(service), cancellationToken));
    }

    public Task<JsonNode?> GetAsync(string service, string path, CancellationToken cancellationToken = default) =>
        RequestAsync(HttpMethod.Get, service, path, null, cancellationToken);

    public Task<JsonNode?> PostAsync(string service, string path, JsonNode body, CancellationToken cancellationToken = default) =>
        RequestAsync(HttpMethod.Post, service, path, body, cancellationToken);

    public Task<JsonNode?> DeleteAsync(string service, string path, CancellationToken cancellationToken = default) =>
        RequestAsync(HttpMethod.Delete, service, path, null, cancellationToken);

    /// <summary>Sends a request with the token and version headers; without a body it is retried once with a new token on 401.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string service, string path, HttpContent? content,
        CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var url = await EndpointAsync(service, cancellationToken) + path;
        return await CallAsync(url, () => content is null
            ? _client.SendAsync(method, url, null, Microversion(service), cancellationToken, completion)
            : _client.SendContentAsync(method, url, content, Microversion(service), cancellationToken, completion));
    }

    public static Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        OpenStackClient.ReadJsonAsync(response, cancellationToken);

    /// <summary>Turns any of the OpenStack error shapes (Nova/Cinder fault, Keystone error, Glance) into one exception.</summary>
    public static ApiException ErrorFrom(HttpResponseMessage response, JsonNode? body) => ApiError(OpenStackException.From(response, body));

    private static ApiException ApiError(OpenStackException e) => new(e.StatusCode, e.ApiMessage, e.RequestId);

    private string? Microversion(string service) => service switch
    {
        "compute" => "compute " + ComputeMicroversion,
        "volume" when VolumeMicroversion is not null => "volume " + VolumeMicroversion,
        _ => null,
    };

    /// <summary>Runs a call of the client, saying what failed the way the CLI reports it.</summary>
    private static async Task<T> CallAsync<T>(string url, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (OpenStackException e)
        {
            throw ApiError(e);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"Unable to reach {url}: {e.Message}");
        }
        catch (InvalidDataException e)
        {
            throw new CliException(e.Message);
        }
    }

    /// <summary>~/.cache/ember/tokens/&lt;hash of auth url, user, project&gt;.json (XDG_CACHE_HOME honoured).</summary>
    private string TokenCacheFile(CliContext context, string authUrl)
    {
        var cacheHome = context.Env("XDG_CACHE_HOME") ?? Path.Combine(context.HomeDirectory, ".cache");
        var key = string.Join('\n', authUrl, _credentials.UserId, _credentials.Username, _credentials.UserDomainId, _credentials.UserDomainName,
            _credentials.ProjectId, _credentials.ProjectName, _credentials.ProjectDomainId, _credentials.ProjectDomainName,
            // A different password or token must not reuse a token issued for the old one.
            Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(_credentials.Password ?? _credentials.Token ?? ""))));
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32];
        return Path.Combine(cacheHome, "ember", "tokens", name + ".json");
    }
}
