using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>`ember serve` as a process: a private data dir, passwords a restart never reverts, `ember admin reset-password`.</summary>
public sealed partial class ServeSecurityTests : IDisposable
{
    private const UnixFileMode GroupAndOther = (UnixFileMode)0b000_111_111;

    private readonly string _root = Directory.CreateTempSubdirectory("ember-serve-sec").FullName;

    private string DataDir => Path.Combine(_root, "data");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_loose_data_dir_is_tightened_and_logged_and_everything_serve_creates_is_owner_only()
    {
        // A data dir as a careless operator left it: 0755, a 0755 subdirectory with a 0644 file, and a link out.
        Directory.CreateDirectory(DataDir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(DataDir, (UnixFileMode)0b111_101_101);
        var sub = Directory.CreateDirectory(Path.Combine(DataDir, "notes"), (UnixFileMode)0b111_101_101).FullName;
        File.SetUnixFileMode(sub, (UnixFileMode)0b111_101_101);
        var note = Path.Combine(sub, "note.txt");
        File.WriteAllText(note, "x");
        File.SetUnixFileMode(note, (UnixFileMode)0b110_100_100);
        var outside = Path.Combine(_root, "outside.txt");
        File.WriteAllText(outside, "not ours");
        File.SetUnixFileMode(outside, (UnixFileMode)0b110_100_100);
        File.CreateSymbolicLink(Path.Combine(DataDir, "link-out"), outside);

        await using (var serve = await ServeProcess.StartAsync(DataDir, "tight-admin"))
        {
            Assert.Contains("was readable by other users", serve.Banner);
            Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(DataDir));
            Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(sub));
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(note));
            // The link was not followed: the file it points to keeps its mode.
            Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(outside));

            using var http = await AdminClientAsync(serve.BaseUrl, "tight-admin");
            using var volume = await http.PostAsync("/volume/v3/volumes", Json("""{"volume":{"size":1,"name":"private"}}"""));
            Assert.Equal(HttpStatusCode.Accepted, volume.StatusCode);
            using var image = await http.PostAsync("/image/v2/images", Json("""{"name":"private","disk_format":"raw","container_format":"bare"}"""));
            var imageId = JsonNode.Parse(await image.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
            var bytes = new ByteArrayContent(new byte[1 << 20]);
            bytes.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var upload = await http.PutAsync($"/image/v2/images/{imageId}/file", bytes);
            Assert.Equal(HttpStatusCode.NoContent, upload.StatusCode);

            var checkedEntries = 0;
            foreach (var entry in new DirectoryInfo(DataDir).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            {
                if (entry.LinkTarget is not null)
                {
                    continue;
                }

                checkedEntries++;
                var mode = entry.UnixFileMode;
                Assert.True((mode & GroupAndOther) == 0, $"{entry.FullName} is {mode}");
                if (entry is DirectoryInfo)
                {
                    Assert.True(mode == (UnixFileMode)0b111_000_000, $"{entry.FullName} is {mode}");
                }
            }

            Assert.True(checkedEntries > 5, $"only {checkedEntries} entries under the data dir");
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(DataDir, "ember.db")));
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(DataDir, "clouds.yaml")));
        }
    }

    [Fact]
    public async Task A_restart_never_reverts_a_password_and_generated_ones_live_only_in_the_client_files()
    {
        string demoPassword;
        await using (var first = await ServeProcess.StartAsync(DataDir, "seed-admin"))
        {
            // The demo password was generated: shown once after the banner, kept only in clouds.yaml and demo-openrc.
            demoPassword = await GeneratedPasswordAsync(first, "demo");
            Assert.False(File.Exists(Path.Combine(DataDir, "credentials.json")));
            Assert.Contains($"password: '{demoPassword}'", await File.ReadAllTextAsync(Path.Combine(DataDir, "clouds.yaml")));

            using var admin = await AdminClientAsync(first.BaseUrl, "seed-admin");
            var adminId = JsonNode.Parse(await admin.GetStringAsync("/identity/v3/users?name=admin"))!["users"]![0]!["id"]!.GetValue<string>();
            using var rotate = await admin.PatchAsync($"/identity/v3/users/{adminId}", Json("""{"user":{"password":"rotated-admin"}}"""));
            Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        }

        await using (var second = await ServeProcess.StartAsync(DataDir, "seed-admin"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await LoginStatusAsync(second.BaseUrl, "admin", "seed-admin"));
            Assert.Equal(HttpStatusCode.Created, await LoginStatusAsync(second.BaseUrl, "admin", "rotated-admin"));
            Assert.Equal(HttpStatusCode.Created, await LoginStatusAsync(second.BaseUrl, "demo", demoPassword));
            Assert.DoesNotContain("generated password", second.Banner + second.OutputSoFar());

            // `ember admin reset-password` beside the running server: new password works, old one and old tokens do not.
            var oldToken = await TokenAsync(second.BaseUrl, "demo", demoPassword);
            var reset = await Cli.RunAsync(Path.Combine(AppContext.BaseDirectory, "ember"), ["admin", "reset-password", "demo", "--data-dir", DataDir]);
            Assert.True(reset.ExitCode == 0, reset.StdErr);
            var newPassword = NewPasswordLine().Match(reset.StdOut).Groups[1].Value;
            Assert.NotEqual("", newPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, await LoginStatusAsync(second.BaseUrl, "demo", demoPassword));
            Assert.Equal(HttpStatusCode.Created, await LoginStatusAsync(second.BaseUrl, "demo", newPassword));
            Assert.Contains($"password: '{newPassword}'", await File.ReadAllTextAsync(Path.Combine(DataDir, "clouds.yaml")));
            Assert.Contains($"OS_PASSWORD='{newPassword}'", await File.ReadAllTextAsync(Path.Combine(DataDir, "demo-openrc")));
            using var withOld = new HttpClient { BaseAddress = new Uri(second.BaseUrl) };
            withOld.DefaultRequestHeaders.Add("X-Auth-Token", oldToken);
            Assert.Equal(HttpStatusCode.Unauthorized, (await withOld.GetAsync("/volume/v3/volumes")).StatusCode);
        }
    }

    private static async Task<string> GeneratedPasswordAsync(ServeProcess serve, string user)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var match = Regex.Match(serve.Banner + serve.OutputSoFar(), $"generated password for {user}: (\\S+)");
            if (match.Success)
            {
                return match.Groups[1].Value;
            }

            Assert.True(DateTime.UtcNow < deadline, "no generated password printed: " + serve.Banner + serve.OutputSoFar());
            await Task.Delay(100);
        }
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static StringContent PasswordAuth(string user, string password) => Json(new JsonObject
    {
        ["auth"] = new JsonObject
        {
            ["identity"] = new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["password"] = new JsonObject
                {
                    ["user"] = new JsonObject { ["name"] = user, ["domain"] = new JsonObject { ["id"] = "default" }, ["password"] = password },
                },
            },
        },
    }.ToJsonString());

    private static async Task<HttpStatusCode> LoginStatusAsync(string baseUrl, string user, string password)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{baseUrl}/identity/v3/auth/tokens", PasswordAuth(user, password));
        return response.StatusCode;
    }

    private static async Task<string> TokenAsync(string baseUrl, string user, string password)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{baseUrl}/identity/v3/auth/tokens", PasswordAuth(user, password));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return response.Headers.GetValues("X-Subject-Token").Single();
    }

    private static async Task<HttpClient> AdminClientAsync(string baseUrl, string password)
    {
        var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", await TokenAsync(baseUrl, "admin", password));
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return http;
    }

    [GeneratedRegex("New password for demo: (\\S+)")]
    private static partial Regex NewPasswordLine();
}
