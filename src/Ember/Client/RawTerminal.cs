using System.Runtime.InteropServices;

namespace Ember.Client;

/// <summary>
/// Puts a terminal in raw mode (cfmakeraw: no echo, no line editing, no signals from keys, no output
/// processing) and restores the saved settings when disposed.
/// </summary>
/// <remarks>
/// termios is set through libc rather than by running `stty raw -echo`: the .NET runtime re-applies its own
/// terminal settings whenever a child process it started exits, which undid stty's change at once
/// (seen as local echo and doubled carriage returns in the console).
/// </remarks>
public sealed partial class RawTerminal : IDisposable
{
    /// <summary>Larger than struct termios on every Linux ABI (60 bytes on x86_64 and arm64); the bytes are opaque here.</summary>
    private const int TermiosBytes = 256;
    private const int Tcsanow = 0;

    private readonly int _fd;
    private readonly byte[] _saved;
    private bool _restored;

    private RawTerminal(int fd, byte[] saved)
    {
        _fd = fd;
        _saved = saved;
    }

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static partial int TcGetAttr(int fd, Span<byte> termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static partial int TcSetAttr(int fd, int optionalActions, ReadOnlySpan<byte> termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    private static partial void CfMakeRaw(Span<byte> termios);

    /// <summary>Switches <paramref name="fd"/> (stdin by default) to raw mode.</summary>
    public static RawTerminal Enter(int fd = 0)
    {
        var saved = new byte[TermiosBytes];
        if (TcGetAttr(fd, saved) != 0)
        {
            throw new CliException($"Cannot read the terminal settings (errno {Marshal.GetLastPInvokeError()}).");
        }

        var raw = (byte[])saved.Clone();
        CfMakeRaw(raw);
        if (TcSetAttr(fd, Tcsanow, raw) != 0)
        {
            throw new CliException($"Cannot put the terminal in raw mode (errno {Marshal.GetLastPInvokeError()}).");
        }

        return new RawTerminal(fd, saved);
    }

    public void Dispose()
    {
        if (!_restored)
        {
            _restored = true;
            _ = TcSetAttr(_fd, Tcsanow, _saved);
        }
    }
}
