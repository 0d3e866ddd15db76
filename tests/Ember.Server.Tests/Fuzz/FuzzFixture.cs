using System.Net;
using System.Text.Json.Nodes;
using Ember.Compute.Qemu;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Tests.Fuzz;

/// <summary>An Ember host whose QEMU is /bin/false: every boot fails at once, so fuzzed server creates never start a VM.</summary>
public class FuzzFixture : EmberFixture
{
    public FuzzFixture()
        : this(onPostgres: false)
    {
    }

    protected FuzzFixture(bool onPostgres)
        : base(onPostgres)
    {
    }

    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddSingleton(sp => new QemuDriver(
            new QemuDriverOptions { QemuBinary = "/bin/false", Accelerator = "tcg", StartTimeout = TimeSpan.FromSeconds(5) },
            sp.GetRequiredService<ILoggerFactory>()));

    /// <summary>A 4 KiB raw image of <paramref name="api"/>'s project and a public flavor of the test's own, named after <paramref name="prefix"/>.</summary>
    public async Task<(string Image, string Flavor)> ImageAndFlavorAsync(ApiClient api, string prefix)
    {
        var flavor = prefix + "-" + Guid.NewGuid().ToString("N")[..8];
        using (var admin = new ApiClient(await ClientAsync()))
        {
            await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
                new JsonObject { ["flavor"] = new JsonObject { ["name"] = flavor, ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 1, ["id"] = flavor } });
        }

        var image = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = prefix, ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        using var upload = new HttpRequestMessage(HttpMethod.Put, $"/image/v2/images/{image}/file") { Content = new ByteArrayContent(new byte[4096]) };
        upload.Content.Headers.ContentType = new("application/octet-stream");
        using var uploaded = await api.Http.SendAsync(upload);
        Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
        return (image, flavor);
    }
}

/// <summary>A <see cref="FuzzFixture"/> whose state is in PostgreSQL.</summary>
public sealed class PostgresFuzzFixture() : FuzzFixture(onPostgres: true);
