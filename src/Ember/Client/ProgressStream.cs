namespace Ember.Client;

/// <summary>A read-only wrapper that draws "[=====     ]  48% 12.0/25.0 MiB" on stderr as bytes pass (only on a terminal).</summary>
public sealed class ProgressStream(Stream inner, long total, TextWriter? terminal) : Stream
{
    private long _done;
    private int _lastPercent = -1;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position { get => _done; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Count(int read)
    {
        _done += read;
        if (terminal is not null && total > 0)
        {
            var percent = (int)(_done * 100 / total);
            if (percent != _lastPercent)
            {
                _lastPercent = percent;
                var filled = percent * 30 / 100;
                terminal.Write($"\r[{new string('=', filled)}{new string(' ', 30 - filled)}] {percent,3}% {_done / 1048576.0:0.0}/{total / 1048576.0:0.0} MiB");
                if (_done >= total)
                {
                    terminal.WriteLine();
                }
            }
        }

        return read;
    }
}
