using System.Buffers;
using BenchmarkDotNet.Attributes;
using Ember.Nbd.Protocol;

namespace Ember.Nbd.Benchmarks;

/// <summary>Per-request wire work of the server: parse a header, write a reply header. Allocations must be 0.</summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private readonly ArrayBufferWriter<byte> _writer = new(64 * 1024);
    private ReadOnlySequence<byte> _oneRequest;
    private ReadOnlySequence<byte> _sixteenRequests;
    private ReadOnlySequence<byte> _splitRequest;

    [GlobalSetup]
    public void Setup()
    {
        var w = new ArrayBufferWriter<byte>();
        for (var i = 0; i < 16; i++)
            NbdWriter.WriteRequest(w, new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, (ulong)i, (ulong)i * 4096, 4096));
        var bytes = w.WrittenSpan.ToArray();
        _oneRequest = new ReadOnlySequence<byte>(bytes, 0, NbdLimits.RequestSize);
        _sixteenRequests = new ReadOnlySequence<byte>(bytes);
        // A header split across two segments, as a pipe hands it over at a segment boundary.
        var first = new Segment(bytes.AsMemory(0, 10), 0);
        var second = first.Append(bytes.AsMemory(10, 18));
        _splitRequest = new ReadOnlySequence<byte>(first, 0, second, 18);
    }

    [Benchmark]
    public ulong ParseRequest()
    {
        NbdParser.TryParseRequest(_oneRequest, out var r);
        return r.Cookie;
    }

    [Benchmark]
    public ulong ParseRequestSplitAcrossSegments()
    {
        NbdParser.TryParseRequest(_splitRequest, out var r);
        return r.Cookie;
    }

    [Benchmark(OperationsPerInvoke = 16)]
    public ulong ParseSixteenPipelinedRequests()
    {
        var buffer = _sixteenRequests;
        ulong sum = 0;
        while (NbdParser.TryParseRequest(buffer, out var r) == NbdParseStatus.Ok)
        {
            sum += r.Cookie;
            buffer = buffer.Slice(NbdLimits.RequestSize);
        }
        return sum;
    }

    [Benchmark]
    public int WriteSimpleReply()
    {
        _writer.ResetWrittenCount();
        NbdWriter.WriteSimpleReply(_writer, NbdError.None, 42);
        return _writer.WrittenCount;
    }

    [Benchmark]
    public int WriteStructuredReadHeader()
    {
        _writer.ResetWrittenCount();
        NbdWriter.WriteOffsetDataHeader(_writer, NbdReplyChunkFlags.Done, 42, 4096, 4096);
        return _writer.WrittenCount;
    }

    [Benchmark]
    public int WriteHoleChunk()
    {
        _writer.ResetWrittenCount();
        NbdWriter.WriteOffsetHole(_writer, NbdReplyChunkFlags.Done, 42, 0, 1 << 20);
        return _writer.WrittenCount;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
