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
}

/// <summary>A <see cref="FuzzFixture"/> whose state is in PostgreSQL.</summary>
public sealed class PostgresFuzzFixture() : FuzzFixture(onPostgres: true);
