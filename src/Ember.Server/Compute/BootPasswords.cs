using System.Collections.Concurrent;

namespace Ember.Server.Compute;

/// <summary>
/// Boot admin passwords that a controller handed to this compute host by call (over mutual TLS) just before it
/// queued the spawn, which travels through the database without its password. Held in memory only, until the spawn
/// takes it or an hour has passed (the server was deleted before it was built, or the cast went to another process).
/// </summary>
public sealed class BootPasswords(TimeProvider clock)
{
    private static readonly TimeSpan s_keep = TimeSpan.FromHours(1);
    private readonly ConcurrentDictionary<string, (string Password, DateTimeOffset Until)> _held = new();

    public void Hold(string serverId, string password)
    {
        var now = clock.GetUtcNow();
        foreach (var (id, held) in _held)
        {
            if (held.Until < now)
            {
                _held.TryRemove(id, out _);
            }
        }

        _held[serverId] = (password, now + s_keep);
    }

    /// <summary>The password held for <paramref name="serverId"/>, once; null when none came (or it expired).</summary>
    public string? Take(string serverId) =>
        _held.TryRemove(serverId, out var held) && held.Until >= clock.GetUtcNow() ? held.Password : null;
}
