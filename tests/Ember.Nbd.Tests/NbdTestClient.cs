using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Ember.Nbd.Protocol;

namespace Ember.Nbd.Tests;

/// <summary>
/// A minimal NBD client on a real socket, for protocol edge cases the real clients never produce.
/// Everything is explicit: tests choose what to send and assert on exactly what comes back.
/// </summary>
public sealed class NbdTestClient : IAsyncDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly Socket _socket;
    private Stream _stream;
    private PipeReader _input;
    private PipeWriter _output;

    private NbdTestClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    /// <summary>
    /// Sends NBD_OPT_STARTTLS, expects its ACK, then runs a TLS client handshake on the same socket: the server must
    /// chain to <paramref name="authority"/>; <paramref name="clientCertificate"/> (with its key) is offered if given.
    /// </summary>
    public async Task StartTlsAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 authority,
        System.Security.Cryptography.X509Certificates.X509Certificate2? clientCertificate)
    {
        await SendOptionAsync(NbdOption.StartTls, []);
        Assert.Equal(NbdOptionReplyType.Ack, (await ReadOptionReplyAsync()).Type);
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        var tls = new System.Net.Security.SslStream(_stream, leaveInnerStreamOpen: false);
        _stream = tls;
        using var cts = new CancellationTokenSource(s_timeout);
        await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            CertificateChainPolicy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
            {
                TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { authority },
                RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            },
        }, cts.Token);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public NbdHandshakeFlags GreetingFlags { get; private set; }
    public ulong Size { get; private set; }
    public NbdTransmissionFlags Flags { get; private set; }
    public bool Structured { get; private set; }

    public static async Task<NbdTestClient> ConnectAsync(TestServer server, string transport)
    {
        Socket socket;
        EndPoint endPoint;
        if (transport == "unix")
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            endPoint = new UnixDomainSocketEndPoint(server.Server.UnixSocketPath!);
        }
        else
        {
            socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            endPoint = server.Server.BoundTcpEndPoint!;
        }
        using var cts = new CancellationTokenSource(s_timeout);
        await socket.ConnectAsync(endPoint, cts.Token);
        var client = new NbdTestClient(socket);
        var greeting = await client.ReadExactlyAsync(NbdLimits.GreetingSize);
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseGreeting(new ReadOnlySequence<byte>(greeting), out var flags));
        client.GreetingFlags = flags;
        return client;
    }

    /// <summary>Connects, negotiates (optionally structured replies and base:allocation) and enters transmission with GO.</summary>
    public static async Task<NbdTestClient> OpenAsync(TestServer server, string transport, bool structured = false, bool blockStatus = false, string? exportName = null)
    {
        var client = await ConnectAsync(server, transport);
        exportName ??= server.ExportName;
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        if (structured)
        {
            await client.SendOptionAsync(NbdOption.StructuredReply, []);
            Assert.Equal(NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
            if (blockStatus)
            {
                await client.SendOptionAsync(NbdOption.SetMetaContext, MetaContextPayload(exportName, NbdLimits.BaseAllocation));
                Assert.Equal(NbdOptionReplyType.MetaContext, (await client.ReadOptionReplyAsync()).Type);
                Assert.Equal(NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);
            }
        }
        var replies = await client.GoAsync(exportName);
        Assert.Equal(NbdOptionReplyType.Ack, replies[^1].Type);
        return client;
    }

    public static byte[] MetaContextPayload(string exportName, params string[] queries)
    {
        var w = new ArrayBufferWriter<byte>();
        NbdWriter.WriteMetaContextPayload(w, exportName, queries);
        return w.WrittenSpan.ToArray();
    }

    public static byte[] InfoPayload(string exportName, params NbdInfoType[] infos)
    {
        var w = new ArrayBufferWriter<byte>();
        NbdWriter.WriteInfoRequestPayload(w, exportName, infos);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Sends GO and reads every reply up to the final ACK or error; records size and flags.</summary>
    public async Task<List<OptionReply>> GoAsync(string exportName, NbdOption option = NbdOption.Go)
    {
        await SendOptionAsync(option, InfoPayload(exportName, NbdInfoType.BlockSize));
        var replies = new List<OptionReply>();
        while (true)
        {
            var reply = await ReadOptionReplyAsync();
            replies.Add(reply);
            if (reply.Type == NbdOptionReplyType.Info && BinaryPrimitives.ReadUInt16BigEndian(reply.Data) == (ushort)NbdInfoType.Export)
            {
                Size = BinaryPrimitives.ReadUInt64BigEndian(reply.Data.AsSpan(2));
                Flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.Data.AsSpan(10));
                Structured = (Flags & NbdTransmissionFlags.SendDf) != 0;
            }
            if (reply.Type != NbdOptionReplyType.Info)
                return replies;
        }
    }

    public Task SendClientFlagsAsync(NbdClientFlags flags) => SendAsync(w => NbdWriter.WriteClientFlags(w, flags));

    public Task SendOptionAsync(NbdOption option, byte[] payload) => SendAsync(w => NbdWriter.WriteOption(w, option, payload));

    public Task SendOptionHeaderAsync(NbdOption option, uint claimedLength, byte[] payload) =>
        SendAsync(w => NbdWriter.WriteOption(w, option, claimedLength, payload));

    public Task SendRequestAsync(NbdCommand command, ulong offset, uint length, ulong cookie = 1, NbdCommandFlags flags = NbdCommandFlags.None, byte[]? payload = null) =>
        SendAsync(w =>
        {
            NbdWriter.WriteRequest(w, new NbdRequest(flags, command, cookie, offset, length));
            if (payload is not null)
                w.Write(payload);
        });

    public Task SendRawAsync(byte[] bytes) => SendAsync(w => w.Write(bytes));

    public async Task SendAsync(Action<PipeWriter> write)
    {
        write(_output);
        using var cts = new CancellationTokenSource(s_timeout);
        await _output.FlushAsync(cts.Token);
    }

    public async Task<OptionReply> ReadOptionReplyAsync()
    {
        var header = await ReadExactlyAsync(NbdLimits.OptionReplyHeaderSize);
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseOptionReplyHeader(new ReadOnlySequence<byte>(header), out var option, out var type, out var length));
        var data = await ReadExactlyAsync((int)length);
        return new OptionReply(option, type, data);
    }

    /// <summary>Reads one whole reply (all chunks up to DONE). Returns its error and any data/hole/extents.</summary>
    /// <summary>
    /// Reads one reply. A simple reply's data length is not on the wire: <paramref name="readLength"/> gives it, or
    /// <paramref name="readLengthOf"/> by cookie when replies come out of order.
    /// </summary>
    public async Task<Reply> ReadReplyAsync(uint readLength = 0, Func<ulong, uint>? readLengthOf = null)
    {
        var reply = new Reply();
        while (true)
        {
            var first = await ReadExactlyAsync(4);
            var magic = BinaryPrimitives.ReadUInt32BigEndian(first);
            var rest = await ReadExactlyAsync(magic == NbdMagic.SimpleReply ? 12 : magic == NbdMagic.StructuredReply ? 16 : throw new InvalidDataException($"bad reply magic {magic:x}"));
            Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseReplyHeader(new ReadOnlySequence<byte>([.. first, .. rest]), out var header));
            reply.Cookie = header.Cookie;
            if (!header.IsStructured)
            {
                reply.Error = header.Error;
                reply.Simple = true;
                if (readLengthOf is not null)
                    readLength = readLengthOf(header.Cookie);
                if (header.Error == NbdError.None && readLength > 0)
                    reply.Data = await ReadExactlyAsync((int)readLength);
                return reply;
            }
            var payload = await ReadExactlyAsync((int)header.Length);
            reply.Chunks.Add(header.Type);
            switch (header.Type)
            {
                case NbdReplyChunkType.OffsetData:
                    reply.DataOffset = BinaryPrimitives.ReadUInt64BigEndian(payload);
                    reply.Data = payload[8..];
                    break;
                case NbdReplyChunkType.OffsetHole:
                    reply.DataOffset = BinaryPrimitives.ReadUInt64BigEndian(payload);
                    reply.HoleLength = BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(8));
                    break;
                case NbdReplyChunkType.BlockStatus:
                    reply.ContextId = BinaryPrimitives.ReadUInt32BigEndian(payload);
                    for (var i = 4; i + 8 <= payload.Length; i += 8)
                        reply.Extents.Add((BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(i)), (NbdAllocationFlags)BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(i + 4))));
                    break;
                case NbdReplyChunkType.Error:
                case NbdReplyChunkType.ErrorOffset:
                    reply.Error = (NbdError)BinaryPrimitives.ReadUInt32BigEndian(payload);
                    break;
            }
            if ((header.Flags & NbdReplyChunkFlags.Done) != 0)
                return reply;
        }
    }

    /// <summary>Sends a request and reads its reply (no pipelining).</summary>
    public async Task<Reply> RoundTripAsync(NbdCommand command, ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None, byte[]? payload = null, ulong cookie = 7)
    {
        await SendRequestAsync(command, offset, length, cookie, flags, payload);
        var reply = await ReadReplyAsync(command == NbdCommand.Read ? length : 0);
        Assert.Equal(cookie, reply.Cookie);
        return reply;
    }

    public async Task WriteAsync(ulong offset, byte[] data, NbdCommandFlags flags = NbdCommandFlags.None)
    {
        var reply = await RoundTripAsync(NbdCommand.Write, offset, (uint)data.Length, flags, data);
        Assert.Equal(NbdError.None, reply.Error);
    }

    /// <summary>Reads and returns the bytes (holes expanded to zeroes).</summary>
    public async Task<byte[]> ReadAsync(ulong offset, uint length)
    {
        var reply = await RoundTripAsync(NbdCommand.Read, offset, length);
        Assert.Equal(NbdError.None, reply.Error);
        return reply.Data ?? new byte[reply.HoleLength];
    }

    /// <summary>True once the server has closed the connection (EOF or reset), waiting up to the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var cts = new CancellationTokenSource(s_timeout);
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(cts.Token);
                _input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    return true;
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        if (count == 0)
            return [];
        using var cts = new CancellationTokenSource(s_timeout);
        var result = await _input.ReadAtLeastAsync(count, cts.Token);
        if (result.Buffer.Length < count)
        {
            _input.AdvanceTo(result.Buffer.End);
            throw new EndOfStreamException($"server closed after {result.Buffer.Length} of {count} bytes");
        }
        var bytes = result.Buffer.Slice(0, count).ToArray();
        _input.AdvanceTo(result.Buffer.GetPosition(count));
        return bytes;
    }

    public async ValueTask DisposeAsync()
    {
        await _input.CompleteAsync();
        try
        {
            await _output.CompleteAsync(); // flushes leftovers of a send that failed because the server closed
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        await _stream.DisposeAsync();
        _socket.Dispose();
    }

    public sealed record OptionReply(NbdOption Option, NbdOptionReplyType Type, byte[] Data);

    public sealed class Reply
    {
        public ulong Cookie { get; set; }
        public NbdError Error { get; set; }
        public bool Simple { get; set; }
        public byte[]? Data { get; set; }
        public ulong DataOffset { get; set; }
        public uint HoleLength { get; set; }
        public uint ContextId { get; set; }
        public List<NbdReplyChunkType> Chunks { get; } = [];
        public List<(uint Length, NbdAllocationFlags Flags)> Extents { get; } = [];
    }
}
