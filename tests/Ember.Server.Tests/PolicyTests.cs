using Ember.Server.Common;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests;

/// <summary>The policy table is one injected service made of each area's rows: complete, unambiguous, fail-closed.</summary>
public sealed class PolicyTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private static RequestContext Caller(string role, bool adminProject = false) =>
        new("u", "user", "default", "p", "project", [role], DateTime.UtcNow.AddHours(1), adminProject);

    [Fact]
    public void The_host_table_holds_every_area_and_an_unlisted_action_is_for_the_cloud_admin_only()
    {
        var policy = ember.Host.Services.GetRequiredService<Policy>();
        foreach (var prefix in new[] { "identity:", "image:", "volume:", "os_compute_api:" })
        {
            Assert.Contains(policy.Rules.Keys, action => action.StartsWith(prefix, StringComparison.Ordinal));
        }

        Assert.True(policy.Allows(Caller("reader"), "volume:get"));
        Assert.False(policy.Allows(Caller("reader"), "volume:create"));
        Assert.False(policy.Allows(Caller("admin"), "no:such_action")); // admin of an ordinary project
        Assert.True(policy.Allows(Caller("admin", adminProject: true), "no:such_action"));
    }

    [Fact]
    public void An_action_two_areas_register_is_refused_at_start()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new Policy([
            new PolicyRules([new("volume:get", PolicyRule.Reader)]),
            new PolicyRules([new("volume:get", PolicyRule.Admin)]),
        ]));
        Assert.Contains("volume:get", error.Message);
    }
}
