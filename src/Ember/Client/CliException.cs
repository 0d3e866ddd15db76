namespace Ember.Client;

/// <summary>A failure to report to the user as one line and a non-zero exit code.</summary>
public class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>An error reply from an OpenStack API: its message, HTTP code and request id.</summary>
public sealed class ApiException(int statusCode, string apiMessage, string? requestId)
    : CliException($"{apiMessage} (HTTP {statusCode}){(requestId is null ? "" : $" (Request-ID: {requestId})")}")
{
    public int StatusCode { get; } = statusCode;

    public string ApiMessage { get; } = apiMessage;

    public string? RequestId { get; } = requestId;
}
