using System.Text.Json.Nodes;
using Ember.Compute.Qemu;
using Ember.OpenStack;

namespace Ember.Server.Compute;

/// <summary>
/// A compute host on another machine: images come over the Image API into this host's <see cref="ImageCache"/>,
/// checked against Glance's sha512 while they stream.
/// </summary>
public sealed class ImageApiSource(OpenStackClient controller, ImageCache cache) : IHostImageSource
{
    public async Task<ImageBase> FetchAsync(ImageSpec image, CancellationToken cancellationToken)
    {
        var meta = await MetadataAsync(image, cancellationToken);
        if (meta["status"]?.GetValue<string>() != "active")
        {
            throw new InvalidOperationException($"Image {image.Id} is {meta["status"]}, not active.");
        }

        var hash = meta["os_hash_algo"]?.GetValue<string>() == "sha512" ? meta["os_hash_value"]?.GetValue<string>() : null;
        var size = meta["size"]?.GetValue<long>() ?? throw new InvalidOperationException($"Image {image.Id} has no size.");
        var diskFormat = meta["disk_format"]?.GetValue<string>() ?? "raw";
        return await cache.FetchAsync(image.Id, hash, size, diskFormat, ct => DownloadAsync(image.Id, ct), cancellationToken);
    }

    /// <summary>Glance v2 shows additional properties as top-level string members beside its own (<see cref="Image.ImageJson"/>).</summary>
    public async Task<IReadOnlyDictionary<string, string>> PropertiesAsync(ImageSpec image, CancellationToken cancellationToken)
    {
        var meta = await MetadataAsync(image, cancellationToken);
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in meta)
        {
            if (value is JsonValue v && v.TryGetValue<string>(out var text))
            {
                properties[key] = text;
            }
        }

        return properties;
    }

    private async Task<JsonObject> MetadataAsync(ImageSpec image, CancellationToken cancellationToken) =>
        await controller.RequestJsonAsync(HttpMethod.Get, await ImageUrlAsync(image.Id, "", cancellationToken), null, null, cancellationToken) as JsonObject
            ?? throw new InvalidDataException($"Image {image.Id}: the Image API's reply is not a JSON object.");

    public async Task UploadAsync(string imageId, string projectId, string file, CancellationToken cancellationToken)
    {
        try
        {
            await using var data = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
            using var content = new StreamContent(data);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
            content.Headers.ContentLength = data.Length;
            using var response = await controller.SendContentAsync(HttpMethod.Put, await ImageUrlAsync(imageId, "/file", cancellationToken), content, null,
                cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw await OpenStackException.ReadAsync(response, cancellationToken);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    public async Task DiscardAsync(string imageId, CancellationToken cancellationToken)
    {
        using var response = await controller.SendAsync(HttpMethod.Delete, await ImageUrlAsync(imageId, "", cancellationToken), null, null, cancellationToken);
        if (!response.IsSuccessStatusCode && response.StatusCode != System.Net.HttpStatusCode.NotFound)
        {
            throw await OpenStackException.ReadAsync(response, cancellationToken);
        }
    }

    private async Task<Stream> DownloadAsync(string imageId, CancellationToken cancellationToken)
    {
        var response = await controller.SendAsync(HttpMethod.Get, await ImageUrlAsync(imageId, "/file", cancellationToken), null, null, cancellationToken);
        try
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await OpenStackException.ReadAsync(response, cancellationToken);
            }

            // The stream owns the response: disposing it releases the connection.
            return await response.Content.ReadAsStreamAsync(cancellationToken);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>The catalog's image endpoint is unversioned: v2 is this client's choice.</summary>
    private async Task<string> ImageUrlAsync(string imageId, string suffix, CancellationToken cancellationToken) =>
        await controller.EndpointAsync("image", cancellationToken) + $"/v2/images/{Uri.EscapeDataString(imageId)}{suffix}";
}
