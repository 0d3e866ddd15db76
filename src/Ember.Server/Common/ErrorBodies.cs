using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Ember.Server.Common;

/// <summary>Which OpenStack API a request belongs to; each renders errors its own way.</summary>
public enum ApiFamily
{
    Other,
    Identity,
    Image,
    Compute,
    Volume,
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

        return path.StartsWithSegments("/volume") ? ApiFamily.Volume : ApiFamily.Other;
    }

    public static JsonObject Render(ApiFamily family, int status, string message) => family switch
    {
        ApiFamily.Identity or ApiFamily.Other => Keystone(status, message),
        ApiFamily.Image => Glance(status, message),
        _ => NovaCinder(status, message),
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
