using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Identity;
using Ember.Server.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Ember.Server.Tests.Identity;

/// <summary>A host with lock-out on (3 failures, 2 s) and a per-user budget of 5 failed logins an hour, on a clock the tests move.</summary>
public class LockoutFixture : EmberFixture
{
    public LockoutFixture()
        : this(onPostgres: false)
    {
    }

    protected LockoutFixture(bool onPostgres)
        : base(onPostgres)
    {
    }

    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>An hour: no budget window can run out while a test runs, however slow the machine.</summary>
    public const int WindowSeconds = 3600;

    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Identity.LockoutFailureAttempts = 3;
        options.Identity.LockoutDurationSeconds = 2;
        options.Identity.FailedLoginsPerUser = 5;
        options.Identity.FailedLoginsPerSource = 10_000;
        options.Identity.FailedLoginWindowSeconds = WindowSeconds;
        return Task.CompletedTask;
    }

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.AddSingleton<TimeProvider>(Clock);
    }
}

/// <summary>A <see cref="LockoutFixture"/> whose state is in PostgreSQL.</summary>
public sealed class PostgresLockoutFixture() : LockoutFixture(onPostgres: true);

/// <summary>Runs <see cref="LoginGuardCases"/> on SQLite.</summary>
public sealed class LoginGuardTests(LockoutFixture ember) : LoginGuardCases(ember), IClassFixture<LockoutFixture>;

/// <summary>Runs <see cref="LoginGuardCases"/> on PostgreSQL.</summary>
public sealed class PostgresLoginGuardTests(PostgresLockoutFixture ember) : LoginGuardCases(ember), IClassFixture<PostgresLockoutFixture>;

/// <summary>Login resists guessing: no timing oracle, failure budgets with 429 and Retry-After, Keystone-style lock-out.</summary>
public abstract class LoginGuardCases(LockoutFixture ember)
{
    private const string Password = "guard-secret";

    private LoginGuard Guard => ember.Host.Services.GetRequiredService<LoginGuard>();

    [Fact]
    public async Task Unknown_user_disabled_user_and_wrong_password_each_cost_exactly_one_hash()
    {
        var user = await CreateUserAsync();
        await DisabledUserAsync(user.Name + "-off");
        foreach (var (name, password) in new[] { ("nobody-" + Guid.NewGuid().ToString("N")[..8], Password), (user.Name, "wrong"), (user.Name + "-off", Password) })
        {
            var before = Guard.Verifications;
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(name, password)).Status);
            Assert.Equal(before + 1, Guard.Verifications);
        }

        var beforeGood = Guard.Verifications;
        Assert.Equal(HttpStatusCode.Created, (await LoginAsync(user.Name, Password)).Status);
        Assert.Equal(beforeGood + 1, Guard.Verifications);
    }

    [Fact]
    public async Task Failed_logins_of_one_user_beyond_its_budget_get_429_with_retry_after_in_keystone_form()
    {
        // An unknown name: the budget must not tell whether the user exists.
        var name = "guess-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(name, "guess" + i)).Status);
        }

        var before = Guard.Verifications;
        var (status, retryAfter, body) = await LoginAsync(name, "guess-more");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        // Retry-After is whole seconds (its delta-seconds form) until the budget comes back: within the configured window.
        Assert.Matches("^[0-9]+$", retryAfter);
        Assert.InRange(int.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture), 1, LockoutFixture.WindowSeconds);
        Assert.Equal(429, body!["error"]!["code"]!.GetValue<int>());
        Assert.Equal("Too Many Requests", body["error"]!["title"]!.GetValue<string>());
        Assert.Equal(before, Guard.Verifications); // throttled before any hashing
    }

    [Fact]
    public async Task Lockout_after_the_configured_failures_refuses_the_right_password_until_the_duration_has_passed()
    {
        var user = await CreateUserAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(user.Name, "wrong" + i)).Status);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(user.Name, Password)).Status);

        // Once the duration (2 s) has passed since the last counted failure, the right password works again.
        ember.Clock.Advance(TimeSpan.FromSeconds(2.5));
        Assert.Equal(HttpStatusCode.Created, (await LoginAsync(user.Name, Password)).Status);
    }

    [Fact]
    public void Failures_from_one_source_beyond_its_budget_get_429_whatever_the_user_names()
    {
        using var guard = new LoginGuard(Microsoft.Extensions.Options.Options.Create(new IdentityOptions { FailedLoginsPerSource = 4, FailedLoginsPerUser = 100 }));
        for (var i = 0; i < 4; i++)
        {
            guard.ThrowIfThrottled("192.0.2.7", "name:default/user" + i);
            guard.RecordFailure("192.0.2.7", "name:default/user" + i);
        }

        var refused = Assert.Throws<ApiException>(() => guard.ThrowIfThrottled("192.0.2.7", "name:default/someone-else"));
        Assert.Equal(429, refused.StatusCode);
        Assert.NotNull(refused.RetryAfter);

        guard.ThrowIfThrottled("192.0.2.8", "name:default/someone-else");
    }

    private sealed record User(string Name, string Id);

    private async Task<User> CreateUserAsync(bool enabled = true, string? name = null)
    {
        name ??= "guard-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var created = await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
            new JsonObject { ["user"] = new JsonObject { ["name"] = name, ["password"] = Password, ["enabled"] = enabled } }, HttpStatusCode.Created);
        return new User(name, created["user"]!["id"]!.GetValue<string>());
    }

    private Task<User> DisabledUserAsync(string name) => CreateUserAsync(enabled: false, name: name);

    private async Task<(HttpStatusCode Status, string? RetryAfter, JsonNode? Body)> LoginAsync(string user, string password)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth(user, password));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, response.Headers.TryGetValues("Retry-After", out var values) ? values.Single() : null,
            text.Length > 0 ? JsonNode.Parse(text) : null);
    }
}

/// <summary>A host that hashes one password at a time with two waiting, and no failure budgets in the way.</summary>
public sealed class HashStormFixture : EmberFixture
{
    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Identity.MaxConcurrentPasswordHashes = 1;
        options.Identity.PasswordHashQueueLimit = 2;
        options.Identity.FailedLoginsPerUser = 100_000;
        options.Identity.FailedLoginsPerSource = 100_000;
        return Task.CompletedTask;
    }
}

/// <summary>A storm of bad logins is bounded by the hashing slots; requests with a token keep being served.</summary>
public sealed class HashStormTests(HashStormFixture ember) : IClassFixture<HashStormFixture>
{
    [Fact]
    public async Task A_storm_of_bad_logins_hashes_one_at_a_time_sheds_the_excess_with_429_and_token_requests_succeed()
    {
        using var demo = await ember.ClientAsync("demo");
        demo.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var stormClient = new HttpClient();
        var storm = Enumerable.Range(0, 48).Select(async i =>
        {
            using var response = await stormClient.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens",
                EmberFixture.PasswordAuth("storm-" + i, "guess"));
            return (response.StatusCode, response.Headers.RetryAfter);
        }).ToList();

        for (var i = 0; i < 5; i++)
        {
            using var listed = await demo.GetAsync("/volume/v3/volumes");
            Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        }

        var results = await Task.WhenAll(storm);
        Assert.All(results, r => Assert.True(r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, r.StatusCode.ToString()));
        Assert.Contains(results, r => r.StatusCode == HttpStatusCode.TooManyRequests && r.RetryAfter is not null);
        Assert.Contains(results, r => r.StatusCode == HttpStatusCode.Unauthorized);
        Assert.Equal(1, ember.Host.Services.GetRequiredService<LoginGuard>().MaxConcurrentVerifications);
    }
}
