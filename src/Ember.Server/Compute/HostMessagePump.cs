using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// The host side of <see cref="HostMessageQueue"/>: takes this host's casts in order and hands them to its
/// <see cref="ComputeHostManager"/>, when PostgreSQL notifies it and every few seconds besides (a notification sent
/// while the listener was reconnecting is not lost that way; SQLite has no notifications and is polled).
/// </summary>
public sealed partial class HostMessagePump(HostMessageQueue queue, ComputeHostManager host, ILogger<HostMessagePump> logger) : BackgroundService
{
    private static readonly TimeSpan s_poll = TimeSpan.FromSeconds(2);
    private const int Batch = 32;

    /// <summary>Delivers every cast waiting for this host; returns how many.</summary>
    public async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        int taken;
        do
        {
            taken = await queue.ClaimAsync(host.Name, Batch, DeliverAsync, cancellationToken);
            total += taken;
        }
        while (taken == Batch);
        return total;
    }

    private Task DeliverAsync(QueuedCast cast) => cast.Message switch
    {
        SpawnServer spawn => host.SpawnAsync(spawn, CancellationToken.None),
        AttachVolume attach => host.AttachVolumeAsync(attach, CancellationToken.None),
        DetachVolume detach => host.DetachVolumeAsync(detach, CancellationToken.None),
        DetachInterface detach => host.DetachInterfaceAsync(detach, CancellationToken.None),
        PowerAction power => host.PowerAsync(power, CancellationToken.None),
        DeleteServer delete => host.DeleteAsync(delete, CancellationToken.None),
        SnapshotServer snapshot => host.SnapshotAsync(snapshot, CancellationToken.None),
        RebuildServer rebuild => host.RebuildAsync(rebuild, CancellationToken.None),
        ResizeServer resize => host.ResizeAsync(resize, CancellationToken.None),
        ShelveServer shelve => host.ShelveAsync(shelve, CancellationToken.None),
        RescueServer rescue => host.RescueAsync(rescue, CancellationToken.None),
        var other => throw new InvalidOperationException($"No delivery for {other.GetType().Name}."),
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var listener = await queue.ListenAsync(host.Name, stoppingToken);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await DrainAsync(stoppingToken);
                    if (listener is null)
                    {
                        await Task.Delay(s_poll, stoppingToken);
                    }
                    else
                    {
                        await listener.WaitAsync(s_poll, stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (Data.Database.IsUnavailable(ex))
            {
                LogUnavailable(logger, ex.Message);
                await Task.Delay(s_poll, stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute host queue: the database is unavailable ({Reason}); retrying")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
