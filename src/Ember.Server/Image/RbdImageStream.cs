using Ember.Server.Volume.Rbd;

namespace Ember.Server.Image;

/// <summary>
/// A read-only, seekable stream over an open RBD image (a download, a copy into a compute host's cache). Reads go
/// through a buffer of one chunk, filled on a thread of its own: librbd blocks, and one thread start per chunk
/// costs little next to the chunk's I/O.
/// </summary>
public sealed class RbdImageStream(RbdImage image, int chunkBytes) : Stream
{
    private readonly long _length = (long)image.Size;
    private readonly byte[] _chunk = new byte[chunkBytes];
    private long _chunkOffset = -1;
    private int _chunkLength;
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(Span<byte> buffer)
    {
        if (!Buffered())
        {
            Fill();
        }

        return CopyOut(buffer);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!Buffered())
        {
            await RbdThread.RunAsync(Fill, cancellationToken);
        }

        return CopyOut(buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            image.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Past the end, or inside the chunk in the buffer: nothing to read from the cluster.</summary>
    private bool Buffered() => _position >= _length || (_position >= _chunkOffset && _position < _chunkOffset + _chunkLength);

    private void Fill()
    {
        _chunkOffset = _position;
        _chunkLength = image.Read((ulong)_position, _chunk.AsSpan(0, (int)Math.Min(_chunk.Length, _length - _position)));
    }

    private int CopyOut(Span<byte> buffer)
    {
        if (_position >= _length)
        {
            return 0;
        }

        var available = _chunk.AsSpan((int)(_position - _chunkOffset), (int)(_chunkOffset + _chunkLength - _position));
        var count = Math.Min(available.Length, buffer.Length);
        available[..count].CopyTo(buffer);
        _position += count;
        return count;
    }
}
