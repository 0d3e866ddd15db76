using System.Text.Json.Nodes;

namespace Ember.OpenStack;

/// <summary>An error reply of an OpenStack API: its HTTP status, the message its body gives, and the request id.</summary>
public sealed class OpenStackException(int statusCode, string apiMessage, string? requestId)
    : Exception($"{apiMessage} (HTTP {statusCode}){(requestId is null ? "" : $" (Request-ID: {requestId})")}")
{
    public int StatusCode { get; } = statusCode;

    /// <summary>The message as the service wrote it, without status or request id.</summary>
    public string ApiMessage { get; } = apiMessage;

    public string? RequestId { get; } = requestId;

    /// <summary>Reads the body of an error reply (the caller still disposes the response).</summary>
    public static async Task<OpenStackException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        From(response, await OpenStackClient.ReadJsonAsync(response, cancellationToken));

    /// <summary>
    /// Any of the services' error shapes: Keystone's {"error": {"code", "message"}}, Nova's and Cinder's
    /// {"itemNotFound": {"code", "message"}} (any fault name), Glance's {"message", "code", "title"} or its plain text.
    /// </summary>
    public static OpenStackException From(HttpResponseMessage response, JsonNode? body)
    {
        var message = body switch
        {
            JsonObject glance when glance["message"] is JsonValue direct => direct.ToString(),
            JsonObject fault => fault.Select(kv => kv.Value).OfType<JsonObject>().Select(inner => inner["message"]).OfType<JsonValue>().FirstOrDefault()?.ToString(),
            JsonValue text => text.ToString().Trim(),
            _ => null,
        };
        var requestId = response.Headers.TryGetValues("x-openstack-request-id", out var ids) ? ids.First()
            : response.Headers.TryGetValues("x-compute-request-id", out var computeIds) ? computeIds.First() : null;
        return new OpenStackException((int)response.StatusCode, message ?? response.ReasonPhrase ?? "request failed", requestId);
    }
}
