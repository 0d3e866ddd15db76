using System.Net;
using System.Text.Json.Nodes;
using Ember.OpenStack;
using Ember.Server;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// A compute host on another machine gets its images over the Image API of a real Ember: streamed into its own cache
/// under the image's sha512, one download however many boots ask at once, inspected again at every use; a snapshot
/// goes back the same way into its queued image.
/// </summary>
public sealed class ImageApiSourceTests(EmberFixture ember) : IClassFixture<EmberFixture>, IDisposable
{
    private const UnixFileMode Dir0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly string _work = Directory.CreateTempSubdirectory("ember-image-cache-").FullName;
    private readonly FileRequests _requests = new();

    private string CacheDir => Path.Combine(_work, "image-cache");

    private ImageApiSource Source()
    {
        var access = new OpenStackCredentials { AuthUrl = ember.BaseUrl + "/identity/v3", Username = "admin", Password = EmberFixture.AdminPassword, ProjectName = "admin" };
        var controller = new OpenStackClient(new HttpClient(_requests), access, TimeProvider.System);
        var cache = new ImageCache(Options.Create(new EmberOptions { DataDir = _work }), NullLogger<ImageCache>.Instance);
        return new ImageApiSource(controller, cache);
    }

    private async Task<(string Id, string Hash, string File)> UploadQcow2Async(string name)
    {
        var file = Path.Combine(_work, name + ".qcow2");
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", file, "16M"])).EnsureSuccess();
        (await Cli.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5c 0 512k", file])).EnsureSuccess();
        using var api = new ApiClient(await ember.ClientAsync());
        var id = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = name, ["disk_format"] = "qcow2", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        using var admin = await ember.ClientAsync();
        using var data = new ByteArrayContent(await File.ReadAllBytesAsync(file));
        data.Headers.ContentType = new("application/octet-stream");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PutAsync($"/image/v2/images/{id}/file", data)).StatusCode);
        var hash = (await api.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}"))["os_hash_value"]!.GetValue<string>();
        return (id, hash, file);
    }

    [Fact]
    public async Task Concurrent_boots_download_the_image_once_into_a_private_cache_named_by_its_sha512()
    {
        var (id, hash, file) = await UploadQcow2Async("cached");
        var source = Source();

        var fetched = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => source.FetchAsync(new ImageSpec(id), default)));

        Assert.All(fetched, f => Assert.Equal(Path.Combine(CacheDir, hash), f.Path));
        Assert.All(fetched, f => Assert.Equal("qcow2", f.Format));
        Assert.Equal(await File.ReadAllBytesAsync(file), await File.ReadAllBytesAsync(fetched[0].Path));
        Assert.Equal(1, _requests.Downloads);
        Assert.Equal(Dir0700, File.GetUnixFileMode(CacheDir));
        Assert.Equal(File0600, File.GetUnixFileMode(fetched[0].Path));
        Assert.Equal([hash], Directory.GetFiles(CacheDir).Select(Path.GetFileName)); // no partial file left

        await source.FetchAsync(new ImageSpec(id), default);
        Assert.Equal(1, _requests.Downloads);
    }

    [Fact]
    public async Task A_cached_file_is_inspected_again_at_every_use()
    {
        var (id, hash, _) = await UploadQcow2Async("tampered");
        var source = Source();
        var cached = (await source.FetchAsync(new ImageSpec(id), default)).Path;

        // Someone on this host swaps the cache file for a qcow2 that reads a host file through its backing chain.
        File.Delete(cached);
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", cached])).EnsureSuccess();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => source.FetchAsync(new ImageSpec(id), default));
        Assert.Contains("unacceptable", refused.Message, StringComparison.Ordinal);
        Assert.Equal(hash, Path.GetFileName(cached));
    }

    [Fact]
    public async Task An_image_without_data_is_refused_before_anything_is_downloaded()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var id = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "queued", ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Source().FetchAsync(new ImageSpec(id), default));
        Assert.Contains("queued", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _requests.Downloads);
        Assert.False(Directory.Exists(CacheDir));
    }

    [Fact]
    public async Task A_snapshot_is_uploaded_into_its_queued_image_and_a_failed_one_is_deleted()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var queued = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "snap", ["disk_format"] = "qcow2", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!
            .GetValue<string>();
        var copy = Path.Combine(_work, "snapshot.qcow2");
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", copy, "16M"])).EnsureSuccess();
        (await Cli.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x6d 0 64k", copy])).EnsureSuccess();
        var bytes = await File.ReadAllBytesAsync(copy);
        var source = Source();

        await source.UploadAsync(queued, "ignored-by-the-api", copy, default);

        var shown = await api.SendAsync(HttpMethod.Get, $"/image/v2/images/{queued}");
        Assert.Equal("active", shown["status"]!.GetValue<string>());
        Assert.Equal(bytes.Length, shown["size"]!.GetValue<long>());
        Assert.False(File.Exists(copy)); // consumed
        await source.DiscardAsync(queued, default);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"/image/v2/images/{queued}")).Status);
        await source.DiscardAsync(queued, default); // already gone: no error
    }

    public void Dispose()
    {
        _requests.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>Counts the image data downloads that reach the server.</summary>
    private sealed class FileRequests() : DelegatingHandler(new HttpClientHandler())
    {
        private int _downloads;

        public int Downloads => _downloads;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/file", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _downloads);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
