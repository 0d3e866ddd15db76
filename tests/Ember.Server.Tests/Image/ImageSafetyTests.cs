using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Image;

/// <summary>
/// Issue 11 item 1: an image never makes Ember read a host file. Each variant of OSSA-2015-014 / CVE-2022-47951 /
/// OSSA-2024-001 is refused on upload (400 in Glance's format, the image stays queued, no file), and an image file
/// planted as if stored before the inspector existed is refused again when a volume or a server uses it.
/// </summary>
public class ImageSafetyTests(EmberFixture ember) : IClassFixture<EmberFixture>, IDisposable
{
    private const string Marker = "EMBER-HOST-SECRET-";

    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(2);

    private readonly string _work = Directory.CreateTempSubdirectory("ember-image-safety").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    public static TheoryData<string> Variants =>
        ["backing-etc-passwd", "backing-data-dir", "json-backing", "data-file", "vmdk-flat", "raw-declared-qcow2", "qcow2-declared-raw"];

    /// <summary>A host file with a recognizable content, inside the data directory (where the credentials are).</summary>
    private string HostSecret => Path.Combine(ember.DataDir, "host-secret");

    private void WriteHostSecret() => File.WriteAllText(HostSecret, string.Concat(Enumerable.Repeat(Marker, 1 << 14)));

    private string ImagesDir => Path.Combine(ember.DataDir, "images");

    /// <summary>Builds one malicious image: its path, the disk_format it is declared as, and what the refusal must say.</summary>
    private async Task<(string Path, string DiskFormat, string Expect)> BuildAsync(string variant)
    {
        var path = Path.Combine(_work, variant);
        switch (variant)
        {
            case "backing-etc-passwd":
                await QemuImgAsync("create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", path, "1M");
                return (path, "qcow2", "qcow2 backing file '/etc/passwd'");
            case "backing-data-dir":
                var database = Path.Combine(ember.DataDir, "ember.db");
                await QemuImgAsync("create", "-q", "-f", "qcow2", "-u", "-b", database, "-F", "raw", path, "1M");
                return (path, "qcow2", $"qcow2 backing file '{database}'");
            case "json-backing":
                await QemuImgAsync("create", "-q", "-f", "qcow2", "-u", "-b", """json:{"file.filename":"/etc/passwd"}""", "-F", "raw", path, "1M");
                return (path, "qcow2", "(a json: specification)");
            case "data-file":
                // qemu-img create makes the data file anew, so the secret is written after it.
                await QemuImgAsync("create", "-q", "-f", "qcow2", "-o", $"data_file={HostSecret},data_file_raw=on", path, "1M");
                WriteHostSecret();
                return (path, "qcow2", $"qcow2 external data file '{HostSecret}'");
            case "vmdk-flat":
                await File.WriteAllTextAsync(path, """
                    # Disk DescriptorFile
                    version=1
                    CID=fffffffe
                    parentCID=ffffffff
                    createType="monolithicFlat"

                    # Extent description
                    RW 2048 FLAT "/etc/passwd" 0
                    """);
                return (path, "vmdk", "vmdk FLAT extent '/etc/passwd'");
            case "raw-declared-qcow2":
                await File.WriteAllBytesAsync(path, new byte[1 << 20]);
                return (path, "qcow2", "raw declared qcow2");
            case "qcow2-declared-raw":
                await QemuImgAsync("create", "-q", "-f", "qcow2", path, "1M");
                return (path, "raw", "qcow2 declared raw");
            default:
                throw new ArgumentOutOfRangeException(nameof(variant));
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task A_malicious_upload_is_refused_and_the_image_stays_queued_without_a_file(string variant)
    {
        var (path, diskFormat, expect) = await BuildAsync(variant);
        using var demo = await ember.ClientAsync("demo");
        var id = await CreateImageAsync(demo, variant, diskFormat);

        using var response = await PutFileAsync(demo, id, await File.ReadAllBytesAsync(path));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("400 Bad Request", body["code"]!.GetValue<string>());
        Assert.Contains(expect, body["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var image = JsonNode.Parse(await demo.GetStringAsync($"/image/v2/images/{id}"))!;
        Assert.Equal("queued", image["status"]!.GetValue<string>());
        Assert.Null(image["checksum"]);
        Assert.Empty(Directory.GetFiles(ImagesDir, id + "*"));
    }

    [Fact]
    public async Task A_long_upload_whose_head_is_not_its_format_is_answered_before_the_rest_is_sent()
    {
        var path = Path.Combine(_work, "long.qcow2");
        await QemuImgAsync("create", "-q", "-f", "qcow2", path, "1G");
        var header = await File.ReadAllBytesAsync(path);
        using var demo = await ember.ClientAsync("demo");
        var id = await CreateImageAsync(demo, "long", "raw");

        // Declare 1 GiB, send the qcow2 header and 1 MiB, then nothing: only a refusal from the head can answer.
        using var client = new System.Net.Sockets.TcpClient();
        var uri = new Uri(ember.BaseUrl);
        await client.ConnectAsync(uri.Host, uri.Port);
        var token = demo.DefaultRequestHeaders.GetValues("X-Auth-Token").Single();
        var stream = client.GetStream();
        var head = $"PUT /image/v2/images/{id}/file HTTP/1.1\r\nHost: {uri.Authority}\r\nX-Auth-Token: {token}\r\n" +
                   "Accept: application/json\r\nContent-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var body = new byte[1 << 20];
        header.AsSpan(0, Math.Min(header.Length, body.Length)).CopyTo(body);
        await stream.WriteAsync(body);

        using var timeout = new CancellationTokenSource(s_wait);
        var answer = new byte[4096];
        var text = "";
        int read;
        while (!text.Contains('}', StringComparison.Ordinal) && (read = await stream.ReadAsync(answer, timeout.Token)) > 0)
        {
            text += Encoding.ASCII.GetString(answer, 0, read);
        }

        Assert.StartsWith("HTTP/1.1 400", text, StringComparison.Ordinal);
        Assert.Contains("qcow2 declared raw", text, StringComparison.Ordinal);
        client.Close();
        Assert.Equal("queued", JsonNode.Parse(await demo.GetStringAsync($"/image/v2/images/{id}"))!["status"]!.GetValue<string>());
        Assert.Empty(Directory.GetFiles(ImagesDir, id + "*"));
    }

    [Fact]
    public async Task A_good_qcow2_becomes_a_volume_with_its_bytes_and_its_virtual_size_from_the_header()
    {
        var path = Path.Combine(_work, "good.qcow2");
        await QemuImgAsync("create", "-q", "-f", "qcow2", path, "3M");
        (await Cli.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 0 64k", path])).EnsureSuccess();
        using var demo = await ember.ClientAsync("demo");
        var id = await CreateImageAsync(demo, "good", "qcow2");
        using (var response = await PutFileAsync(demo, id, await File.ReadAllBytesAsync(path)))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        Assert.Equal(3L << 20, JsonNode.Parse(await demo.GetStringAsync($"/image/v2/images/{id}"))!["virtual_size"]!.GetValue<long>());
        using var api = new ApiClient(demo);
        var volume = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["imageRef"] = id } }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        var shown = await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() != "creating", s_wait);
        Assert.Equal("available", shown["volume"]!["status"]!.GetValue<string>());
        var data = new byte[128 << 10];
        await using (var file = File.OpenRead(Path.Combine(ember.DataDir, "volumes", "volume-" + volume)))
        {
            await file.ReadExactlyAsync(data);
        }

        Assert.All(data.AsSpan(0, 64 << 10).ToArray(), b => Assert.Equal(0xab, b));
        Assert.All(data.AsSpan(64 << 10).ToArray(), b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData("data-file")]
    [InlineData("backing-data-dir")]
    [InlineData("json-backing")]
    [InlineData("vmdk-flat")]
    public async Task A_planted_image_is_refused_for_a_volume_and_no_host_byte_is_copied(string variant)
    {
        using var demo = await ember.ClientAsync("demo");
        var (id, expect) = await PlantAsync(demo, variant);
        using var api = new ApiClient(demo);
        var filesBefore = VolumeFiles();

        var (status, json, text) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "from-" + variant, ["imageRef"] = id } });

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status}: {text}");
        var message = json!["badRequest"]!["message"]!.GetValue<string>();
        Assert.StartsWith($"Image {id} is unacceptable: ", message, StringComparison.Ordinal);
        Assert.Contains(expect, message, StringComparison.Ordinal);
        var volumes = await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes");
        Assert.DoesNotContain(volumes["volumes"]!.AsArray(), v => v!["name"]?.GetValue<string>() == "from-" + variant);
        Assert.Equal(filesBefore, VolumeFiles()); // no volume file was made, so none holds a host byte
    }

    [Fact]
    public async Task A_planted_image_makes_the_boot_fail_with_a_fault_and_qemu_never_reads_it()
    {
        using var demo = await ember.ClientAsync("demo");
        var (id, expect) = await PlantAsync(demo, "data-file");
        using var api = new ApiClient(demo);

        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "planted", ["imageRef"] = id, ["flavorRef"] = "1" },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var shown = await api.WaitForAsync($"/compute/v2.1/servers/{server}",
            s => s["server"]!["status"]!.GetValue<string>() is "ERROR" or "ACTIVE", s_wait);

        Assert.Equal("ERROR", shown["server"]!["status"]!.GetValue<string>());
        var fault = shown["server"]!["fault"]!["message"]!.GetValue<string>();
        Assert.StartsWith($"Image {id} is unacceptable: ", fault, StringComparison.Ordinal);
        Assert.Contains(expect, fault, StringComparison.Ordinal);
        // Refused before the overlay is made: no disk for QEMU, no QEMU.
        var instance = Path.Combine(ember.DataDir, "instances", server);
        Assert.False(File.Exists(Path.Combine(instance, "disk")));
        Assert.False(File.Exists(Path.Combine(instance, "qemu.pid")));
    }

    /// <summary>
    /// An active image whose stored file is then replaced by a malicious one of the same declared format, as a file
    /// stored before the inspector existed would be.
    /// </summary>
    private async Task<(string Id, string Expect)> PlantAsync(HttpClient client, string variant)
    {
        var (malicious, diskFormat, expect) = await BuildAsync(variant);
        var good = Path.Combine(_work, "good-" + variant);
        await QemuImgAsync("create", "-q", "-f", diskFormat, good, "1M");
        var id = await CreateImageAsync(client, "planted-" + variant, diskFormat);
        using (var response = await PutFileAsync(client, id, await File.ReadAllBytesAsync(good)))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        File.Copy(malicious, Path.Combine(ImagesDir, id), overwrite: true);
        return (id, expect);
    }

    private string[] VolumeFiles()
    {
        var volumes = Path.Combine(ember.DataDir, "volumes");
        return Directory.Exists(volumes) ? [.. Directory.GetFiles(volumes).Order(StringComparer.Ordinal)] : [];
    }

    private static async Task<string> CreateImageAsync(HttpClient client, string name, string diskFormat)
    {
        using var created = await client.PostAsync("/image/v2/images", new StringContent(
            new JsonObject { ["name"] = name, ["disk_format"] = diskFormat, ["container_format"] = "bare" }.ToJsonString(),
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    private static Task<HttpResponseMessage> PutFileAsync(HttpClient client, string id, byte[] data)
    {
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return client.PutAsync($"/image/v2/images/{id}/file", content);
    }

    private static async Task QemuImgAsync(params string[] args) => (await Cli.RunAsync("qemu-img", args)).EnsureSuccess();
}
