using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Common;

/// <summary>
/// Runs the slow half of operations off the request thread, for volume (create, copy, delete, extend, snapshot)
/// and compute (spawn, attach, power, delete). Nothing is persisted here: the state machines in the rows are
/// the record, and each area's start-up recovery finishes or fails what a crash interrupted. On shutdown it
/// cancels and waits for what is running, so no file operation or QEMU start is cut off unobserved.
/// </summary>
public sealed partial class BackgroundWork(ILogger<BackgroundWork> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Task> _running = new();
    private long _next;

    /// <summary>Cancelled when the host stops; for loops that run as long as the host (e.g. a periodic trim).</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>
    /// Starts <paramref name="work"/> with a log scope naming its resource (e.g. ("VolumeId", id)); <paramref name="onError"/>
    /// runs when it throws (e.g. status -> error), also when a shutdown cancelled it; what neither finishes nor
    /// fails is left to the next start's recovery.
    /// </summary>
    public void Run(string what, (string Key, string Id) resource, Func<CancellationToken, Task> work, Func<Exception, Task>? onError = null)
    {
        var id = Interlocked.Increment(ref _next);
        var token = _stopping.Token;
        var task = Task.Run(async () =>
        {
            // A message template rather than a dictionary: the console prints a template's text, a dictionary's type name.
            using var scope = logger.BeginScope(resource.Key + ":{" + resource.Key + "}", resource.Id);
            try
            {
                await work(token);
            }
            catch (Exception ex)
            {
                if (ex is OperationCanceledException && token.IsCancellationRequested)
                {
                    LogAbandoned(logger, what, resource.Id);
                }
                else
                {
                    LogFailed(logger, what, resource.Id, ex);
                }

                if (onError is not null)
                {
                    try
                    {
                        await onError(ex);
                    }
                    catch (Exception inner)
                    {
                        LogFailed(logger, what + " (error handler)", resource.Id, inner);
                    }
                }
            }
            finally
            {
                _running.TryRemove(id, out _);
            }
        }, CancellationToken.None);
        _running[id] = task;
    }

    /// <summary>Waits for everything started so far (tests and shutdown).</summary>
    public Task DrainAsync() => Task.WhenAll(_running.Values);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Cancels all work and waits for it until <paramref name="cancellationToken"/>; calling it again is harmless.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await DrainAsync().WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Background work {What} failed for {ResourceId}")]
    private static partial void LogFailed(ILogger logger, string what, string resourceId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Background work {What} for {ResourceId} cancelled by shutdown")]
    private static partial void LogAbandoned(ILogger logger, string what, string resourceId);
}

public static class BackgroundWorkServices
{
    /// <summary>The one runner of compute and volume, registered before their services so it stops after them.</summary>
    public static IServiceCollection AddBackgroundWork(this IServiceCollection services) =>
        services.AddSingleton<BackgroundWork>().AddHostedService(sp => sp.GetRequiredService<BackgroundWork>());
}
