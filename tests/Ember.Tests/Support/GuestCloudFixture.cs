using Ember.Server;

namespace Ember.Tests.Support;

/// <summary>An Ember host with the guest image registered as the public image ember-tiny, for tests that boot VMs.</summary>
public class GuestCloudFixture : CliFixture
{
    protected override async Task ConfigureAsync(EmberOptions options) => options.Image.DefaultImagePath = await GuestImage.PathAsync();
}

/// <summary>Test classes that boot guest VMs share one xUnit collection, so they run one after another: two cores do not carry several TCG guests well.</summary>
public static class GuestVms
{
    public const string Collection = "guest VMs";
}
