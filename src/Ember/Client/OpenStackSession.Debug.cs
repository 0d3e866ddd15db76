using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ember.Client;

/// <summary>--debug: each request and reply on stderr, in keystoneauth's REQ/RESP style, secrets hidden.</summary>
public sealed partial class OpenStackSession
{
    private async Task<HttpResponseMessage> SendLoggedAsync(HttpRequestMessage request, bool redactBody, CancellationToken cancellationToken,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        if (_debug is not null)
        {
            var line = $"REQ: curl -g -i -X {request.Method} {request.RequestUri}";
            foreach (var (name, values) in request.Headers)
            {
                var value = name.Equals("X-Auth-Token", StringComparison.OrdinalIgnoreCase) ? "{SHA256}" + Hash(string.Join(",", values)) : string.Join(",", values);
                line += $" -H \"{name}: {value}\"";
            }

            if (request.Content is StringContent text)
            {
                var body = await text.ReadAsStringAsync(cancellationToken);
                line += " -d '" + (redactBody ? PasswordPattern().Replace(body, "\"password\":\"***\"") : body) + "'";
            }
            else if (request.Content is not null)
            {
                line += " -d <binary data>";
            }

            _debug.WriteLine(line);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"Unable to reach {request.RequestUri}: {e.Message}");
        }

        if (_debug is not null)
        {
            var headers = response.Headers.Concat(response.Content.Headers)
                .Select(h => $"{h.Key}: {(h.Key.Equals("X-Subject-Token", StringComparison.OrdinalIgnoreCase) ? "{SHA256}" + Hash(string.Join(",", h.Value)) : string.Join(",", h.Value))}");
            _debug.WriteLine($"RESP: [{(int)response.StatusCode}] {string.Join(" ", headers)}");
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (completion == HttpCompletionOption.ResponseContentRead && mediaType is "application/json" or null)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                _debug.WriteLine("RESP BODY: " + (body.Length > 0 && body[0] == '{' && body.Contains("\"catalog\"", StringComparison.Ordinal) ? "<token body with catalog>" : body));
            }
        }

        return response;
    }

    private void Debug(string message) => _debug?.WriteLine(message);

    private static string Hash(string value) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value)))[..16];

    [GeneratedRegex("\"password\":\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex PasswordPattern();
}

/// <summary>A Keystone token with what the client needs from its body, stored 0600 between runs.</summary>
public sealed record CachedToken(string Id, DateTimeOffset ExpiresAt, JsonArray Catalog, string? UserId, string? ProjectId, JsonObject Body)
{
    public static CachedToken FromBody(string id, JsonObject token) => new(
        id,
        DateTimeOffset.Parse((string?)token["expires_at"] ?? DateTimeOffset.UtcNow.AddMinutes(5).ToString("O"), System.Globalization.CultureInfo.InvariantCulture),
        token["catalog"] as JsonArray ?? [],
        (string?)token["user"]?["id"],
        (string?)token["project"]?["id"],
        token);

    public static CachedToken? Load(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            var node = JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
            return node?["body"] is JsonObject body && (string?)node["id"] is { } id ? FromBody(id, (JsonObject)body.DeepClone()) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException)
        {
            return null; // a damaged cache only costs one authentication
        }
    }

    public void Save(string path)
    {
        try
        {
            var dir = Path.GetDirectoryName(path)!;
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var temp = path + "." + Environment.ProcessId + ".tmp";
            using (var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                using var writer = new StreamWriter(stream);
                writer.Write(new JsonObject { ["id"] = Id, ["body"] = Body.DeepClone() }.ToJsonString());
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Caching is an optimisation: a read-only home still works, just slower.
        }
    }
}
