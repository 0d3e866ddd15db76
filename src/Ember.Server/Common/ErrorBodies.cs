using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Ember.Server.Common;

/// <summary>Which OpenStack API a request belongs to; each renders errors its own way.</summary>
public enum ApiFamily
{
    Other,
    Identity,
    Image,
    Compute,
    Volume,
    Network,
}

/// <summary>Turns an error into the body that the OpenStack service it imitates would send.</summary>
public static class ErrorBodies
{
    public static ApiFamily FamilyOf(PathString path)
    {
        if (path.StartsWithSegments("/identity"))
        {
            return ApiFamily.Identity;
        }

        if (path.StartsWithSegments("/image"))
        {
            return ApiFamily.Image;
        }

        if (path.StartsWithSegments("/compute"))
        {
            return ApiFamily.Compute;
        }

        if (path.StartsWithSegments("/network"))
        {
            return ApiFamily.Network;
        }

        return path.StartsWithSegments("/volume") ? ApiFamily.Volume : ApiFamily.Other;
    }

    public static JsonObject Render(ApiFamily family, int status, string message, string? type = null) => family switch
    {
        ApiFamily.Identity or ApiFamily.Other => Keystone(status, message),
        ApiFamily.Image => Glance(status, message),
        ApiFamily.Network => Neutron(status, message, type),
        _ => NovaCinder(status, message),
    };

    /// <summary>Neutron: {"NeutronError":{"type","message","detail"}}; type is the exception's class name.</summary>
    private static JsonObject Neutron(int status, string message, string? type) => new()
    {
        ["NeutronError"] = new JsonObject
        {
            ["type"] = type ?? status switch
            {
                400 => "HTTPBadRequest",
                401 => "HTTPUnauthorized",
                403 => "HTTPForbidden",
                404 => "HTTPNotFound",
                405 => "HTTPMethodNotAllowed",
                409 => "HTTPConflict",
                413 => "HTTPRequestEntityTooLarge",
                415 => "HTTPUnsupportedMediaType",
                503 => "HTTPServiceUnavailable",
                _ => "HTTPInternalServerError",
            },
            ["message"] = message,
            ["detail"] = "",
        },
    };

    /// <summary>Keystone: {"error":{"code","title","message"}}.</summary>
    private static JsonObject Keystone(int status, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = status,
            ["title"] = ReasonPhrase(status),
            ["message"] = message,
        },
    };

    /// <summary>Glance (webob's JSON formatter): {"message","code":"404 Not Found","title"}.</summary>
    private static JsonObject Glance(int status, string message) => new()
    {
        ["message"] = message,
        ["code"] = $"{status} {ReasonPhrase(status)}",
        ["title"] = ReasonPhrase(status),
    };

    /// <summary>
    /// The media type of a Glance error, negotiated as webob does for the exceptions Glance raises: the best of
    /// text/plain, text/html and application/json for the Accept header, ties and no header going to text/plain.
    /// glanceclient sends no JSON Accept and reads a JSON body's values as objects, so it must get the text.
    /// </summary>
    public static string GlanceMediaType(string? accept)
    {
        string[] offers = ["text/plain", "text/html", "application/json"];
        if (string.IsNullOrWhiteSpace(accept) || !MediaTypeHeaderValue.TryParseList([accept], out var ranges))
        {
            return offers[0];
        }

        var best = offers[0];
        var bestQuality = 0.0;
        foreach (var offer in offers)
        {
            // The quality of the most specific range that matches the offer.
            var match = ranges.Select(r => (Range: r, Specificity: Specificity(r.MediaType.Value ?? "", offer)))
                .Where(m => m.Specificity >= 0)
                .OrderByDescending(m => m.Specificity)
                .Select(m => m.Range)
                .FirstOrDefault();
            var quality = match is null ? 0 : match.Quality ?? 1;
            if (quality > bestQuality)
            {
                (best, bestQuality) = (offer, quality);
            }
        }

        return best;
    }

    /// <summary>How closely an Accept range names an offer: 2 exactly, 1 by "type/*", 0 by "*/*", -1 not at all.</summary>
    private static int Specificity(string range, string offer) =>
        string.Equals(range, offer, StringComparison.OrdinalIgnoreCase) ? 2
        : range.EndsWith("/*", StringComparison.Ordinal) && range != "*/*" && offer.StartsWith(range[..^1], StringComparison.OrdinalIgnoreCase) ? 1
        : range == "*/*" ? 0
        : -1;

    /// <summary>Glance's error as webob's text templates render it for <paramref name="mediaType"/> (text/plain or text/html).</summary>
    public static string GlanceText(string mediaType, int status, string message)
    {
        var line = $"{status} {ReasonPhrase(status)}";
        return mediaType == "text/html"
            ? $"<html>\n <head>\n  <title>{line}</title>\n </head>\n <body>\n  <h1>{line}</h1>\n  {WebUtility.HtmlEncode(message)}<br /><br />\n\n\n\n </body>\n</html>"
            : $"{line}\n\n{message}\n\n   ";
    }

    /// <summary>Nova and Cinder faults: {"itemNotFound":{"code":404,"message":...}}.</summary>
    private static JsonObject NovaCinder(int status, string message) => new()
    {
        [FaultName(status)] = new JsonObject
        {
            ["code"] = status,
            ["message"] = message,
        },
    };

    private static string FaultName(int status) => status switch
    {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 or 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    };

    private static string ReasonPhrase(int status) =>
        ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";
}
