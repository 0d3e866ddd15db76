using System.Net;
using Ember.Server.Data;
using Ember.Server.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Common;

/// <summary>The request pipeline every API shares: request ids, error bodies, token validation.</summary>
public static partial class ApiPipeline
{
    private const string ContextKey = "ember.context";
    private const string TokenKey = "ember.token";

    public static void UseEmberPipeline(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Ember.Api");
        app.Use(async (http, next) =>
        {
            var requestId = "req-" + Ids.NewUuid();
            http.Response.Headers["x-openstack-request-id"] = requestId;
            if (ErrorBodies.FamilyOf(http.Request.Path) == ApiFamily.Compute)
            {
                http.Response.Headers["X-Compute-Request-Id"] = requestId;
            }

            using var scope = logger.BeginScope("RequestId:{RequestId}", requestId);
            try
            {
                LimitBody(http);
                await AuthenticateAsync(http);
                if (IsEmptyIdPath(http))
                {
                    http.RequireContext();
                    throw ApiException.NotFound("The resource could not be found.");
                }

                await next(http);
            }
            catch (ApiException ex) when (!http.Response.HasStarted)
            {
                if (ex.RetryAfter is { } retryAfter)
                {
                    http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                await WriteErrorAsync(http, ex.StatusCode, ex.Message, ex.Type);
            }
            catch (BadHttpRequestException ex) when (!http.Response.HasStarted)
            {
                await WriteErrorAsync(http, ex.StatusCode, ex.Message);
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                // The client went away; nothing to answer.
            }
            catch (Exception ex) when (!http.Response.HasStarted && SqlDialect.IsUnstorableText(ex))
            {
                // Found by the fuzzer: an id or name with a NUL in it reaches a PostgreSQL query (SQLite would just not match it).
                await WriteErrorAsync(http, (int)ErrorKind.BadRequest, "Invalid input: a text value contains a NUL character.");
            }
            catch (Exception ex) when (!http.Response.HasStarted && Database.IsUnavailable(ex))
            {
                // The database is down or restarting: the client may retry, the pool starts over with fresh connections.
                http.RequestServices.GetRequiredService<Database>().ClearPool();
                LogDatabaseUnavailable(logger, http.Request.Method, http.Request.Path, ex.Message);
                http.Response.Headers.RetryAfter = "5";
                await WriteErrorAsync(http, (int)ErrorKind.ServiceUnavailable, "The service is temporarily unavailable: its database cannot be reached. Try again later.");
            }
            catch (Exception ex) when (!http.Response.HasStarted)
            {
                LogUnhandled(logger, http.Request.Method, http.Request.Path, ex);
                await WriteErrorAsync(http, 500, "The server has either erred or is incapable of performing the requested operation.");
            }
        });

        app.UseWebSockets();

        // Route matching runs inside the handler above, so its errors get API error bodies too.
        app.UseRouting();

        // Unknown routes and wrong methods get each API's own 404/405 body.
        app.UseStatusCodePages(async status =>
        {
            var http = status.HttpContext;
            if (http.Response.ContentLength is null && string.IsNullOrEmpty(http.Response.ContentType)
                && http.Response.StatusCode is 404 or 405)
            {
                var message = http.Response.StatusCode == 404
                    ? "The resource could not be found."
                    : "The method is not allowed for the requested URL.";
                await WriteErrorAsync(http, http.Response.StatusCode, message);
            }
        });
    }

    /// <summary>The caller, or a 401 when the request carries no valid token.</summary>
    public static RequestContext RequireContext(this HttpContext http) =>
        http.Items[ContextKey] as RequestContext ?? throw ApiException.Unauthorized();

    /// <summary>The caller, who must hold a project-scoped token (every service but identity).</summary>
    public static RequestContext RequireProjectContext(this HttpContext http)
    {
        var context = http.RequireContext();
        context.RequireProject();
        return context;
    }

    public static ValidToken? CurrentToken(this HttpContext http) => http.Items[TokenKey] as ValidToken;

    /// <summary>
    /// The base URL for links and the catalog: the configured public URL, else the address of the socket the request
    /// came in on. Never the Host header, which the client chooses (a forged one would poison links and the catalog).
    /// </summary>
    public static string BaseUrl(this HttpContext http)
    {
        // A list view asks for it once per link of every item: worked out once per request.
        if (http.Items.TryGetValue(s_baseUrlKey, out var known))
        {
            return (string)known!;
        }

        var url = WorkOutBaseUrl(http);
        http.Items[s_baseUrlKey] = url;
        return url;
    }

    private static readonly object s_baseUrlKey = new();

    private static string WorkOutBaseUrl(HttpContext http)
    {
        var configured = http.RequestServices.GetRequiredService<IOptions<EmberOptions>>().Value.PublicUrl;
        if (!string.IsNullOrEmpty(configured))
        {
            return configured.TrimEnd('/');
        }

        var local = http.Connection.LocalIpAddress;
        if (local is null)
        {
            return "http://localhost"; // an in-memory test server has no socket
        }

        if (local.IsIPv4MappedToIPv6)
        {
            local = local.MapToIPv4();
        }

        return $"{http.Request.Scheme}://{new IPEndPoint(local, http.Connection.LocalPort)}";
    }

    /// <summary>
    /// Caps the body before anyone reads it: image data may be as large as an image may be, every other body is
    /// JSON and gets the JSON cap. Kestrel refuses a body past the cap with a 413 as it streams in.
    /// </summary>
    private static void LimitBody(HttpContext http)
    {
        var feature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is null || feature.IsReadOnly)
        {
            return;
        }

        feature.MaxRequestBodySize = IsImageData(http.Request)
            ? http.RequestServices.GetRequiredService<IOptions<Image.ImageOptions>>().Value.MaxImageBytes
            : http.RequestServices.GetRequiredService<IOptions<EmberOptions>>().Value.MaxJsonBodyBytes;
    }

    /// <summary>
    /// A Cinder or Glance resource path with an empty id (GET /volume/v3/volumes/, DELETE /image/v2/images/): both
    /// services answer 404, where routing here would read the trailing slash as the collection (a list, or a 405).
    /// The version documents (/volume/, /volume/v3/, /volume/v3/{project_id}/, /image/v2/) keep their slash.
    /// </summary>
    private static bool IsEmptyIdPath(HttpContext http)
    {
        var path = http.Request.Path.Value;
        if (path is null || !path.EndsWith('/'))
        {
            return false;
        }

        if (path.StartsWith("/image/v2/", StringComparison.Ordinal))
        {
            return path.Length > "/image/v2/".Length;
        }

        if (!path.StartsWith("/volume/v3/", StringComparison.Ordinal) || path.Length == "/volume/v3/".Length)
        {
            return false;
        }

        var rest = path["/volume/v3/".Length..^1];
        return rest.Contains('/') || !(rest == http.CurrentToken()?.Context.ProjectId || IsHexId(rest));
    }

    private static bool IsHexId(string text) => text.Length == 32 && text.All(char.IsAsciiHexDigitLower);

    /// <summary>
    /// PUT /image/v2/images/{id}/file and .../stage, the API routes whose body is not JSON, and the dashboard's upload
    /// that streams on to the first (PUT /dashboard/images/{id}/file).
    /// </summary>
    private static bool IsImageData(HttpRequest request) =>
        HttpMethods.IsPut(request.Method)
        && (request.Path.StartsWithSegments("/image/v2/images", StringComparison.Ordinal, out var rest)
            || request.Path.StartsWithSegments("/dashboard/images", StringComparison.Ordinal, out rest))
        && rest.Value is { } tail && tail.Count(c => c == '/') == 2
        && (tail.EndsWith("/file", StringComparison.Ordinal) || tail.EndsWith("/stage", StringComparison.Ordinal));

    public static async Task WriteErrorAsync(HttpContext http, int status, string message, string? type = null)
    {
        var family = ErrorBodies.FamilyOf(http.Request.Path);
        http.Response.StatusCode = status;
        if (status == 401)
        {
            http.Response.Headers.WWWAuthenticate = $"Keystone uri=\"{http.BaseUrl()}/identity\"";
        }

        if (http.Request.Method == HttpMethods.Head)
        {
            return;
        }

        if (family == ApiFamily.Image && ErrorBodies.GlanceMediaType(http.Request.Headers.Accept.ToString()) is not "application/json" and var text)
        {
            http.Response.ContentType = text + "; charset=UTF-8";
            await http.Response.WriteAsync(ErrorBodies.GlanceText(text, status, message));
            return;
        }

        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(Json.Serialize(ErrorBodies.Render(family, status, message, type)));
    }

    /// <summary>A present token must be valid everywhere (401 otherwise); an absent one is checked by each endpoint.</summary>
    private static async Task AuthenticateAsync(HttpContext http)
    {
        var token = http.Request.Headers["X-Auth-Token"].ToString();
        if (string.IsNullOrEmpty(token))
        {
            return;
        }

        var tokens = http.RequestServices.GetRequiredService<TokenService>();
        var valid = await tokens.ValidateAsync(token) ?? throw ApiException.Unauthorized();
        http.Items[ContextKey] = valid.Context;
        http.Items[TokenKey] = valid;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database unavailable in {Method} {Path}: {Reason}")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string method, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, string method, string path, Exception exception);
}
