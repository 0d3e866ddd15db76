namespace Ember.Compute.Qemu;

/// <summary>The outcome of a command run in the guest. <see cref="TimedOut"/> means the command may still be running.</summary>
/// <param name="ExitCode">The exit status; 128 + signal when killed by a signal; -1 when timed out.</param>
public sealed record GuestExecResult(int ExitCode, string StdOut, string StdErr, bool TimedOut);
