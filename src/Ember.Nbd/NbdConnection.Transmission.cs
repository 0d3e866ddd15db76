using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using Ember.Nbd.Protocol;

namespace Ember.Nbd;

internal sealed partial class NbdConnection
{
    /// <summary>Extents per BLOCK_STATUS reply without REQ_ONE (the spec allows up to 2^20; clients ask again for the rest).</summary>
    private const int MaxExtents = 1024;

    /// <summary>Payloads from this size on bypass the pipes (read into / sent from their own pooled buffer).</summary>
    private const int DirectIoThreshold = 64 * 1024;

    /// <summary>
    /// Bytes of a large READ's data sent together with its reply header (copied behind it) before the rest goes out
    /// from the data's own buffer: with TLS the header then rides in the first full record (16 KiB of plaintext)
    /// instead of a record and a send of its own; without TLS it saves that send.
    /// </summary>
    private const int ReplyHeadBytes = 16 * 1024 - 64;

    /// <summary>Largest WRITE done on the request loop with <see cref="NbdServerOptions.InlineBufferedWrites"/>.</summary>
    private const int InlineWriteLimit = 64 * 1024;

    private static readonly ReadOnlyMemory<byte> s_zeroes = new byte[1024 * 1024];

    private SemaphoreSlim _slots = null!;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Reply> _replies = new();
    private int _writerActive;
    private bool _writeFailed;

    // Reader state for a WRITE whose payload is still arriving, or a payload being skipped after an error.
    private byte[]? _body;
    private int _bodyFilled;
    private NbdRequest _bodyRequest;
    private int _bodyUnits;
    private SemaphoreSlim _bufferUnits = null!;
    private long _bodyStarted;
    private long _skipRemaining;
    private NbdError _skipError;

    private enum ReplyKind : byte
    {
        Done,
        ReadData,
        ReadHole,
        BlockStatus,
    }

    /// <summary>A finished request waiting for the reply loop. Buffer (if any) is pooled and returned after writing.</summary>
    /// <remarks>
    /// <c>Units</c>: MiB of buffer budget the request holds, given back once the reply is sent. <c>Length</c>: the
    /// bytes read (or, for a WRITE, written). <c>Started</c>: the Stopwatch timestamp of the request, for the export's totals.
    /// </remarks>
    private readonly record struct Reply(ulong Cookie, NbdCommand Command, NbdError Error, ReplyKind Kind, ulong Offset, byte[]? Buffer, int Length, int Units = 0, long Started = 0);

    private async Task TransmissionAsync()
    {
        _slots = new SemaphoreSlim(_options.MaxInFlightPerConnection, _options.MaxInFlightPerConnection);
        var units = Math.Max(NbdLimits.MaxPayload >> 20, (int)Math.Min(int.MaxValue, _options.MaxInFlightBytesPerConnection >> 20));
        _bufferUnits = new SemaphoreSlim(units, units);
        try
        {
            if (_threaded)
                RequestLoopThreaded(_aborted.Token);
            else
                await RequestLoopAsync(_aborted.Token);
        }
        finally
        {
            if (_body is not null || _skipRemaining > 0)
            {
                // A WRITE whose payload never fully arrived: its slot was taken, but it gets no reply.
                if (_body is not null)
                    ArrayPool<byte>.Shared.Return(_body);
                _body = null;
                _skipRemaining = 0;
                _slots.Release();
                if (_bodyUnits > 0)
                    _bufferUnits.Release(_bodyUnits);
            }
            // Every request read gets its reply (or is dropped if the socket is gone) before the connection closes.
            TryRunWriter();
            for (var i = 0; i < _options.MaxInFlightPerConnection; i++)
                await _slots.WaitAsync();
            _slots.Dispose();
            _bufferUnits.Dispose();
        }
    }

    private async Task RequestLoopAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            // Replies answered inline while parsing the last batch go out in one write before we wait for more.
            TryRunWriter();
            var result = await _input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var directBody = false;
            try
            {
                while (true)
                {
                    if (_body is not null)
                    {
                        var n = (int)Math.Min(buffer.Length, _bodyRequest.Length - _bodyFilled);
                        buffer.Slice(0, n).CopyTo(_body.AsSpan(_bodyFilled));
                        buffer = buffer.Slice(n);
                        _bodyFilled += n;
                        if (_bodyFilled < _bodyRequest.Length)
                        {
                            directBody = _bodyRequest.Length - _bodyFilled >= DirectIoThreshold;
                            break;
                        }
                        StartWrite();
                        continue;
                    }
                    if (_skipRemaining > 0)
                    {
                        var n = Math.Min(buffer.Length, _skipRemaining);
                        buffer = buffer.Slice(n);
                        _skipRemaining -= n;
                        if (_skipRemaining > 0)
                            break;
                        Enqueue(new Reply(_bodyRequest.Cookie, NbdCommand.Write, _skipError, ReplyKind.Done, 0, null, 0, Started: _bodyStarted));
                        continue;
                    }
                    var status = NbdParser.TryParseRequest(buffer, out var request);
                    if (status == NbdParseStatus.NeedMoreData)
                        break;
                    if (status != NbdParseStatus.Ok)
                    {
                        // Out of sync: nothing after this can be trusted. The spec allows a hard disconnect.
                        Log.ProtocolViolation(_logger, Id, "bad request magic");
                        return;
                    }
                    buffer = buffer.Slice(NbdLimits.RequestSize);
                    // Back-pressure: with every slot taken we stop reading, and the client's socket fills up.
                    if (!_slots.Wait(0))
                    {
                        TryRunWriter(); // our own queued replies hold slots: send them before waiting
                        await _slots.WaitAsync(cancellationToken);
                    }
                    // Memory budget: READ/WRITE buffers are bounded in bytes too, not only in count.
                    var units = 0;
                    if (request.Command is NbdCommand.Read or NbdCommand.Write && request.Length is > 0 and <= NbdLimits.MaxPayload
                        && Validate(request) == NbdError.None)
                    {
                        units = (int)((request.Length + (1u << 20) - 1) >> 20);
                        for (var i = 0; i < units; i++)
                        {
                            if (!_bufferUnits.Wait(0))
                            {
                                TryRunWriter();
                                await _bufferUnits.WaitAsync(cancellationToken);
                            }
                        }
                    }
                    if (!Dispatch(request, units))
                        return;
                }
            }
            finally
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (directBody)
            {
                // The pipe holds nothing unconsumed now, so the rest of a large payload can go from the socket
                // straight into its buffer: one copy and few syscalls instead of staging it in the pipe.
                await _stream.ReadExactlyAsync(_body.AsMemory(_bodyFilled, (int)_bodyRequest.Length - _bodyFilled), cancellationToken);
                _bodyFilled = (int)_bodyRequest.Length;
                StartWrite();
                continue;
            }
            if (result.IsCompleted)
                return;
        }
    }

    /// <summary>Validates and starts one request (its slot is held). False after NBD_CMD_DISC.</summary>
    private bool Dispatch(in NbdRequest request, int units)
    {
        if (request.Command == NbdCommand.Disconnect)
        {
            _slots.Release();
            return false;
        }
        var started = Stopwatch.GetTimestamp();
        var error = Validate(request);
        if (request.Command == NbdCommand.Write)
        {
            if (error == NbdError.None && request.Length <= NbdLimits.MaxPayload)
            {
                if (request.Length == 0)
                {
                    Enqueue(new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.Done, 0, null, 0, Started: started));
                    return true;
                }
                _bodyRequest = request;
                _bodyStarted = started;
                _bodyUnits = units;
                _body = ArrayPool<byte>.Shared.Rent((int)request.Length);
                _bodyFilled = 0;
                return true;
            }
            // The payload is on the wire whatever we think of it: skip it (no buffering) and then reply the error.
            _bodyRequest = request;
            _bodyStarted = started;
            _bodyUnits = 0;
            _skipError = error == NbdError.None ? NbdError.Inval : error;
            _skipRemaining = request.Length;
            if (_skipRemaining == 0)
                Enqueue(new Reply(request.Cookie, request.Command, _skipError, ReplyKind.Done, 0, null, 0, Started: started));
            return true;
        }
        if (error != NbdError.None)
        {
            Enqueue(new Reply(request.Cookie, request.Command, error, ReplyKind.Done, 0, null, 0, Started: started));
            return true;
        }
        if (request.Command != NbdCommand.Read || !TryReadInline(request, units, started))
            _ = ExecuteAsync(request, null, units, started);
        return true;
    }

    private void StartWrite()
    {
        var body = _body!;
        _body = null;
        var request = _bodyRequest;
        var units = _bodyUnits;
        _bodyUnits = 0;
        if ((request.Flags & NbdCommandFlags.Fua) == 0)
        {
            try
            {
                var handle = _export!.File.Handle;
                var n = FileOps.TryWriteNoWait(handle, body.AsSpan(0, (int)request.Length), (long)request.Offset);
                if (n < 0 && (_threaded || _options.InlineBufferedWrites) && request.Length <= InlineWriteLimit)
                {
                    // A small write into the page cache on the loop's thread, even though it may block (dirty-page
                    // throttling, journal), where RWF_NOWAIT writes are refused (ext4). On a dedicated connection
                    // thread that only ever stalls this connection; on the async loop it is opt-in.
                    RandomAccess.Write(handle, body.AsSpan(0, (int)request.Length), (long)request.Offset);
                    n = (int)request.Length;
                }
                if (n == request.Length)
                {
                    ArrayPool<byte>.Shared.Return(body);
                    Enqueue(new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.Done, request.Offset, null, n, units, _bodyStarted));
                    return;
                }
                // Partial or would block: the thread pool writes it all again (same bytes, same place).
            }
            catch (ObjectDisposedException)
            {
                // Export removed: ExecuteAsync turns this into ESHUTDOWN.
            }
        }
        _ = ExecuteAsync(request, body, units, _bodyStarted);
    }

    /// <summary>Answers a READ from the page cache on this thread; false if it would block (then the pool does it).</summary>
    private bool TryReadInline(in NbdRequest request, int units, long started)
    {
        var length = (int)request.Length;
        if (length == 0)
            return false;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var n = FileOps.TryReadNoWait(_export!.File.Handle, buffer.AsSpan(0, length), (long)request.Offset);
            if (n != length)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return false;
            }
        }
        catch (ObjectDisposedException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return false;
        }
        Enqueue(ReadReply(request, buffer, length) with { Units = units, Started = started });
        return true;
    }

    private Reply ReadReply(in NbdRequest request, byte[] buffer, int length)
    {
        if (_structured && !buffer.AsSpan(0, length).ContainsAnyExcept((byte)0))
        {
            // All zeroes: one 12-byte hole chunk instead of the data.
            ArrayPool<byte>.Shared.Return(buffer);
            return new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.ReadHole, request.Offset, null, length);
        }
        return new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.ReadData, request.Offset, buffer, length);
    }

    private NbdError Validate(in NbdRequest request)
    {
        var allowed = NbdCommandFlags.Fua; // the spec: with SEND_FUA, FUA is accepted on every command
        switch (request.Command)
        {
            case NbdCommand.Read:
                if (_structured)
                    allowed |= NbdCommandFlags.DontFragment;
                break;
            case NbdCommand.WriteZeroes:
                allowed |= NbdCommandFlags.NoHole;
                break;
            case NbdCommand.BlockStatus:
                allowed |= NbdCommandFlags.ReqOne;
                break;
            case NbdCommand.Write:
            case NbdCommand.Flush:
            case NbdCommand.Trim:
            case NbdCommand.Cache:
                break;
            default:
                return NbdError.Inval;
        }
        if ((request.Flags & ~allowed) != 0)
            return NbdError.Inval; // includes FAST_ZERO, which this server does not advertise
        var writes = request.Command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;
        if (writes && _export!.ReadOnly)
            return NbdError.Perm;
        if (request.Command == NbdCommand.Flush)
            return NbdError.None;
        var end = request.Offset + request.Length;
        if (end < request.Offset || end > _size)
            return request.Command is NbdCommand.Write or NbdCommand.WriteZeroes ? NbdError.NoSpc : NbdError.Inval;
        if (request.Command == NbdCommand.Read && request.Length > NbdLimits.MaxPayload)
            return NbdError.Inval;
        if (request.Command == NbdCommand.BlockStatus && (!_metaContextAllocation || request.Length == 0))
            return NbdError.Inval;
        return NbdError.None;
    }

    private async Task ExecuteAsync(NbdRequest request, byte[]? body, int units, long started)
    {
        Reply reply;
        try
        {
            reply = request.Command switch
            {
                NbdCommand.Read => await ReadAsync(request),
                NbdCommand.Write => await WriteAsync(request, body!),
                _ => await ExecuteOtherAsync(request),
            };
        }
        catch (Exception e)
        {
            var error = e is ObjectDisposedException ? NbdError.Shutdown : NbdError.Io;
            if (error == NbdError.Io)
                Log.RequestFailed(_logger, e, Id, request.Command.ToString(), request.Offset, request.Length);
            reply = new Reply(request.Cookie, request.Command, error, ReplyKind.Done, request.Offset, null, 0);
        }
        finally
        {
            if (body is not null)
                ArrayPool<byte>.Shared.Return(body);
        }
        Enqueue(reply with { Units = units, Started = started });
        TryRunWriter(); // on the pool thread that finished the I/O: no extra hop to send
    }

    private async ValueTask<Reply> ReadAsync(NbdRequest request)
    {
        var length = (int)request.Length;
        if (length == 0)
            return new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.Done, request.Offset, null, 0);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var handle = _export!.File.Handle;
            var done = 0;
            while (done < length)
            {
                var n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(done, length - done), (long)request.Offset + done);
                if (n == 0)
                {
                    // The file shrank under us: past its end reads as zeroes.
                    buffer.AsSpan(done, length - done).Clear();
                    break;
                }
                done += n;
            }
            return ReadReply(request, buffer, length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private async ValueTask<Reply> WriteAsync(NbdRequest request, byte[] body)
    {
        var handle = _export!.File.Handle;
        await RandomAccess.WriteAsync(handle, body.AsMemory(0, (int)request.Length), (long)request.Offset);
        if ((request.Flags & NbdCommandFlags.Fua) != 0)
            FileOps.FlushData(handle);
        return new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.Done, request.Offset, null, (int)request.Length);
    }

    private async ValueTask<Reply> ExecuteOtherAsync(NbdRequest request)
    {
        // These are blocking syscalls: leave the request loop's thread first.
        await Task.Yield();
        var handle = _export!.File.Handle;
        var offset = (long)request.Offset;
        long length = request.Length;
        var fua = (request.Flags & NbdCommandFlags.Fua) != 0;
        switch (request.Command)
        {
            case NbdCommand.Flush:
                FileOps.FlushData(handle);
                break;
            case NbdCommand.Trim:
                // Trim is advisory: a file system that cannot punch holes simply keeps the data.
                if (length > 0)
                    FileOps.TryPunchHole(handle, offset, length);
                if (fua)
                    FileOps.FlushData(handle);
                break;
            case NbdCommand.WriteZeroes:
                if (length > 0)
                    await WriteZeroesAsync(handle, offset, length, (request.Flags & NbdCommandFlags.NoHole) != 0);
                if (fua)
                    FileOps.FlushData(handle);
                break;
            case NbdCommand.Cache:
                FileOps.WillNeed(handle, offset, length);
                break;
            case NbdCommand.BlockStatus:
                return BlockStatus(request, handle);
        }
        return new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.Done, request.Offset, null, 0);
    }

    private static async ValueTask WriteZeroesAsync(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long length, bool noHole)
    {
        if (!noHole && FileOps.TryPunchHole(handle, offset, length))
            return;
        if (FileOps.TryZeroRange(handle, offset, length))
            return;
        for (var done = 0L; done < length;)
        {
            var n = (int)Math.Min(length - done, s_zeroes.Length);
            await RandomAccess.WriteAsync(handle, s_zeroes[..n], offset + done);
            done += n;
        }
    }

    private Reply BlockStatus(in NbdRequest request, Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        var maxExtents = (request.Flags & NbdCommandFlags.ReqOne) != 0 ? 1 : MaxExtents;
        var buffer = ArrayPool<byte>.Shared.Rent(maxExtents * 8);
        var count = 0;
        var position = (long)request.Offset;
        var end = position + request.Length;
        var fileEnd = RandomAccess.GetLength(handle);
        while (position < end && count < maxExtents)
        {
            long next;
            NbdAllocationFlags flags;
            if (position >= fileEnd)
            {
                (next, flags) = (end, NbdAllocationFlags.Hole | NbdAllocationFlags.Zero);
            }
            else
            {
                var data = FileOps.SeekDataOrEnd(handle, position, fileEnd);
                if (data > position)
                {
                    (next, flags) = (data, NbdAllocationFlags.Hole | NbdAllocationFlags.Zero);
                }
                else
                {
                    var hole = FileOps.SeekHoleOrEnd(handle, position, fileEnd);
                    (next, flags) = (hole > position ? hole : end, NbdAllocationFlags.Data);
                }
            }
            next = Math.Min(next, end);
            var span = buffer.AsSpan(count * 8);
            BinaryPrimitives.WriteUInt32BigEndian(span, (uint)(next - position));
            BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)flags);
            count++;
            position = next;
        }
        return new Reply(request.Cookie, request.Command, NbdError.None, ReplyKind.BlockStatus, request.Offset, buffer, count * 8);
    }

    /// <summary>Counts a reply in its export's totals and queues it; it is sent by the next <see cref="TryRunWriter"/> (which the caller arranges).</summary>
    private void Enqueue(in Reply reply)
    {
        var failed = reply.Error != NbdError.None;
        _export!.Stats.Record(reply.Command, failed, failed ? 0 : reply.Length, reply.Started);
        _replies.Enqueue(reply);
    }

    /// <summary>
    /// Sends every queued reply (out of order, as completed) unless another thread is already doing so; that
    /// thread re-checks the queue before it stops, so nothing is left behind. It runs on the caller's thread:
    /// the request loop after a batch, or the pool thread that finished an I/O, so a reply costs no thread hop.
    /// </summary>
    private void TryRunWriter(bool mayBlock = false)
    {
        if (!_replies.IsEmpty && Interlocked.CompareExchange(ref _writerActive, 1, 0) == 0)
            _ = _threaded ? WriteRepliesThreadedAsync(mayBlock) : WriteRepliesAsync();
    }

    private async Task WriteRepliesAsync()
    {
        while (true)
        {
            var written = 0;
            var units = 0;
            while (_replies.TryDequeue(out var reply))
            {
                units += reply.Units;
                if (!_writeFailed)
                {
                    try
                    {
                        if (reply.Kind == ReplyKind.ReadData && reply.Length >= DirectIoThreshold && reply.Error == NbdError.None)
                        {
                            // Large data: flush what is queued plus this header and the data's head, then send the
                            // rest from its own buffer instead of copying it through the pipe.
                            var head = WriteReplyHead(_output, reply);
                            await _output.FlushAsync();
                            await _stream.WriteAsync(reply.Buffer.AsMemory(head, reply.Length - head));
                        }
                        else
                        {
                            WriteReply(_output, reply, headerOnly: false);
                        }
                    }
                    catch (Exception)
                    {
                        WriteFailed();
                    }
                }
                if (reply.Buffer is not null)
                    ArrayPool<byte>.Shared.Return(reply.Buffer);
                written++;
            }
            if (written > 0 && !_writeFailed)
            {
                try
                {
                    var flush = await _output.FlushAsync();
                    if (flush.IsCompleted || flush.IsCanceled)
                        WriteFailed();
                }
                catch (Exception)
                {
                    WriteFailed();
                }
            }
            // Slots come back only once the replies are on the socket: in-flight counts unsent replies too.
            if (written > 0)
                _slots.Release(written);
            if (units > 0)
                _bufferUnits.Release(units);
            Volatile.Write(ref _writerActive, 0);
            if (_replies.IsEmpty || Interlocked.CompareExchange(ref _writerActive, 1, 0) != 0)
                return;
        }
    }

    private void WriteFailed()
    {
        // The peer is gone: keep draining so every slot is released, and stop the request loop.
        _writeFailed = true;
        Abort();
    }

    /// <summary>Writes a large READ reply's header and the first <see cref="ReplyHeadBytes"/> of its data; returns how many data bytes.</summary>
    private int WriteReplyHead(IBufferWriter<byte> w, in Reply reply)
    {
        WriteReply(w, reply, headerOnly: true);
        var head = Math.Min(reply.Length, ReplyHeadBytes);
        w.Write(reply.Buffer.AsSpan(0, head));
        return head;
    }

    private void WriteReply(IBufferWriter<byte> w, in Reply reply, bool headerOnly)
    {
        if (reply.Error != NbdError.None)
        {
            if (_structured)
                NbdWriter.WriteErrorChunk(w, NbdReplyChunkFlags.Done, reply.Cookie, reply.Error, string.Empty);
            else
                NbdWriter.WriteSimpleReply(w, reply.Error, reply.Cookie);
            return;
        }
        switch (reply.Kind)
        {
            case ReplyKind.ReadData when _structured:
                NbdWriter.WriteOffsetDataHeader(w, NbdReplyChunkFlags.Done, reply.Cookie, reply.Offset, (uint)reply.Length);
                if (!headerOnly)
                    w.Write(reply.Buffer.AsSpan(0, reply.Length));
                break;
            case ReplyKind.ReadData:
                NbdWriter.WriteSimpleReply(w, NbdError.None, reply.Cookie);
                if (!headerOnly)
                    w.Write(reply.Buffer.AsSpan(0, reply.Length));
                break;
            case ReplyKind.ReadHole:
                NbdWriter.WriteOffsetHole(w, NbdReplyChunkFlags.Done, reply.Cookie, reply.Offset, (uint)reply.Length);
                break;
            case ReplyKind.BlockStatus:
                NbdWriter.WriteBlockStatusHeader(w, NbdReplyChunkFlags.Done, reply.Cookie, BaseAllocationContextId, reply.Length / 8);
                w.Write(reply.Buffer.AsSpan(0, reply.Length));
                break;
            case ReplyKind.Done when _structured && reply.Command == NbdCommand.Read:
                NbdWriter.WriteNoneChunk(w, reply.Cookie); // zero-length READ
                break;
            default:
                NbdWriter.WriteSimpleReply(w, NbdError.None, reply.Cookie);
                break;
        }
    }
}
