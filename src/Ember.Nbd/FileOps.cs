using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ember.Nbd;

/// <summary>Linux file operations .NET does not expose: hole punching, zeroing, SEEK_DATA/SEEK_HOLE, fdatasync.</summary>
internal static partial class FileOps
{
    private const int FallocFlKeepSize = 0x01;
    private const int FallocFlPunchHole = 0x02;
    private const int FallocFlZeroRange = 0x10;
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int Enxio = 6;
    private const int Eintr = 4;
    private const int PosixFadvWillNeed = 3;

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(SafeFileHandle fd, long offset, long length, int advice);

    /// <summary>Deallocates the range; it then reads as zeroes. False if the file system cannot punch holes.</summary>
    public static bool TryPunchHole(SafeFileHandle handle, long offset, long length) =>
        TryFallocate(handle, FallocFlPunchHole | FallocFlKeepSize, offset, length);

    /// <summary>Zeroes the range keeping it allocated. False if unsupported.</summary>
    public static bool TryZeroRange(SafeFileHandle handle, long offset, long length) =>
        TryFallocate(handle, FallocFlZeroRange | FallocFlKeepSize, offset, length);

    private static bool TryFallocate(SafeFileHandle handle, int mode, long offset, long length)
    {
        while (true)
        {
            if (Fallocate(handle, mode, offset, length) == 0)
                return true;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Eintr)
                continue;
            if (errno is 95 or 38 or 22) // EOPNOTSUPP, ENOSYS, EINVAL (mode not supported here)
                return false;
            throw new IOException($"fallocate failed: errno {errno}", errno);
        }
    }

    /// <summary>Next data offset at or after <paramref name="offset"/>, or <paramref name="fileEnd"/> if the rest is a hole.</summary>
    public static long SeekDataOrEnd(SafeFileHandle handle, long offset, long fileEnd)
    {
        var r = Lseek(handle, offset, SeekData);
        if (r >= 0)
            return r;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == Enxio)
            return fileEnd;
        if (errno is 22 or 95)
            return offset; // no SEEK_DATA support: everything is data
        throw new IOException($"lseek(SEEK_DATA) failed: errno {errno}", errno);
    }

    /// <summary>Next hole offset at or after <paramref name="offset"/> (end of file counts as a hole).</summary>
    public static long SeekHoleOrEnd(SafeFileHandle handle, long offset, long fileEnd)
    {
        var r = Lseek(handle, offset, SeekHole);
        if (r >= 0)
            return r;
        var errno = Marshal.GetLastPInvokeError();
        if (errno is Enxio or 22 or 95)
            return fileEnd;
        throw new IOException($"lseek(SEEK_HOLE) failed: errno {errno}", errno);
    }

    /// <summary>fdatasync: data and the metadata needed to read it back are durable.</summary>
    public static void FlushData(SafeFileHandle handle)
    {
        while (Fdatasync(handle) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Eintr)
                throw new IOException($"fdatasync failed: errno {errno}", errno);
        }
    }

    /// <summary>Read-ahead hint for NBD_CMD_CACHE; errors are ignored because it is only advice.</summary>
    public static void WillNeed(SafeFileHandle handle, long offset, long length) => _ = PosixFadvise(handle, offset, length, PosixFadvWillNeed);
}
