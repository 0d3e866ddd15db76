using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ember.Nbd;

/// <summary>
/// Blocking socket I/O with plain syscalls for <see cref="NbdConnectionModel.DedicatedThread"/>: the connection's own
/// thread sleeps in <c>recv</c>/<c>poll</c> and is woken by the kernel, with no epoll thread or thread-pool hop.
/// Works whether the descriptor is blocking or not (EAGAIN waits in <c>poll</c>).
/// </summary>
internal static partial class SocketOps
{
    private const int Eintr = 4;
    private const int Eagain = 11;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const short PollIn = 0x001;
    private const short PollOut = 0x004;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Recv(SafeSocketHandle fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(SafeSocketHandle fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeout);

    /// <summary>Receives at least one byte, blocking until some arrive; 0 at end of stream.</summary>
    public static unsafe int Receive(SafeSocketHandle handle, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Recv(handle, p, (nuint)buffer.Length, 0);
                if (n >= 0)
                    return (int)n;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Eintr)
                    continue;
                if (errno != Eagain)
                    throw new IOException($"recv failed: errno {errno}", errno);
                Wait(handle, PollIn);
            }
        }
    }

    /// <summary>
    /// Sends from the start of <paramref name="data"/>. With <paramref name="mayBlock"/> it sends everything (waiting in
    /// poll while the socket is full); without, it stops at the first EAGAIN. Returns the bytes sent.
    /// </summary>
    public static unsafe int Send(SafeSocketHandle handle, ReadOnlySpan<byte> data, bool mayBlock)
    {
        var done = 0;
        fixed (byte* p = data)
        {
            while (done < data.Length)
            {
                var n = Send(handle, p + done, (nuint)(data.Length - done), MsgNoSignal | MsgDontWait);
                if (n >= 0)
                {
                    done += (int)n;
                    continue;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Eintr)
                    continue;
                if (errno != Eagain)
                    throw new IOException($"send failed: errno {errno}", errno);
                if (!mayBlock)
                    break;
                Wait(handle, PollOut);
            }
        }
        return done;
    }

    private static unsafe void Wait(SafeSocketHandle handle, short events)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = new PollFd { Fd = (int)handle.DangerousGetHandle(), Events = events };
            // POLLHUP/POLLERR also end the wait; the next recv/send reports them.
            if (Poll(&fd, 1, -1) < 0 && Marshal.GetLastPInvokeError() != Eintr)
                throw new IOException($"poll failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }
}

/// <summary>
/// The socket as a synchronous <see cref="Stream"/>, for the handshake's pipes on a dedicated connection thread:
/// the async methods complete synchronously, so no .NET async socket operation ever registers the socket with epoll.
/// </summary>
internal sealed class BlockingSocketStream(Socket socket) : Stream
{
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer) => buffer.IsEmpty ? 0 : SocketOps.Receive(socket.SafeHandle, buffer);
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer) => SocketOps.Send(socket.SafeHandle, buffer, mayBlock: true);
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            socket.Dispose();
        base.Dispose(disposing);
    }
}
