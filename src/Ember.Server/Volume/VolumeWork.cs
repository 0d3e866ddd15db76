using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Volume;

/// <summary>
/// Runs the slow half of volume operations (create, copy, delete, extend, snapshot) off the request thread.
/// On shutdown it cancels and waits for what is running, so no file operation is cut off unobserved.
/// </summary>
public sealed partial class VolumeWork(ILogger<VolumeWork> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Task> _running = new();
    private long _next;

    /// <summary>Starts <paramref name="work"/>; <paramref name="onError"/> runs when it throws (e.g. status -> error).</summary>
    public void Run(string what, string resourceId, Func<CancellationToken, Task> work, Func<Exception, Task> onError)
    {
        var id = Interlocked.Increment(ref _next);
        var token = _stopping.Token;
        var task = Task.Run(async () =>
        {
            using var scope = logger.BeginScope(new Dictionary<string, object> { ["VolumeId"] = resourceId });
            try
            {
                await work(token);
            }
            catch (Exception ex)
            {
                LogFailed(logger, what, resourceId, ex);
                try
                {
                    await onError(ex);
                }
                catch (Exception inner)
                {
                    LogFailed(logger, what + " (error handler)", resourceId, inner);
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

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await DrainAsync().WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Volume work {What} failed for {ResourceId}")]
    private static partial void LogFailed(ILogger logger, string what, string resourceId, Exception exception);
}
