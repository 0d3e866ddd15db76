using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Ember.Server.Dashboard;

// Server-Sent Events: the topology and a volume's I/O pushed to the page instead of polled. The page falls back to
// polling the .json/io URLs when EventSource is missing or a stream is refused.
public static partial class DashboardApi
{
    /// <summary>How often the data is read again (the polling pages use the same period).</summary>
    internal static readonly TimeSpan EventPeriod = TimeSpan.FromSeconds(2);

    /// <summary>A comment line when nothing else went out for this long, so proxies and browsers keep the stream open.</summary>
    internal static readonly TimeSpan HeartbeatPeriod = TimeSpan.FromSeconds(15);

    /// <summary>A stream ends after this long; the browser's EventSource opens a new one (and the session is checked again).</summary>
    internal static readonly TimeSpan EventStreamLifetime = TimeSpan.FromMinutes(30);

    private const string SessionEnded = "event: end\ndata: the session ended\n\n";

    /// <summary>
    /// An event stream for the session: <paramref name="read"/> every <see cref="EventPeriod"/>, sent as a data event
    /// (only when it changed, with <paramref name="onlyChanges"/>). It ends when the browser goes, the session ends
    /// (logout, expiry, another project), the lifetime is up, the server stops, or the cloud refuses a read. A session
    /// holds at most <see cref="DashboardSessions.MaxStreamsPerSession"/> streams: past that, a 429 (the page polls instead).
    /// </summary>
    private static IResult LiveEvents(HttpContext http, DashboardSession session, Func<Task<JsonObject>> read, bool onlyChanges)
    {
        var sessions = http.RequestServices.GetRequiredService<DashboardSessions>();
        if (!sessions.TryOpenStream(session.Id))
        {
            return Results.Text($"This session has {DashboardSessions.MaxStreamsPerSession} live views open already; close one or let the page poll.",
                statusCode: 429);
        }

        return new EventStreamResult(async () =>
        {
            try
            {
                await StreamAsync(http, sessions, session, read, onlyChanges);
            }
            finally
            {
                sessions.CloseStream(session.Id);
            }
        });
    }

    private static async Task StreamAsync(HttpContext http, DashboardSessions sessions, DashboardSession session, Func<Task<JsonObject>> read, bool onlyChanges)
    {
        var stopping = http.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        ended.CancelAfter(EventStreamLifetime);
        var response = http.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no"; // a proxy in front must not hold the events back
        await WriteAsync(response, ": live\n\n", ended.Token);

        string? last = null;
        var quiet = TimeSpan.Zero;
        using var timer = new PeriodicTimer(EventPeriod);
        try
        {
            do
            {
                if (sessions.Find(session.Id) is null)
                {
                    await WriteAsync(response, SessionEnded, ended.Token);
                    return;
                }

                JsonObject data;
                try
                {
                    data = await read();
                }
                catch (CloudApiException ex)
                {
                    // A logout during the read revoked the token after it forgot the session: that is the reason to give.
                    await WriteAsync(response, sessions.Find(session.Id) is null ? SessionEnded : "event: end\ndata: " + ex.Message.ReplaceLineEndings(" ") + "\n\n",
                        ended.Token);
                    return;
                }

                var json = data.ToJsonString();
                if (!onlyChanges || json != last)
                {
                    await WriteAsync(response, "data: " + json + "\n\n", ended.Token);
                    (last, quiet) = (json, TimeSpan.Zero);
                }
                else if ((quiet += EventPeriod) >= HeartbeatPeriod)
                {
                    await WriteAsync(response, ": heartbeat\n\n", ended.Token);
                    quiet = TimeSpan.Zero;
                }
            }
            while (await timer.WaitForNextTickAsync(ended.Token));
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            // The browser went, the lifetime is up or the server stops: the stream just ends.
        }
    }

    private static async Task WriteAsync(HttpResponse response, string text, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private sealed class EventStreamResult(Func<Task> run) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => run();
    }
}
