using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ember.Server.Common;

/// <summary>Reading OpenStack request bodies with clear 400s, and writing JSON replies.</summary>
public static class Json
{
    private static readonly JsonSerializerOptions s_compact = new() { WriteIndented = false };

    /// <summary>Parses the body as a JSON object; a missing or malformed body is a 400, a too large one a 413.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken) =>
        await ReadNodeAsync(request, cancellationToken) as JsonObject
            ?? throw ApiException.BadRequest("The request body must be a JSON object.");

    /// <summary>
    /// Parses the body as any JSON value, reading at most <see cref="EmberOptions.MaxJsonBodyBytes"/> (413 beyond)
    /// and nesting at most <see cref="EmberOptions.MaxJsonDepth"/> deep (400 beyond).
    /// </summary>
    public static async Task<JsonNode?> ReadNodeAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        EnsureJsonContentType(request);
        var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<EmberOptions>>().Value;
        if (request.ContentLength > options.MaxJsonBodyBytes)
        {
            throw TooLarge(options.MaxJsonBodyBytes);
        }

        var body = await ReadBoundedAsync(request.Body, options.MaxJsonBodyBytes, cancellationToken);
        try
        {
            return JsonNode.Parse(body.Span, documentOptions: new JsonDocumentOptions { MaxDepth = options.MaxJsonDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"Malformed request body: {ex.Message}");
        }
    }

    /// <summary>
    /// Refuses a body that declares a media type other than JSON, as the services do: Keystone with a 400, Nova,
    /// Cinder and Glance with a 415. No Content-Type, or text/plain, is read as JSON (Nova's rule; curl sends none).
    /// </summary>
    private static void EnsureJsonContentType(HttpRequest request)
    {
        var mediaType = request.ContentType?.Split(';', 2)[0].Trim() ?? "";
        if (mediaType.Length == 0
            || mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase)
                && (mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
                    || mediaType.EndsWith("-json-patch", StringComparison.OrdinalIgnoreCase))))
        {
            return;
        }

        throw ErrorBodies.FamilyOf(request.Path) == ApiFamily.Identity
            ? ApiException.BadRequest("Expecting to find application/json in Content-Type header - the server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
            : new ApiException(ErrorKind.UnsupportedMediaType, "Unsupported Content-Type");
    }

    /// <summary>The whole stream, refusing (413) as soon as it grows past <paramref name="limit"/> bytes.</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBoundedAsync(Stream stream, long limit, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw TooLarge(limit);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    private static ApiException TooLarge(long limit) =>
        new(ErrorKind.RequestTooLarge, $"Request body is larger than the limit of {limit} bytes.");

    /// <summary>The object under <paramref name="key"/>, e.g. "volume" in {"volume":{...}}.</summary>
    public static JsonObject RequiredObject(JsonObject body, string key) =>
        body[key] as JsonObject ?? throw ApiException.BadRequest($"Missing or invalid '{key}' in request body.");

    public static string? OptionalString(JsonObject body, string key)
    {
        var node = body[key];
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue value && value.TryGetValue(out string? text))
        {
            return text;
        }

        throw ApiException.BadRequest($"Invalid input for field/attribute {key}: expected a string.");
    }

    /// <summary>A string field of a partial update: not given, or given as a string or null.</summary>
    public static Optional<string?> OptionalField(JsonObject body, string key) =>
        body.ContainsKey(key) ? new(OptionalString(body, key)) : default;

    public static string RequiredString(JsonObject body, string key) =>
        OptionalString(body, key) ?? throw ApiException.BadRequest($"Missing required field '{key}'.");

    /// <summary>An integer that clients may send as a number or a numeric string.</summary>
    public static long? OptionalInteger(JsonObject body, string key)
    {
        var node = body[key];
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue value)
        {
            if (value.TryGetValue(out long number))
            {
                return number;
            }

            if (value.TryGetValue(out double real) && real == Math.Floor(real) && Math.Abs(real) < long.MaxValue)
            {
                return (long)real;
            }

            if (value.TryGetValue(out string? text) && long.TryParse(text, out number))
            {
                return number;
            }
        }

        throw ApiException.BadRequest($"Invalid input for field/attribute {key}: expected an integer.");
    }

    /// <summary>A boolean that clients may send as true/false or as strings like "True", "1", "0".</summary>
    public static bool? OptionalBoolean(JsonObject body, string key)
    {
        var node = body[key];
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue value)
        {
            if (value.TryGetValue(out bool flag))
            {
                return flag;
            }

            if (value.TryGetValue(out long number) && number is 0 or 1)
            {
                return number == 1;
            }

            if (value.TryGetValue(out string? text) && ParseBoolean(text) is { } parsed)
            {
                return parsed;
            }
        }

        throw ApiException.BadRequest($"Invalid input for field/attribute {key}: expected a boolean.");
    }

    public static bool? ParseBoolean(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" or "t" or "y" => true,
        "false" or "0" or "no" or "off" or "f" or "n" => false,
        _ => null,
    };

    /// <summary>A string-to-string map such as "metadata"; values must be strings.</summary>
    public static Dictionary<string, string>? OptionalStringMap(JsonObject body, string key)
    {
        var node = body[key];
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject map)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute {key}: expected an object.");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, item) in map)
        {
            if (item is JsonValue v && v.TryGetValue(out string? text))
            {
                result[name] = text;
            }
            else
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute {key}: value of '{name}' must be a string.");
            }
        }

        return result;
    }

    public static JsonObject ToJson(IReadOnlyDictionary<string, string> map)
    {
        var result = new JsonObject();
        foreach (var (k, v) in map)
        {
            result[k] = v;
        }

        return result;
    }

    /// <summary>The body written as UTF-8 straight from the tree (not through a UTF-16 string and back).</summary>
    public static IResult Reply(JsonNode body, int status = StatusCodes.Status200OK) =>
        Results.Text(JsonSerializer.SerializeToUtf8Bytes(body, s_compact), "application/json; charset=utf-8", status);

    public static string Serialize(JsonNode body) => body.ToJsonString(s_compact);

    /// <summary>
    /// A body written straight into the response's pipe, without a tree or a whole-body buffer (the large list pages).
    /// <paramref name="write"/> runs once the data is read, so nothing it writes can fail half way.
    /// </summary>
    public static IResult Reply(Action<Utf8JsonWriter> write, int status = StatusCodes.Status200OK) => new WrittenReply(write, status);

    private sealed class WrittenReply(Action<Utf8JsonWriter> write, int status) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = "application/json; charset=utf-8";
            using (var writer = new Utf8JsonWriter(response.BodyWriter))
            {
                write(writer);
            }

            await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
        }
    }
}
