using Ember.Compute.Qemu;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Tests.Fuzz;

/// <summary>An Ember host whose QEMU is /bin/false: every boot fails at once, so fuzzed server creates never start a VM.</summary>
public sealed class FuzzFixture : EmberFixture
{
    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddSingleton(sp => new QemuDriver(
            new QemuDriverOptions { QemuBinary = "/bin/false", Accelerator = "tcg", StartTimeout = TimeSpan.FromSeconds(5) },
            sp.GetRequiredService<ILoggerFactory>()));
}
