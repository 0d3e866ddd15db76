using System.Runtime.InteropServices;

namespace Ember.Server.Volume.Rbd;

/// <summary>A librados/librbd call failed: the message names the call, its object and the errno's text.</summary>
public sealed class RbdException(string operation, int errno)
    : Exception($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public const int NotFound = 2;        // ENOENT
    public const int Busy = 16;           // EBUSY
    public const int Exists = 17;         // EEXIST
    public const int InvalidArgument = 22; // EINVAL
    public const int OutOfRange = 34;     // ERANGE
    public const int NotEmpty = 39;       // ENOTEMPTY
    public const int NoSpace = 28;        // ENOSPC
    public const int QuotaExceeded = 122; // EDQUOT

    /// <summary>The positive errno.</summary>
    public int Errno { get; } = errno;

    /// <summary>Throws unless <paramref name="result"/> is 0 or positive (the C calls return -errno).</summary>
    internal static int Check(int result, string operation) => result >= 0 ? result : throw new RbdException(operation, -result);
}
