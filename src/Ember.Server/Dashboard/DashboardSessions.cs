using System.Collections.Concurrent;
using System.Security.Cryptography;
using Ember.Server.Common;

namespace Ember.Server.Dashboard;

/// <summary>
/// A browser's login: the Keystone token it acts with (never sent to the browser) and the CSRF token its forms carry.
/// The cookie holds only the random session id; the map lives in memory, so a restart logs everyone out.
/// </summary>
public sealed record DashboardSession(string Id, string Token, string Csrf, string UserId, string UserName, string ProjectId, string ProjectName,
    bool IsCloudAdmin, DateTime ExpiresAt);

/// <summary>The live sessions by id; expired ones are swept as new ones are made.</summary>
public sealed class DashboardSessions
{
    public const string CookieName = "ember_session";

    /// <summary>Logins held at once: past this the oldest go, so a flood of logins cannot grow memory.</summary>
    private const int MaxSessions = 10_000;

    private readonly ConcurrentDictionary<string, DashboardSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _flash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _streams = new(StringComparer.Ordinal);

    /// <summary>Live event streams one session may hold open at once (a few tabs); each costs a connection and a timer.</summary>
    public const int MaxStreamsPerSession = 4;

    public DashboardSession Create(string token, string userId, string userName, string projectId, string projectName, bool isCloudAdmin, DateTime expiresAt)
    {
        Sweep();
        var session = new DashboardSession(Ids.NewSecret(), token, Ids.NewSecret(), userId, userName, projectId, projectName, isCloudAdmin, expiresAt);
        _sessions[session.Id] = session;
        return session;
    }

    public DashboardSession? Find(string? id) =>
        id is { Length: > 0 and <= 128 } && _sessions.TryGetValue(id, out var session) && session.ExpiresAt > DateTime.UtcNow ? session : null;

    public void Remove(string id)
    {
        _sessions.TryRemove(id, out _);
        _flash.TryRemove(id, out _);
    }

    /// <summary>Counts a new event stream of the session; false when it holds <see cref="MaxStreamsPerSession"/> already.</summary>
    public bool TryOpenStream(string id)
    {
        lock (_streams)
        {
            var open = _streams.GetValueOrDefault(id);
            if (open >= MaxStreamsPerSession)
            {
                return false;
            }

            _streams[id] = open + 1;
            return true;
        }
    }

    public void CloseStream(string id)
    {
        lock (_streams)
        {
            if (_streams.TryGetValue(id, out var open) && open > 1)
            {
                _streams[id] = open - 1;
            }
            else
            {
                _streams.Remove(id);
            }
        }
    }

    /// <summary>A message for the session's next page (an action the API refused, shown after the redirect).</summary>
    public void Flash(string id, string message) => _flash[id] = message.Length <= 2000 ? message : message[..2000];

    public string? TakeFlash(string id) => _flash.TryRemove(id, out var message) ? message : null;

    /// <summary>A form's CSRF token matches the session's (compared in constant time).</summary>
    public static bool CsrfMatches(DashboardSession session, string? given) =>
        given is { Length: > 0 and <= 128 }
        && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(session.Csrf), System.Text.Encoding.UTF8.GetBytes(given));

    private void Sweep()
    {
        var now = DateTime.UtcNow;
        foreach (var (id, session) in _sessions)
        {
            if (session.ExpiresAt <= now)
            {
                Remove(id);
            }
        }

        if (_sessions.Count >= MaxSessions)
        {
            foreach (var old in _sessions.Values.OrderBy(s => s.ExpiresAt).Take(_sessions.Count - MaxSessions + 1))
            {
                Remove(old.Id);
            }
        }
    }
}
