using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Tests.Support;

/// <summary>
/// A real Ember host on 127.0.0.1 with an ephemeral port and a temporary data directory,
/// shared by the tests of one class (IClassFixture). Deleted when the class is done.
/// Its state is in SQLite, or, for a fixture made with onPostgres, in a database of a throwaway
/// PostgreSQL cluster of its own (<see cref="PostgresCluster"/>). Its volumes are sparse files, or, for a fixture made
/// with onCeph, RBD images in a throwaway Ceph cluster of its own (<see cref="CephCluster"/>); its image data is files,
/// or, with imagesOnCeph, RBD images in that cluster's pool "images" (Glance's rbd store).
/// </summary>
public class EmberFixture : IAsyncLifetime
{
    public const string AdminPassword = "admin-secret";
    public const string DemoPassword = "demo-secret";

    public EmberFixture()
        : this(onPostgres: false)
    {
    }

    protected EmberFixture(bool onPostgres, bool onCeph = false, bool imagesOnCeph = false)
    {
        OnPostgres = onPostgres;
        OnCeph = onCeph;
        ImagesOnCeph = imagesOnCeph;
    }

    /// <summary>The pool that holds image data when <see cref="ImagesOnCeph"/>.</summary>
    public const string ImagesPool = "images";

    public bool OnPostgres { get; }

    /// <summary>Volumes are RBD images in <see cref="Ceph"/>'s pool (Volume:Backend rbd).</summary>
    public bool OnCeph { get; }

    /// <summary>Image data is RBD images in <see cref="Ceph"/>'s pool <see cref="ImagesPool"/> (Image:Backend rbd).</summary>
    public bool ImagesOnCeph { get; }

    /// <summary>The cluster holding the volumes when <see cref="OnCeph"/>, and the image data when <see cref="ImagesOnCeph"/>.</summary>
    public CephCluster? Ceph { get; private set; }

    /// <summary>The cluster holding the state when <see cref="OnPostgres"/>: tests stop and start it.</summary>
    public PostgresCluster? Postgres { get; private set; }

    public EmberHost Host { get; private set; } = null!;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "ember-test-" + Guid.NewGuid().ToString("N")[..12]);

    public string BaseUrl => Host.BaseUrl;

    public string CloudsYaml => Path.Combine(DataDir, "clouds.yaml");

    /// <summary>Lets a derived fixture change the options (e.g. a default image) before start.</summary>
    protected virtual Task ConfigureAsync(EmberOptions options) => Task.CompletedTask;

    /// <summary>Lets a derived fixture swap a service (e.g. a QEMU that always fails) before start.</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    public async Task InitializeAsync()
    {
        var options = new EmberOptions
        {
            DataDir = DataDir,
            Listen = "127.0.0.1:0",
            Identity = { AdminPassword = AdminPassword, DemoPassword = DemoPassword },
        };
        if (OnPostgres)
        {
            Postgres = await PostgresCluster.CreateAsync();
            options.Database = await Postgres.CreateDatabaseAsync("ember");
        }

        if (OnCeph || ImagesOnCeph)
        {
            Ceph = await CephCluster.CreateAsync();
        }

        if (OnCeph)
        {
            options.Volume.Backend = "rbd";
            options.Volume.Rbd = new() { ConfPath = Ceph!.ConfPath, User = CephCluster.User, KeyringPath = Ceph.KeyringPath, Pool = Ceph.Pool };
        }

        if (ImagesOnCeph)
        {
            await Ceph!.AddPoolAsync(ImagesPool);
            options.Image.Backend = "rbd";
            options.Image.Rbd = new() { ConfPath = Ceph.ConfPath, User = CephCluster.User, KeyringPath = Ceph.KeyringPath, Pool = ImagesPool };
        }

        await ConfigureAsync(options);
        // EMBER_TEST_LOG=Information (or Debug) shows the host's log in the test output when chasing a failure.
        var level = Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("EMBER_TEST_LOG"), out var parsed) ? parsed : LogLevel.Warning;
        Host = await EmberHost.StartAsync(options, logging => logging.SetMinimumLevel(level), services: ConfigureServices);
    }

    public async Task DisposeAsync()
    {
        if (Host is { } host)
        {
            await host.DisposeAsync(); // null when the start failed
        }

        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }

        if (Ceph is not null)
        {
            await Ceph.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A QEMU or client may still hold a file for a moment; the temp dir is not worth failing a test for.
        }
    }

    /// <summary>A token for admin (project admin) or demo (project demo).</summary>
    public async Task<string> TokenAsync(string user = "admin")
    {
        using var http = new HttpClient();
        var password = user == "admin" ? AdminPassword : DemoPassword;
        using var response = await http.PostAsync($"{BaseUrl}/identity/v3/auth/tokens", PasswordAuth(user, password, user));
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("X-Subject-Token").Single();
    }

    /// <summary>A Keystone password-auth body, scoped to <paramref name="project"/> when given.</summary>
    public static StringContent PasswordAuth(string user, string password, string? project = null)
    {
        var auth = new JsonObject
        {
            ["identity"] = new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["password"] = new JsonObject
                {
                    ["user"] = new JsonObject { ["name"] = user, ["domain"] = new JsonObject { ["name"] = "Default" }, ["password"] = password },
                },
            },
        };
        if (project is not null)
        {
            auth["scope"] = new JsonObject { ["project"] = new JsonObject { ["name"] = project, ["domain"] = new JsonObject { ["name"] = "Default" } } };
        }

        return new StringContent(new JsonObject { ["auth"] = auth }.ToJsonString(), Encoding.UTF8, "application/json");
    }

    /// <summary>
    /// Longer than the 120 s an ember-exec may wait for a guest agent (ApiClient.ExecInGuestAsync), so that a guest booting
    /// slowly on a loaded machine gets the API's 409 and a retry rather than HttpClient's 100 s default cutting it off.
    /// </summary>
    private static readonly TimeSpan s_clientTimeout = TimeSpan.FromMinutes(3);

    /// <summary>An HttpClient whose requests carry a token of <paramref name="user"/>.</summary>
    public async Task<HttpClient> ClientAsync(string user = "admin")
    {
        var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = s_clientTimeout };
        http.DefaultRequestHeaders.Add("X-Auth-Token", await TokenAsync(user));
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return http;
    }

    /// <summary>
    /// A client of admin in a new project of its own, as a member there (not a cloud admin), so that what a test
    /// creates meets no other test's quota usage or list entries.
    /// </summary>
    public async Task<ProjectClient> NewProjectClientAsync(string namePrefix)
    {
        using var admin = new ApiClient(await ClientAsync());
        var name = namePrefix + "-" + Guid.NewGuid().ToString("N")[..8];
        var project = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = name, ["domain_id"] = "default" } }, HttpStatusCode.Created))["project"]!["id"]!.GetValue<string>();
        var adminUser = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/users?name=admin"))["users"]![0]!["id"]!.GetValue<string>();
        var member = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=member"))["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{project}/users/{adminUser}/roles/{member}", expect: HttpStatusCode.NoContent);

        var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = s_clientTimeout };
        using var login = await http.PostAsync("/identity/v3/auth/tokens", PasswordAuth("admin", AdminPassword, name));
        login.EnsureSuccessStatusCode();
        http.DefaultRequestHeaders.Add("X-Auth-Token", login.Headers.GetValues("X-Subject-Token").Single());
        return new ProjectClient(new ApiClient(http), project);
    }

    /// <summary>
    /// The classic OS_* variables of an openrc for admin or demo: for the clients that do not read clouds.yaml
    /// (cinderclient, novaclient, glanceclient), plus any <paramref name="extra"/> such as OS_COMPUTE_API_VERSION.
    /// </summary>
    public Dictionary<string, string> OpenRc(string user = "admin", params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["OS_AUTH_URL"] = Host.AuthUrl,
            ["OS_USERNAME"] = user,
            ["OS_PASSWORD"] = user == "admin" ? AdminPassword : DemoPassword,
            ["OS_PROJECT_NAME"] = user,
            ["OS_USER_DOMAIN_NAME"] = "Default",
            ["OS_PROJECT_DOMAIN_NAME"] = "Default",
            ["OS_IDENTITY_API_VERSION"] = "3",
        };
        foreach (var (key, value) in extra)
        {
            env[key] = value;
        }

        return env;
    }

    /// <summary>Runs a real OpenStack command line client (openstack, cinder, nova, glance) against this host.</summary>
    public Task<CliResult> RunClientAsync(string program, string cloud, params string[] args) =>
        Cli.RunAsync(program, args, new Dictionary<string, string>
        {
            ["OS_CLIENT_CONFIG_FILE"] = CloudsYaml,
            ["OS_CLOUD"] = cloud,
        });
}

/// <summary>What the volume tests read of a volume's data, the same way for both backends.</summary>
public static class VolumeData
{
    /// <summary>"nbd" for file volumes, "rbd" for RBD images.</summary>
    public static string DriverVolumeType(this EmberFixture fixture) => fixture.OnCeph ? "rbd" : "nbd";

    /// <summary>What qemu-io/qemu-img open for a connection_info: the NBD URI, or QEMU's rbd: filename as client.ember.</summary>
    public static string TargetOf(this EmberFixture fixture, JsonNode connection) => connection["driver_volume_type"]!.GetValue<string>() switch
    {
        "nbd" => $"nbd+unix:///{connection["export_name"]}?socket={connection["unix_socket"]}",
        "rbd" => $"rbd:{connection["name"]}:id={connection["auth_username"]}:conf={fixture.Ceph!.ConfPath}:keyring={fixture.Ceph.KeyringPath}",
        var other => throw new InvalidOperationException("unexpected driver_volume_type " + other),
    };

    /// <summary>The volume's data as qemu-io opens it directly: its file, or its image as client.admin.</summary>
    public static string VolumeTarget(this EmberFixture fixture, string volumeId) => fixture is { OnCeph: true, Ceph: { } ceph }
        ? $"rbd:{ceph.Pool}/volume-{volumeId}:conf={ceph.AdminConfPath}"
        : Path.Combine(fixture.DataDir, "volumes", "volume-" + volumeId);

    /// <summary>The volume's size in bytes, or null when its data is gone.</summary>
    public static async Task<long?> VolumeSizeAsync(this EmberFixture fixture, string volumeId)
    {
        if (fixture is { OnCeph: true, Ceph: { } ceph })
        {
            var info = await Cli.RunAsync("rbd", ["-c", ceph.AdminConfPath, "info", "--format", "json", $"{ceph.Pool}/volume-{volumeId}"]);
            return info.ExitCode == 0 ? info.Json()["size"]!.GetValue<long>() : null;
        }

        var file = new FileInfo(Path.Combine(fixture.DataDir, "volumes", "volume-" + volumeId));
        return file.Exists ? file.Length : null;
    }

    /// <summary>Bytes the volume occupies (du of the file, rbd du of the image).</summary>
    public static async Task<long> AllocatedBytesAsync(this EmberFixture fixture, string volumeId)
    {
        if (fixture is { OnCeph: true, Ceph: { } ceph })
        {
            var du = JsonNode.Parse(await ceph.RbdAsync("du", "--format", "json", $"{ceph.Pool}/volume-{volumeId}"))!;
            return du["images"]![0]!["used_size"]!.GetValue<long>();
        }

        var result = (await Cli.RunAsync("du", ["--block-size=1", Path.Combine(fixture.DataDir, "volumes", "volume-" + volumeId)])).EnsureSuccess();
        return long.Parse(result.StdOut.Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>What the image tests read of an image's stored data, the same way for both stores.</summary>
public static class ImageData
{
    /// <summary>Whether the image has stored data: its file, or its RBD image in the images pool.</summary>
    public static async Task<bool> ImageDataExistsAsync(this EmberFixture fixture, string imageId) => fixture.ImagesOnCeph
        ? (await Cli.RunAsync("rbd", ["-c", fixture.Ceph!.AdminConfPath, "info", $"{EmberFixture.ImagesPool}/{imageId}"])).ExitCode == 0
        : File.Exists(Path.Combine(fixture.DataDir, "images", imageId));
}

/// <summary>A client scoped to a project of a test's own.</summary>
public sealed record ProjectClient(ApiClient Api, string ProjectId) : IDisposable
{
    public void Dispose() => Api.Dispose();
}

/// <summary>An <see cref="EmberFixture"/> whose state is in PostgreSQL.</summary>
public sealed class PostgresEmberFixture() : EmberFixture(onPostgres: true);

/// <summary>An <see cref="EmberFixture"/> whose volumes and image data are RBD images in a Ceph cluster of its own, as Cinder and Glance on Ceph.</summary>
public sealed class RbdEmberFixture() : EmberFixture(onPostgres: false, onCeph: true, imagesOnCeph: true);

/// <summary>An <see cref="EmberFixture"/> whose image data is in Ceph and whose volumes are files.</summary>
public sealed class RbdImagesEmberFixture() : EmberFixture(onPostgres: false, imagesOnCeph: true);
