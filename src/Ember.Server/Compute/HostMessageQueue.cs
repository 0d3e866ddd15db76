using System.Collections.Frozen;
using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Dapper;
using Ember.Server.Data;
using Npgsql;

namespace Ember.Server.Compute;

/// <summary>A cast waiting for its host: the message as <see cref="ComputeHostJson"/> writes it, in enqueue order.</summary>
public sealed record QueuedCast(long Seq, string Host, string ServerId, string Kind, string Body)
{
    /// <summary>The message record this cast carries (SpawnServer, AttachVolume, ...).</summary>
    public object Message => JsonSerializer.Deserialize(Body, HostMessageQueue.ContractOf(Kind))!;
}

/// <summary>
/// How casts reach a compute host on another machine with no message bus of Ember's own: a row per cast in the shared
/// database, and on PostgreSQL a NOTIFY on <see cref="Channel"/> carrying the host's name, sent when the row commits.
/// The host claims its rows in order (FOR UPDATE SKIP LOCKED, so two processes of one host never take the same cast),
/// hands each to its manager and deletes them in the same transaction: a host that dies before the commit gets them
/// again, which the manager tolerates because every cast re-reads the server's row first.
/// </summary>
public sealed class HostMessageQueue(Database db, TimeProvider clock)
{
    public const string Channel = "ember_compute";
    public const string Spawn = "spawn";
    public const string Attach = "attach";
    public const string Detach = "detach";
    public const string DetachPort = "detach-port";
    public const string Power = "power";
    public const string Delete = "delete";
    public const string Snapshot = "snapshot";
    public const string Rebuild = "rebuild";
    public const string Resize = "resize";
    public const string Shelve = "shelve";
    public const string Rescue = "rescue";

    /// <summary>
    /// Every cast the queue carries: the kind written in its row, and its message's contract. The one place a cast is
    /// added; writing looks a message's type up here, reading a row's kind.
    /// </summary>
    private static readonly FrozenDictionary<string, JsonTypeInfo> s_contracts = new Dictionary<string, JsonTypeInfo>
    {
        [Spawn] = ComputeHostJson.Default.SpawnServer,
        [Attach] = ComputeHostJson.Default.AttachVolume,
        [Detach] = ComputeHostJson.Default.DetachVolume,
        [DetachPort] = ComputeHostJson.Default.DetachInterface,
        [Power] = ComputeHostJson.Default.PowerAction,
        [Delete] = ComputeHostJson.Default.DeleteServer,
        [Snapshot] = ComputeHostJson.Default.SnapshotServer,
        [Rebuild] = ComputeHostJson.Default.RebuildServer,
        [Resize] = ComputeHostJson.Default.ResizeServer,
        [Shelve] = ComputeHostJson.Default.ShelveServer,
        [Rescue] = ComputeHostJson.Default.RescueServer,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<Type, string> s_kinds = s_contracts.ToFrozenDictionary(c => c.Value.Type, c => c.Key);

    /// <summary>The contract of a row's kind.</summary>
    /// <exception cref="InvalidOperationException">The kind is not one of the casts (a row written by a newer version, say).</exception>
    public static JsonTypeInfo ContractOf(string kind) =>
        s_contracts.TryGetValue(kind, out var contract) ? contract : throw new InvalidOperationException($"Unknown cast kind '{kind}'.");

    /// <summary>Queues <paramref name="message"/>, one of the casts of <see cref="IComputeHost"/>, for <paramref name="host"/>.</summary>
    /// <exception cref="ArgumentException">The message is not a cast (a call, say, which is never queued).</exception>
    public Task EnqueueAsync(string host, object message)
    {
        var kind = s_kinds.TryGetValue(message.GetType(), out var found) ? found
            : throw new ArgumentException($"{message.GetType().Name} is not a cast.", nameof(message));
        // The boot password never goes into the database (and so into its WAL and backups).
        object written = message switch
        {
            SpawnServer spawn => spawn with { AdminPass = null },
            RebuildServer rebuild => rebuild with { AdminPass = null },
            RescueServer rescue => rescue with { AdminPass = null },
            _ => message,
        };
        var body = JsonSerializer.SerializeToElement(written, s_contracts[kind]);
        // Every cast names its server; the row's column is read from the body so that the two cannot disagree.
        return EnqueueAsync(host, body.GetProperty("serverId").GetString()!, kind, body.GetRawText());
    }

    private async Task EnqueueAsync(string host, string serverId, string kind, string body)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync(
            "INSERT INTO compute_host_messages (host, server_id, kind, body, created_at) VALUES (@host, @serverId, @kind, @body, @now)",
            new { host, serverId, kind, body, now = clock.GetUtcNow().UtcDateTime }, tx);
        if (db.Dialect.Engine == DatabaseEngine.PostgreSql)
        {
            await c.ExecuteAsync("SELECT pg_notify(@channel, @host)", new { channel = Channel, host }, tx);
        }

        await tx.CommitAsync();
    }

    /// <summary>
    /// Takes up to <paramref name="max"/> of <paramref name="host"/>'s casts in order and hands each to
    /// <paramref name="deliver"/>; they are deleted when all were delivered. Returns how many were delivered.
    /// </summary>
    public async Task<int> ClaimAsync(string host, int max, Func<QueuedCast, Task> deliver, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        var skipLocked = db.Dialect.Engine == DatabaseEngine.PostgreSql ? " FOR UPDATE SKIP LOCKED" : "";
        var casts = (await c.QueryAsync<QueuedCast>(
            "SELECT seq, host, server_id AS ServerId, kind, body FROM compute_host_messages WHERE host = @host ORDER BY seq LIMIT @max" + skipLocked,
            new { host, max }, tx)).ToList();
        foreach (var cast in casts)
        {
            await deliver(cast);
        }

        if (casts.Count > 0)
        {
            await c.ExecuteAsync("DELETE FROM compute_host_messages WHERE seq " + db.Dialect.In("@seqs"), new { seqs = casts.Select(m => m.Seq).ToArray() }, tx);
        }

        await tx.CommitAsync(cancellationToken);
        return casts.Count;
    }

    /// <summary>
    /// A connection that is told when a cast for <paramref name="host"/> is committed (PostgreSQL LISTEN); null on
    /// SQLite, where the caller polls. Dispose it to stop listening.
    /// </summary>
    public async Task<HostMessageListener?> ListenAsync(string host, CancellationToken cancellationToken)
    {
        if (db.Dialect.Engine != DatabaseEngine.PostgreSql)
        {
            return null;
        }

        var connection = (NpgsqlConnection)await db.OpenAsync(cancellationToken);
        var listener = new HostMessageListener(connection, host);
        await connection.ExecuteAsync($"LISTEN {Channel}");
        return listener;
    }
}

/// <summary>A listening connection: <see cref="WaitAsync"/> returns when a cast for its host may be waiting.</summary>
public sealed class HostMessageListener : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private volatile bool _pending;

    internal HostMessageListener(NpgsqlConnection connection, string host)
    {
        _connection = connection;
        _connection.Notification += (_, e) => _pending |= e.Payload == host;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for a notification for this host; true when one came.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_pending && DateTime.UtcNow < deadline)
        {
            await _connection.WaitAsync(deadline - DateTime.UtcNow, cancellationToken);
        }

        var came = _pending;
        _pending = false;
        return came;
    }

    public ValueTask DisposeAsync() => ((DbConnection)_connection).DisposeAsync();
}
