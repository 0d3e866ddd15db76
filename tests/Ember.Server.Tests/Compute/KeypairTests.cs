using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Runs <see cref="KeypairCases"/> on SQLite.</summary>
public sealed class KeypairTests(EmberFixture ember) : KeypairCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="KeypairCases"/> on PostgreSQL.</summary>
public sealed class PostgresKeypairTests(PostgresEmberFixture ember) : KeypairCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>os-keypairs at the REST level: Nova's bodies, statuses, microversions, validation and per-user scope.</summary>
public abstract class KeypairCases(EmberFixture ember) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("ember-keys-").FullName;

    public void Dispose()
    {
        Directory.Delete(_work, recursive: true);
        GC.SuppressFinalize(this);
    }

    private static JsonObject Keypair(string name, string? publicKey = null)
    {
        var keypair = new JsonObject { ["name"] = name };
        if (publicKey is not null)
        {
            keypair["public_key"] = publicKey;
        }

        return new JsonObject { ["keypair"] = keypair };
    }

    /// <summary>A public key from ssh-keygen and its MD5 fingerprint as ssh-keygen computes it.</summary>
    private async Task<(string PublicKey, string Fingerprint)> SshKeygenAsync(string type, string? bits = null)
    {
        var path = Path.Combine(_work, type + Guid.NewGuid().ToString("N")[..6]);
        string[] size = bits is null ? [] : ["-b", bits];
        (await Cli.RunAsync("ssh-keygen", ["-q", "-t", type, .. size, "-N", "", "-C", "tester@ember", "-f", path])).EnsureSuccess();
        var listed = (await Cli.RunAsync("ssh-keygen", ["-l", "-E", "md5", "-f", path + ".pub"])).EnsureSuccess().StdOut;
        var fingerprint = listed.Split(' ')[1]["MD5:".Length..];
        return ((await File.ReadAllTextAsync(path + ".pub")).Trim(), fingerprint);
    }

    [Theory]
    [InlineData("ed25519", null)]
    [InlineData("rsa", "3072")]
    [InlineData("ecdsa", "256")]
    [InlineData("ecdsa", "521")]
    public async Task Imported_keys_get_novas_md5_fingerprint(string type, string? bits)
    {
        using var api = new ApiClient(await ember.ClientAsync("demo"));
        var (publicKey, fingerprint) = await SshKeygenAsync(type, bits);
        var name = $"import-{type}-{bits}";
        var created = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair(name, publicKey), HttpStatusCode.Created, "compute 2.2"))["keypair"]!;
        Assert.Equal(fingerprint, created["fingerprint"]!.GetValue<string>());
        Assert.Equal(publicKey, created["public_key"]!.GetValue<string>());
        Assert.Equal("ssh", created["type"]!.GetValue<string>());
        Assert.Null(created["private_key"]);

        var shown = (await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-keypairs/{name}", apiVersion: "compute 2.2"))["keypair"]!.AsObject();
        Assert.Equal(fingerprint, shown["fingerprint"]!.GetValue<string>());
        Assert.False(shown["deleted"]!.GetValue<bool>());
        Assert.True(shown["id"]!.GetValue<long>() > 0);
        await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/os-keypairs/{name}", expect: HttpStatusCode.NoContent, apiVersion: "compute 2.2");
        await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-keypairs/{name}", expect: HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_generated_key_returns_its_private_key_once()
    {
        using var api = new ApiClient(await ember.ClientAsync("demo"));
        var created = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("generated")))["keypair"]!;
        var privateKey = created["private_key"]!.GetValue<string>();
        Assert.StartsWith("-----BEGIN RSA PRIVATE KEY-----", privateKey, StringComparison.Ordinal);
        Assert.StartsWith("ssh-rsa ", created["public_key"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(created["type"]); // 2.1 has no type

        // ssh-keygen derives the same public key from the private key it was given.
        var path = Path.Combine(_work, "generated");
        await File.WriteAllTextAsync(path, privateKey);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var derived = (await Cli.RunAsync("ssh-keygen", ["-y", "-f", path])).EnsureSuccess().StdOut.Trim();
        Assert.Equal(string.Join(' ', created["public_key"]!.GetValue<string>().Split(' ')[..2]), derived);

        var shown = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/os-keypairs/generated"))["keypair"]!;
        Assert.Null(shown["private_key"]);
        await api.SendAsync(HttpMethod.Delete, "/compute/v2.1/os-keypairs/generated", expect: HttpStatusCode.Accepted);
    }

    [Theory]
    [InlineData("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x")]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x")]
    [InlineData("ssh-ed25519 not-base64!")]
    [InlineData("just-one-word")]
    [InlineData("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    public async Task Malformed_public_keys_are_novas_400(string publicKey)
    {
        using var api = new ApiClient(await ember.ClientAsync("demo"));
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("bad-" + Guid.NewGuid().ToString("N")[..6], publicKey));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Keypair data is invalid: failed to generate fingerprint", json!["badRequest"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Names_are_checked_unique_per_user_and_private_to_their_user()
    {
        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        using var admin = new ApiClient(await ember.ClientAsync());
        var (publicKey, _) = await SshKeygenAsync("ed25519");
        Assert.Equal(HttpStatusCode.BadRequest, (await demo.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("no/slashes", publicKey))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await demo.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("", publicKey))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await demo.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair(new string('k', 256), publicKey))).Status);

        await demo.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("shared name", publicKey));
        var (again, json, _) = await demo.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("shared name", publicKey));
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("Key pair 'shared name' already exists.", json!["conflictingRequest"]!["message"]!.GetValue<string>());

        // Another user may use the same name, and does not see demo's key pairs.
        await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("shared name", publicKey));
        var demoUser = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/users?name=demo"))["users"]![0]!["id"]!.GetValue<string>();
        var adminOwn = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-keypairs"))["keypairs"]!.AsArray();
        Assert.Single(adminOwn, k => k!["keypair"]!["name"]!.GetValue<string>() == "shared name");

        // 2.10: an admin reaches another user's key pairs with user_id; a user cannot.
        var ofDemo = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-keypairs/shared%20name?user_id={demoUser}", apiVersion: "compute 2.10"))["keypair"]!;
        Assert.Equal(demoUser, ofDemo["user_id"]!.GetValue<string>());
        var adminUser = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/users?name=admin"))["users"]![0]!["id"]!.GetValue<string>();
        await demo.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-keypairs?user_id={adminUser}", expect: HttpStatusCode.Forbidden, apiVersion: "compute 2.10");
        await demo.SendAsync(HttpMethod.Get, "/compute/v2.1/os-keypairs/shared%20name", expect: HttpStatusCode.OK);

        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/os-keypairs/shared%20name?user_id={demoUser}", expect: HttpStatusCode.NoContent, apiVersion: "compute 2.10");
        await demo.SendAsync(HttpMethod.Get, "/compute/v2.1/os-keypairs/shared%20name", expect: HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Delete, "/compute/v2.1/os-keypairs/shared%20name", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Lists_page_by_name_marker_from_235()
    {
        var user = Guid.NewGuid().ToString("N")[..6];
        var (publicKey, _) = await SshKeygenAsync("ed25519");
        using var admin = new ApiClient(await ember.ClientAsync());
        var names = Enumerable.Range(0, 3).Select(i => $"page-{user}-{i}").ToList();
        foreach (var name in names)
        {
            await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair(name, publicKey));
        }

        var mine = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-keypairs", apiVersion: "compute 2.35"))["keypairs"]!.AsArray()
            .Select(k => k!["keypair"]!["name"]!.GetValue<string>()).ToList();
        var walked = new List<string>();
        string? path = "/compute/v2.1/os-keypairs?limit=2";
        while (path is not null)
        {
            var page = await admin.SendAsync(HttpMethod.Get, path, apiVersion: "compute 2.35");
            walked.AddRange(page["keypairs"]!.AsArray().Select(k => k!["keypair"]!["name"]!.GetValue<string>()));
            path = page["keypairs_links"]?[0]?["href"]?.GetValue<string>() is { } next ? new Uri(next).PathAndQuery : null;
        }

        Assert.Equal(mine, walked);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Get, "/compute/v2.1/os-keypairs?marker=nope", apiVersion: "compute 2.35")).Status);
        // Below 2.35 limit and marker are not Nova's parameters: the whole list.
        Assert.Equal(mine.Count, (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-keypairs?limit=1"))["keypairs"]!.AsArray().Count);

        foreach (var name in names)
        {
            await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/os-keypairs/{name}", expect: HttpStatusCode.Accepted);
        }
    }

    [Fact]
    public async Task A_user_may_keep_100_key_pairs_as_novas_default_quota()
    {
        using var user = await NewUserClientAsync();
        var (publicKey, _) = await SshKeygenAsync("ed25519");
        for (var i = 0; i < 100; i++)
        {
            await user.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair($"q{i}", publicKey));
        }

        var (status, json, _) = await user.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("one-too-many", publicKey));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("Quota exceeded, too many key pairs.", json!["forbidden"]!["message"]!.GetValue<string>());
        await user.SendAsync(HttpMethod.Delete, "/compute/v2.1/os-keypairs/q0", expect: HttpStatusCode.Accepted);
        await user.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Keypair("one-too-many", publicKey));
    }

    /// <summary>A client of a new user, a member of a new project: key pairs are counted per user.</summary>
    private async Task<ApiClient> NewUserClientAsync()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var name = "keys-" + Guid.NewGuid().ToString("N")[..8];
        var project = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = name } }, HttpStatusCode.Created))["project"]!["id"]!.GetValue<string>();
        var user = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
            new JsonObject { ["user"] = new JsonObject { ["name"] = name, ["password"] = "pw-" + name } }, HttpStatusCode.Created))["user"]!["id"]!.GetValue<string>();
        var member = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=member"))["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{project}/users/{user}/roles/{member}", expect: HttpStatusCode.NoContent);
        var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        using var login = await http.PostAsync("/identity/v3/auth/tokens", EmberFixture.PasswordAuth(name, "pw-" + name, name));
        login.EnsureSuccessStatusCode();
        http.DefaultRequestHeaders.Add("X-Auth-Token", login.Headers.GetValues("X-Subject-Token").Single());
        return new ApiClient(http);
    }
}
