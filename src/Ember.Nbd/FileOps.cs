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

    [LibraryImport("libc", EntryPoint = "preadv2", SetLastError = true)]
    private static unsafe partial nint Preadv2(SafeFileHandle fd, IoVec* iov, int iovcnt, long offset, int flags);

    [LibraryImport("libc", EntryPoint = "pwritev2", SetLastError = true)]
    private static unsafe partial nint Pwritev2(SafeFileHandle fd, IoVec* iov, int iovcnt, long offset, int flags);

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    private const int RwfNoWait = 0x08;
    private static bool s_noWaitReads = OperatingSystem.IsLinux();
    private static bool s_noWaitWrites = OperatingSystem.IsLinux();

    /// <summary>
    /// Reads from the page cache without blocking (preadv2 RWF_NOWAIT): the request loop can answer cached reads
    /// inline, and only reads that would wait for the disk go to the thread pool. Returns -1 if it would block.
    /// </summary>
    public static unsafe int TryReadNoWait(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        if (!s_noWaitReads)
            return -1;
        fixed (byte* p = buffer)
        {
            var iov = new IoVec { Base = p, Length = (nuint)buffer.Length };
            var n = Preadv2(handle, &iov, 1, offset, RwfNoWait);
            if (n >= 0)
                return (int)n;
            var errno = Marshal.GetLastPInvokeError();
            if (errno is 95 or 38)
                s_noWaitReads = false; // kernel or file system without RWF_NOWAIT reads
            return -1;
        }
    }

    /// <summary>Writes into the page cache without blocking (pwritev2 RWF_NOWAIT); -1 if it would block or is unsupported.</summary>
    public static unsafe int TryWriteNoWait(SafeFileHandle handle, ReadOnlySpan<byte> buffer, long offset)
    {
        if (!s_noWaitWrites)
            return -1;
        fixed (byte* p = buffer)
        {
            var iov = new IoVec { Base = p, Length = (nuint)buffer.Length };
            var n = Pwritev2(handle, &iov, 1, offset, RwfNoWait);
            if (n >= 0)
                return (int)n;
            var errno = Marshal.GetLastPInvokeError();
            if (errno is 95 or 38)
                s_noWaitWrites = false; // buffered RWF_NOWAIT writes are file-system dependent
            return -1;
        }
    }

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
