using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Dashboard;

/// <summary>The dashboard's static files, embedded in the assembly at build time (dashboard/NAME resources) and kept in memory.</summary>
public static class DashboardAssets
{
    private const string ResourcePrefix = "dashboard/";

    private static readonly Lazy<FrozenDictionary<string, byte[]>> s_files = new(Load);

    public static IResult Serve(string name)
    {
        if (!s_files.Value.TryGetValue(name, out var bytes))
        {
            return Results.NotFound();
        }

        var type = Path.GetExtension(name) switch
        {
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => "application/octet-stream",
        };
        return new AssetResult(bytes, type);
    }

    /// <summary>Names of the embedded files (for the docs' page weight and the tests).</summary>
    public static IReadOnlyDictionary<string, byte[]> Files => s_files.Value;

    private static FrozenDictionary<string, byte[]> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[resource[ResourcePrefix.Length..]] = copy.ToArray();
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The bytes with their type, nosniff, and an hour of caching (the files change only with the binary).</summary>
    private sealed class AssetResult(byte[] bytes, string contentType) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.ContentType = contentType;
            http.Response.ContentLength = bytes.Length;
            http.Response.Headers.XContentTypeOptions = "nosniff";
            http.Response.Headers.CacheControl = "private, max-age=3600";
            return http.Response.Body.WriteAsync(bytes, http.RequestAborted).AsTask();
        }
    }
}
