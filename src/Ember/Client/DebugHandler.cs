using System.Text.RegularExpressions;

namespace Ember.Client;

/// <summary>--debug: each request and reply on stderr, in keystoneauth's REQ/RESP style, secrets hidden.</summary>
internal sealed partial class DebugHandler(HttpMessageHandler inner, TextWriter debug) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
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
            body = PasswordPattern().Replace(body, "\"password\":\"***\"");
            line += " -d '" + TokenIdPattern().Replace(body, "\"token\":{\"id\":\"***\"") + "'";
        }
        else if (request.Content is not null)
        {
            line += " -d <binary data>";
        }

        debug.WriteLine(line);
        var response = await base.SendAsync(request, cancellationToken);
        var headers = response.Headers.Concat(response.Content.Headers)
            .Select(h => $"{h.Key}: {(h.Key.Equals("X-Subject-Token", StringComparison.OrdinalIgnoreCase) ? "{SHA256}" + Hash(string.Join(",", h.Value)) : string.Join(",", h.Value))}");
        debug.WriteLine($"RESP: [{(int)response.StatusCode}] {string.Join(" ", headers)}");
        // JSON only: image data is streamed to its file and never read here.
        if (response.Content.Headers.ContentType?.MediaType is "application/json" or null)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            debug.WriteLine("RESP BODY: " + (body.Length > 0 && body[0] == '{' && body.Contains("\"catalog\"", StringComparison.Ordinal) ? "<token body with catalog>" : body));
        }

        return response;
    }

    private static string Hash(string value) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value)))[..16];

    [GeneratedRegex("\"password\":\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex PasswordPattern();

    /// <summary>The login body of token authentication (OS_TOKEN) carries the token.</summary>
    [GeneratedRegex("\"token\":\\{\"id\":\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex TokenIdPattern();
}
