using System.Buffers;
using System.Net.Sockets;
using Ember.Nbd.Protocol;

namespace Ember.Nbd;

internal sealed partial class NbdConnection
{
    private const int ReceiveBufferSize = 256 * 1024;

    /// <summary>Queued replies are sent once this much is buffered (and at the end of every batch).</summary>
    private const int SendBatchBytes = 256 * 1024;

    // Only touched by the thread that holds _writerActive.
    private ArrayBufferWriter<byte>? _sendBuffer;

    /// <summary>
    /// The request loop of <see cref="NbdConnectionModel.DedicatedThread"/>: blocking receives into one buffer, every
    /// complete request parsed and dispatched (page-cache reads and small writes right here), then the batch's
    /// replies sent from this thread before the next receive. Same dispatch and back-pressure as the async loop.
    /// </summary>
    private void RequestLoopThreaded(CancellationToken cancellationToken)
    {
        var handle = _socket.SafeHandle;
        var buffer = new byte[ReceiveBufferSize];
        int start = 0, end = 0;
        // Whatever the handshake's pipe read past the last option.
        if (_input.TryRead(out var leftover))
        {
            if (leftover.Buffer.Length > buffer.Length)
                buffer = new byte[leftover.Buffer.Length];
            leftover.Buffer.CopyTo(buffer);
            end = (int)leftover.Buffer.Length;
            _input.AdvanceTo(leftover.Buffer.End);
        }
        while (true)
        {
            while (true)
            {
                if (_body is not null)
                {
                    var n = (int)Math.Min(end - start, _bodyRequest.Length - _bodyFilled);
                    buffer.AsSpan(start, n).CopyTo(_body.AsSpan(_bodyFilled));
                    start += n;
                    _bodyFilled += n;
                    var missing = (int)_bodyRequest.Length - _bodyFilled;
                    if (missing >= DirectIoThreshold)
                    {
                        // The receive buffer is empty now: the rest of a large payload goes straight into its buffer.
                        TryRunWriter(mayBlock: true);
                        while (_bodyFilled < _bodyRequest.Length)
                        {
                            var r = SocketOps.Receive(handle, _body.AsSpan(_bodyFilled, (int)_bodyRequest.Length - _bodyFilled));
                            if (r == 0)
                                return;
                            _bodyFilled += r;
                        }
                    }
                    else if (missing > 0)
                    {
                        break;
                    }
                    StartWrite();
                    continue;
                }
                if (_skipRemaining > 0)
                {
                    var n = (int)Math.Min(end - start, _skipRemaining);
                    start += n;
                    _skipRemaining -= n;
                    if (_skipRemaining > 0)
                        break;
                    Enqueue(new Reply(_bodyRequest.Cookie, NbdCommand.Write, _skipError, ReplyKind.Done, 0, null, 0, Started: _bodyStarted));
                    continue;
                }
                if (end - start < NbdLimits.RequestSize)
                    break;
                var status = NbdParser.TryParseRequest(new ReadOnlySequence<byte>(buffer, start, end - start), out var request);
                if (status != NbdParseStatus.Ok)
                {
                    Log.ProtocolViolation(_logger, Id, "bad request magic");
                    return;
                }
                start += NbdLimits.RequestSize;
                if (!_slots.Wait(0))
                {
                    TryRunWriter(mayBlock: true); // our own queued replies hold slots: send them before waiting
                    _slots.Wait(cancellationToken);
                }
                var units = 0;
                if (request.Command is NbdCommand.Read or NbdCommand.Write && request.Length is > 0 and <= NbdLimits.MaxPayload
                    && Validate(request) == NbdError.None)
                {
                    units = (int)((request.Length + (1u << 20) - 1) >> 20);
                    for (var i = 0; i < units; i++)
                    {
                        if (!_bufferUnits.Wait(0))
                        {
                            TryRunWriter(mayBlock: true);
                            _bufferUnits.Wait(cancellationToken);
                        }
                    }
                }
                if (!Dispatch(request, units))
                    return;
            }
            // Everything answered inline in this batch goes out in one send before we wait for more.
            TryRunWriter(mayBlock: true);
            if (start == end)
            {
                start = end = 0;
            }
            else if (start > 0)
            {
                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
                start = 0;
            }
            var received = SocketOps.Receive(handle, buffer.AsSpan(end));
            if (received == 0)
                return;
            end += received;
        }
    }

    /// <summary>
    /// Sends every queued reply (the <see cref="TryRunWriter"/> protocol). On the connection's thread
    /// (<paramref name="mayBlock"/>) a full socket blocks it, which is back-pressure; a pool thread never blocks: it
    /// finishes the send asynchronously.
    /// </summary>
    private async Task WriteRepliesThreadedAsync(bool mayBlock)
    {
        var w = _sendBuffer ??= new ArrayBufferWriter<byte>(SendBatchBytes + DirectIoThreshold + 4096); // a batch may end on a small reply or a large one's head
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
                            var head = WriteReplyHead(w, reply);
                            await SendBufferedAsync(w, mayBlock);
                            await SendAsync(reply.Buffer.AsMemory(head, reply.Length - head), mayBlock);
                        }
                        else
                        {
                            WriteReply(w, reply, headerOnly: false);
                            if (w.WrittenCount >= SendBatchBytes)
                                await SendBufferedAsync(w, mayBlock);
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
            if (w.WrittenCount > 0 && !_writeFailed)
            {
                try
                {
                    await SendBufferedAsync(w, mayBlock);
                }
                catch (Exception)
                {
                    WriteFailed();
                }
            }
            w.ResetWrittenCount();
            if (written > 0)
                _slots.Release(written);
            if (units > 0)
                _bufferUnits.Release(units);
            Volatile.Write(ref _writerActive, 0);
            if (_replies.IsEmpty || Interlocked.CompareExchange(ref _writerActive, 1, 0) != 0)
                return;
        }
    }

    private async ValueTask SendBufferedAsync(ArrayBufferWriter<byte> w, bool mayBlock)
    {
        if (w.WrittenCount == 0)
            return;
        await SendAsync(w.WrittenMemory, mayBlock);
        w.ResetWrittenCount();
    }

    private async ValueTask SendAsync(ReadOnlyMemory<byte> data, bool mayBlock)
    {
        var sent = SocketOps.Send(_socket.SafeHandle, data.Span, mayBlock);
        while (sent < data.Length)
        {
            // A pool thread found the socket full: wait for room without holding the thread.
            var n = await _socket.SendAsync(data[sent..], SocketFlags.None);
            if (n <= 0)
                throw new IOException("send failed");
            sent += n;
        }
    }
}
