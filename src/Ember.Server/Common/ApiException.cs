namespace Ember.Server.Common;

/// <summary>What went wrong, independent of which API renders it.</summary>
public enum ErrorKind
{
    BadRequest = 400,
    Unauthorized = 401,
    Forbidden = 403,
    NotFound = 404,
    MethodNotAllowed = 405,
    NotAcceptable = 406,
    Conflict = 409,
    RequestTooLarge = 413,
    UnsupportedMediaType = 415,
    OverLimit = 429,
    Internal = 500,
    NotImplemented = 501,
    ServiceUnavailable = 503,
}

/// <summary>A domain error; one place per API turns it into that API's error body.</summary>
public sealed class ApiException(ErrorKind kind, string message) : Exception(message)
{
    public ErrorKind Kind { get; } = kind;

    public int StatusCode => (int)Kind;

    /// <summary>The error's class name where the API's body names one (Neutron's "type"); null: the status's generic one.</summary>
    public string? Type { get; init; }

    /// <summary>When the client may try again (a 429 or 503): sent as Retry-After in whole seconds.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static ApiException BadRequest(string message) => new(ErrorKind.BadRequest, message);

    public static ApiException NotFound(string message) => new(ErrorKind.NotFound, message);

    public static ApiException Conflict(string message) => new(ErrorKind.Conflict, message);

    public static ApiException Forbidden(string message) => new(ErrorKind.Forbidden, message);

    public static ApiException Unauthorized(string message = "The request you have made requires authentication.") =>
        new(ErrorKind.Unauthorized, message);
}
