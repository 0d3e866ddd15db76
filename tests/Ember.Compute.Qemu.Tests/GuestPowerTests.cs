using Xunit.Abstractions;

namespace Ember.Compute.Qemu.Tests;

/// <summary>Power actions on a real guest (its own VM, after <see cref="GuestTests"/> in the same collection).</summary>
[Collection("guest")]
public sealed class GuestPowerTests : IClassFixture<GuestFixture>, IDisposable
{
    private readonly GuestFixture _guest;

    public GuestPowerTests(GuestFixture guest, ITestOutputHelper output)
    {
        _guest = guest;
        guest.Logs.Output = output;
    }

    public void Dispose() => _guest.Logs.Output = null;

    [Fact]
    public async Task Soft_reboot_goes_through_acpi_and_the_guest_comes_back_then_acpi_shutdown_is_clean()
    {
        var machine = _guest.Machine;
        var marker = await machine.Agent.ExecAsync("/bin/sh", ["-c", "echo up > /tmp/marker"], null, TimeSpan.FromSeconds(60), default);
        Assert.Equal(0, marker.ExitCode);
        var guestShutdown = machine.Qmp.WaitForEventAsync("SHUTDOWN", e => e.Data.GetProperty("guest").GetBoolean());

        await machine.RebootAsync(hard: false, TimeSpan.FromSeconds(120), default);

        await guestShutdown.WaitAsync(TimeSpan.FromSeconds(5)); // the guest shut itself down: ACPI, not a reset
        Assert.False(machine.Exited.IsCompleted);
        Assert.True(await machine.Agent.PingAsync(GuestFixture.BootTimeout, default));
        var after = await machine.Agent.ExecAsync("/bin/sh", ["-c", "cat /tmp/marker 2>/dev/null || echo fresh"], null, TimeSpan.FromSeconds(60), default);
        Assert.Equal("fresh\n", after.StdOut); // /tmp is in RAM: a new boot

        var clean = await machine.ShutdownAsync(TimeSpan.FromSeconds(120), default);

        Assert.True(clean);
        Assert.True(machine.Exited.IsCompleted);
        Assert.Equal(0, machine.ExitCode);
    }
}
