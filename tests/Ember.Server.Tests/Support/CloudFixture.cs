namespace Ember.Server.Tests.Support;

/// <summary>An Ember host with the guest image registered as the public image ember-tiny, for tests that boot VMs.</summary>
public sealed class CloudFixture : EmberFixture
{
    protected override async Task ConfigureAsync(EmberOptions options) =>
        options.Image.DefaultImagePath = await GuestImage.PathAsync();
}
