namespace Ember.Server.Compute;

/// <summary>
/// Who may call a compute host: a process whose certificate fingerprint is in a registered service row other than
/// nova-compute (a controller's nova-conductor and nova-scheduler). The set is cached and read again on an unknown
/// fingerprint (a controller that has just started) and when it is older than <see cref="s_maxAge"/> (so a deleted
/// controller row stops being let in).
/// </summary>
public sealed class RegisteredCallers(ComputeServiceStore services, TimeProvider clock)
{
    private static readonly TimeSpan s_maxAge = TimeSpan.FromMinutes(5);
    private volatile Snapshot _known = new([], DateTimeOffset.MinValue);

    public async ValueTask<bool> IsAllowedAsync(string sha256, CancellationToken cancellationToken)
    {
        var known = _known;
        if (known.Fingerprints.Contains(sha256) && clock.GetUtcNow() - known.ReadAt < s_maxAge)
        {
            return true;
        }

        var read = new Snapshot([.. await services.ListCallerFingerprintsAsync(cancellationToken)], clock.GetUtcNow());
        _known = read;
        return read.Fingerprints.Contains(sha256);
    }

    private sealed record Snapshot(HashSet<string> Fingerprints, DateTimeOffset ReadAt);
}
