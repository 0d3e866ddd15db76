using System.Threading.RateLimiting;
using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>
/// What stands between a password guesser and the hasher: failed-login budgets per user name and per client
/// address (429 with Retry-After), a bounded number of hashes at once so guessing cannot starve the thread
/// pool, and one hash for every attempt whether or not the user exists (no timing oracle).
/// </summary>
public sealed class LoginGuard : IDisposable
{
    // A hash nobody's password matches, with the cost of a real one: checked when there is no user to check against.
    private static readonly Lazy<string> s_dummyHash = new(() => PasswordHasher.Hash(Ids.NewSecret()));

    private readonly ConcurrencyLimiter _hashing;
    private readonly PartitionedRateLimiter<string> _perUser;
    private readonly PartitionedRateLimiter<string> _perSource;
    private long _verifications;
    private int _inFlight;
    private int _maxInFlight;

    public LoginGuard(IOptions<IdentityOptions> options)
    {
        var settings = options.Value;
        var slots = settings.MaxConcurrentPasswordHashes > 0 ? settings.MaxConcurrentPasswordHashes : Math.Max(1, Environment.ProcessorCount - 1);
        _hashing = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = slots,
            QueueLimit = settings.PasswordHashQueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        var window = TimeSpan.FromSeconds(Math.Max(1, settings.FailedLoginWindowSeconds));
        _perUser = FailureBudget(settings.FailedLoginsPerUser, window);
        _perSource = FailureBudget(settings.FailedLoginsPerSource, window);
    }

    /// <summary>Password verifications done so far (real or dummy): one per attempt that reached the hasher.</summary>
    public long Verifications => Interlocked.Read(ref _verifications);

    /// <summary>The most verifications that ran at the same time.</summary>
    public int MaxConcurrentVerifications => Volatile.Read(ref _maxInFlight);

    /// <summary>Computes the dummy hash now, at start, so the first unknown-user login costs no more than any other.</summary>
    public static void Warm() => _ = s_dummyHash.Value;

    /// <summary>429 with Retry-After when the user name or the client address (<paramref name="source"/>) has used up its failed logins.</summary>
    public void ThrowIfThrottled(string source, string userKey)
    {
        Throttle(_perSource, source);
        Throttle(_perUser, userKey);
    }

    /// <summary>Counts a failed login against the user name and the client address.</summary>
    public void RecordFailure(string source, string userKey)
    {
        _perSource.AttemptAcquire(source).Dispose();
        _perUser.AttemptAcquire(userKey).Dispose();
    }

    /// <summary>
    /// Checks <paramref name="password"/> against <paramref name="storedHash"/>, or against a dummy hash of the
    /// same cost when there is none (unknown or disabled user), waiting for a hashing slot; 429 when too many wait.
    /// </summary>
    public async Task<bool> VerifyAsync(string password, string? storedHash, CancellationToken cancellationToken)
    {
        using var slot = await _hashing.AcquireAsync(1, cancellationToken);
        if (!slot.IsAcquired)
        {
            throw TooMany(TimeSpan.FromSeconds(1));
        }

        var running = Interlocked.Increment(ref _inFlight);
        try
        {
            UpdateMax(running);
            Interlocked.Increment(ref _verifications);
            var usable = PasswordHasher.IsWellFormed(storedHash);
            var matches = PasswordHasher.Verify(password, usable ? storedHash : s_dummyHash.Value);
            return usable && matches;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public void Dispose()
    {
        _hashing.Dispose();
        _perUser.Dispose();
        _perSource.Dispose();
    }

    private static PartitionedRateLimiter<string> FailureBudget(int failures, TimeSpan window) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = Math.Max(1, failures),
            Window = window,
            QueueLimit = 0,
        }));

    private static void Throttle(PartitionedRateLimiter<string> budget, string key)
    {
        // Zero permits asks "is any left?" without spending one: only failures spend.
        using var probe = budget.AttemptAcquire(key, 0);
        if (!probe.IsAcquired)
        {
            throw TooMany(probe.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? retry : TimeSpan.FromSeconds(1));
        }
    }

    private static ApiException TooMany(TimeSpan retryAfter) =>
        new(ErrorKind.OverLimit, "Too many failed authentication attempts; try again later.") { RetryAfter = retryAfter };

    private void UpdateMax(int running)
    {
        var seen = Volatile.Read(ref _maxInFlight);
        while (running > seen && Interlocked.CompareExchange(ref _maxInFlight, running, seen) != seen)
        {
            seen = Volatile.Read(ref _maxInFlight);
        }
    }
}
