using System.Text.Json.Nodes;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>The openstack-style `ember` commands against a live Ember: JSON output parses and says what happened.</summary>
public class EmberCommandTests(CliFixture cloud) : IClassFixture<CliFixture>
{
    [Fact]
    public async Task Token_issue_caches_the_token_in_a_private_file()
    {
        var first = (await cloud.RunAsync("ember", "token", "issue", "-f", "json")).EnsureSuccess().Json();
        var second = (await cloud.RunAsync("ember", "token", "issue", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal((string?)first["id"], (string?)second["id"]);
        var file = Assert.Single(Directory.GetFiles(Path.Combine(cloud.CacheHome, "ember", "tokens")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.False(string.IsNullOrEmpty((string?)first["project_id"]));
    }

    [Fact]
    public async Task Volume_create_show_list_set_extend_delete()
    {
        var created = (await cloud.RunAsync("ember", "volume", "create", "vol-a", "--size", "1", "--wait", "-f", "json")).EnsureSuccess().Json();
        var id = (string)created["id"]!;
        Assert.Equal("available", (string?)created["status"]);

        var shown = (await cloud.RunAsync("ember", "volume", "show", "vol-a", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(id, (string?)shown["id"]);

        (await cloud.RunAsync("ember", "volume", "set", "vol-a", "--name", "vol-b", "--property", "k=v")).EnsureSuccess();
        (await cloud.RunAsync("ember", "volume", "extend", "vol-b", "2", "--wait")).EnsureSuccess();
        var changed = (await cloud.RunAsync("ember", "volume", "show", id, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("vol-b", (string?)changed["name"]);
        Assert.Equal(2, (int?)changed["size"]);
        Assert.Equal("v", (string?)changed["metadata"]?["k"]);

        var list = (await cloud.RunAsync("ember", "volume", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(list, v => (string?)v!["ID"] == id && (string?)v["Name"] == "vol-b");

        var value = (await cloud.RunAsync("ember", "volume", "show", id, "-f", "value", "-c", "status")).EnsureSuccess();
        Assert.Equal("available", value.StdOut.Trim());

        (await cloud.RunAsync("ember", "volume", "delete", "vol-b", "--wait")).EnsureSuccess();
        var gone = await cloud.RunAsync("ember", "volume", "show", id);
        Assert.Equal(1, gone.ExitCode);
    }

    [Fact]
    public async Task Volume_type_with_multiattach_makes_a_multiattach_volume()
    {
        var type = (await cloud.RunAsync("ember", "volume", "type", "create", "ma", "--multiattach", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("<is> True", (string?)type["extra_specs"]?["multiattach"]);
        var volume = (await cloud.RunAsync("ember", "volume", "create", "ma-vol", "--size", "1", "--type", "ma", "--wait", "-f", "json")).EnsureSuccess().Json();
        Assert.True((bool?)volume["multiattach"]);
        var types = (await cloud.RunAsync("ember", "volume", "type", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(types, t => (string?)t!["Name"] == "ma");
    }

    [Fact]
    public async Task Attachment_create_complete_list_delete()
    {
        var volume = (await cloud.RunAsync("ember", "volume", "create", "att-vol", "--size", "1", "--wait", "-f", "json")).EnsureSuccess().Json();
        var server = Guid.NewGuid().ToString();
        var attachment = (await cloud.RunAsync("ember", "volume", "attachment", "create", "att-vol", server, "--connect", "--host", "h1", "-f", "json")).EnsureSuccess().Json();
        var attachmentId = (string)attachment["id"]!;
        (await cloud.RunAsync("ember", "volume", "attachment", "complete", attachmentId)).EnsureSuccess();
        var inUse = (await cloud.RunAsync("ember", "volume", "show", "att-vol", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("in-use", (string?)inUse["status"]);

        var list = (await cloud.RunAsync("ember", "volume", "attachment", "list", "--volume-id", "att-vol", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(list, a => (string?)a!["ID"] == attachmentId && (string?)a["Server ID"] == server);

        var legacy = (await cloud.RunAsync("cinder", "attachment-list")).EnsureSuccess().StdOut;
        Assert.Contains(Tables.Rows(legacy), r => r[0] == attachmentId);

        (await cloud.RunAsync("ember", "volume", "attachment", "delete", attachmentId)).EnsureSuccess();
        var available = (await cloud.RunAsync("ember", "volume", "show", (string)volume["id"]!, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("available", (string?)available["status"]);
    }

    [Fact]
    public async Task Snapshot_create_list_delete()
    {
        (await cloud.RunAsync("ember", "volume", "create", "snap-src", "--size", "1", "--wait")).EnsureSuccess();
        var snapshot = (await cloud.RunAsync("ember", "volume", "snapshot", "create", "snap-1", "--volume", "snap-src", "--wait", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("available", (string?)snapshot["status"]);
        var list = (await cloud.RunAsync("ember", "volume", "snapshot", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(list, s => (string?)s!["Name"] == "snap-1");
        (await cloud.RunAsync("ember", "volume", "snapshot", "delete", "snap-1", "--wait")).EnsureSuccess();
        Assert.Equal(1, (await cloud.RunAsync("ember", "volume", "snapshot", "show", "snap-1")).ExitCode);
    }

    [Fact]
    public async Task Image_create_list_show_save_delete()
    {
        var data = new byte[100_000];
        new Random(7).NextBytes(data);
        var file = Path.Combine(cloud.Root, "image.raw");
        await File.WriteAllBytesAsync(file, data);
        var image = (await cloud.RunAsync("ember", "image", "create", "img-a", "--file", file, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal(data.Length, (long?)image["size"]);

        var list = (await cloud.RunAsync("ember", "image", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(list, i => (string?)i!["Name"] == "img-a");
        var shown = (await cloud.RunAsync("ember", "image", "show", "img-a", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal((string?)image["id"], (string?)shown["id"]);

        var saved = Path.Combine(cloud.Root, "saved.raw");
        (await cloud.RunAsync("ember", "image", "save", "img-a", "--file", saved)).EnsureSuccess();
        Assert.Equal(data, await File.ReadAllBytesAsync(saved));
        (await cloud.RunAsync("ember", "image", "delete", "img-a")).EnsureSuccess();
        Assert.Equal(1, (await cloud.RunAsync("ember", "image", "show", "img-a")).ExitCode);
    }

    [Fact]
    public async Task Api_errors_show_message_code_and_request_id()
    {
        var result = await cloud.RunAsync("ember", "volume", "create", "too-big", "--size", "-5");
        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"ERROR: .+ \(HTTP 400\) \(Request-ID: req-[0-9a-f-]+\)", result.StdErr);
    }

    [Fact]
    public async Task Wrong_password_fails_with_401()
    {
        var env = cloud.Env();
        env["OS_PASSWORD"] = "wrong";
        var result = await cloud.RunAsync("ember", env, "token", "issue");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("(HTTP 401)", result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Debug_shows_requests_without_the_password()
    {
        var env = cloud.Env();
        env["XDG_CACHE_HOME"] = Path.Combine(cloud.Root, "debug-cache");
        var result = (await cloud.RunAsync("ember", env, "--debug", "volume", "list")).EnsureSuccess();
        Assert.Contains("REQ: curl -g -i -X POST", result.StdErr, StringComparison.Ordinal);
        Assert.Contains("/volumes/detail", result.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("admin-secret", result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_column_is_an_error()
    {
        var result = await cloud.RunAsync("ember", "volume", "list", "-c", "Nope");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("No recognized column names", result.StdErr, StringComparison.Ordinal);
    }
}
