namespace Ember.Server.Tests.Support;

/// <summary>An Ember host with the guest image registered as the public image ember-tiny, for tests that boot VMs.</summary>
public class CloudFixture : EmberFixture
{
    public CloudFixture()
        : this(onPostgres: false)
    {
    }

    protected CloudFixture(bool onPostgres)
        : base(onPostgres)
    {
    }

    protected override async Task ConfigureAsync(EmberOptions options) =>
        options.Image.DefaultImagePath = await GuestImage.PathAsync();
}

/// <summary>The same cloud with its state in a throwaway PostgreSQL cluster: compute, volumes and images on the shared store.</summary>
public sealed class PostgresCloudFixture() : CloudFixture(onPostgres: true);
