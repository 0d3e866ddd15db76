using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using Ember.Nbd.Protocol;

namespace Ember.Nbd;

internal sealed partial class NbdConnection
{
    /// <summary>Option payloads beyond this close the connection (the largest legal one, GO with a 4 KiB name, is far below).</summary>
    private const int MaxOptionLength = 64 * 1024;

    /// <summary>A client that keeps sending options without ever choosing an export is dropped.</summary>
    private const int MaxOptions = 1024;

    private const uint BaseAllocationContextId = 1;

    private bool _noZeroes;
    private bool _structured;
    private string? _metaContextExport;
    private bool _metaContextAllocation;
    private NbdExport? _export;
    private ulong _size;
    private NbdTransmissionFlags _flags;
    private CancellationTokenRegistration _exportRegistration;

    private bool _tlsDone;

    private enum OptionOutcome
    {
        Continue,
        Transmission,
        Close,
        StartTls,
    }

    private async Task<bool> HandshakeAsync(CancellationToken cancellationToken)
    {
        NbdWriter.WriteGreeting(_output, NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes);
        await _output.FlushAsync(cancellationToken);

        var result = await _input.ReadAtLeastAsync(4, cancellationToken);
        if (result.Buffer.Length < 4)
            return false;
        var status = NbdParser.TryParseClientFlags(result.Buffer, out var clientFlags);
        _input.AdvanceTo(result.Buffer.GetPosition(4));
        if (status != NbdParseStatus.Ok)
        {
            // Spec: an unknown client flag means the server MUST drop the connection.
            Log.ProtocolViolation(_logger, Id, $"unknown client flags 0x{(uint)clientFlags:x}");
            return false;
        }
        _noZeroes = (clientFlags & NbdClientFlags.NoZeroes) != 0;

        for (var count = 0; count < MaxOptions; count++)
        {
            result = await _input.ReadAtLeastAsync(NbdLimits.OptionHeaderSize, cancellationToken);
            if (result.Buffer.Length < NbdLimits.OptionHeaderSize)
                return false;
            if (NbdParser.TryParseOptionHeader(result.Buffer, out var option, out var length) != NbdParseStatus.Ok)
            {
                Log.ProtocolViolation(_logger, Id, "bad option magic");
                return false;
            }
            if (length > MaxOptionLength)
            {
                Log.ProtocolViolation(_logger, Id, $"option {(uint)option} length {length} too large");
                return false;
            }
            _input.AdvanceTo(result.Buffer.GetPosition(NbdLimits.OptionHeaderSize));

            var payload = ReadOnlySequence<byte>.Empty;
            if (length > 0)
            {
                result = await _input.ReadAtLeastAsync((int)length, cancellationToken);
                if (result.Buffer.Length < length)
                    return false;
                payload = result.Buffer.Slice(0, length);
            }
            OptionOutcome outcome;
            try
            {
                outcome = HandleOption(option, payload);
            }
            finally
            {
                if (length > 0)
                    _input.AdvanceTo(payload.End);
            }
            if (outcome == OptionOutcome.Close)
            {
                // ABORT's ACK is best effort: libnbd closes without reading it.
                try
                {
                    await _output.FlushAsync(cancellationToken);
                }
                catch (IOException)
                {
                }
                return false;
            }
            await _output.FlushAsync(cancellationToken);
            if (outcome == OptionOutcome.Transmission)
                return true;
            if (outcome == OptionOutcome.StartTls && !await StartTlsAsync(cancellationToken))
                return false;
        }
        Log.ProtocolViolation(_logger, Id, "too many options");
        return false;
    }

    /// <summary>
    /// After STARTTLS's ACK: the TLS handshake on the same socket (client certificate required), then option haggling
    /// goes on over TLS with fresh pipes.
    /// </summary>
    private async Task<bool> StartTlsAsync(CancellationToken cancellationToken)
    {
        // The client must wait for the ACK before its ClientHello: bytes already buffered mean it did not.
        if (_input.TryRead(out var early))
        {
            var pending = early.Buffer.Length;
            _input.AdvanceTo(early.Buffer.Start);
            if (pending > 0)
            {
                Log.ProtocolViolation(_logger, Id, "data sent before the STARTTLS reply");
                return false;
            }
        }
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
        _stream = tls;
        try
        {
            await tls.AuthenticateAsServerAsync(_tls!.ServerOptions, cancellationToken);
        }
        catch (AuthenticationException e)
        {
            Log.TlsFailed(_logger, Id, e.InnerException?.Message ?? e.Message);
            return false;
        }
        (_input, _output) = CreatePipes(tls);
        _tlsDone = true;
        // Spec: state negotiated before TLS is forgotten (none can be, everything got TLS_REQD; this makes sure).
        _structured = false;
        _metaContextExport = null;
        _metaContextAllocation = false;
        return true;
    }

    /// <summary>FORCEDTLS before STARTTLS: only STARTTLS and ABORT are served; EXPORT_NAME, which has no error reply, closes.</summary>
    private OptionOutcome HandleOptionBeforeTls(NbdOption option, in ReadOnlySequence<byte> payload)
    {
        switch (option)
        {
            case NbdOption.StartTls:
                if (payload.Length != 0)
                    return Refuse(option, NbdOptionReplyType.ErrInvalid, "STARTTLS takes no data");
                NbdWriter.WriteOptionReply(_output, option, NbdOptionReplyType.Ack);
                return OptionOutcome.StartTls;
            case NbdOption.Abort:
                NbdWriter.WriteOptionReply(_output, option, NbdOptionReplyType.Ack);
                return OptionOutcome.Close;
            case NbdOption.ExportName:
                Log.ProtocolViolation(_logger, Id, "EXPORT_NAME before TLS");
                return OptionOutcome.Close;
            default:
                return Refuse(option, NbdOptionReplyType.ErrTlsReqd, "TLS required: send NBD_OPT_STARTTLS first");
        }
    }

    private OptionOutcome HandleOption(NbdOption option, in ReadOnlySequence<byte> payload)
    {
        if (_tls is not null && !_tlsDone)
            return HandleOptionBeforeTls(option, payload);
        switch (option)
        {
            case NbdOption.StartTls when _tlsDone:
                return Refuse(option, NbdOptionReplyType.ErrInvalid, "TLS already negotiated");
            case NbdOption.ExportName:
                return HandleExportName(payload);
            case NbdOption.Abort:
                NbdWriter.WriteOptionReply(_output, option, NbdOptionReplyType.Ack);
                return OptionOutcome.Close;
            case NbdOption.List:
                // LIST reveals nothing: export names are capabilities, not a directory.
                if (payload.Length != 0)
                    return Refuse(option, NbdOptionReplyType.ErrInvalid, "LIST takes no data");
                NbdWriter.WriteOptionReply(_output, option, NbdOptionReplyType.Ack);
                return OptionOutcome.Continue;
            case NbdOption.StructuredReply:
                if (payload.Length != 0)
                    return Refuse(option, NbdOptionReplyType.ErrInvalid, "STRUCTURED_REPLY takes no data");
                _structured = true;
                NbdWriter.WriteOptionReply(_output, option, NbdOptionReplyType.Ack);
                return OptionOutcome.Continue;
            case NbdOption.Info:
            case NbdOption.Go:
                return HandleInfoOrGo(option, payload);
            case NbdOption.ListMetaContext:
            case NbdOption.SetMetaContext:
                return HandleMetaContext(option, payload);
            default:
                // STARTTLS included on the unix socket and plain TCP: NOTLS, which the spec allows to answer UNSUP.
                return Refuse(option, NbdOptionReplyType.ErrUnsup, "unsupported option");
        }
    }

    private OptionOutcome Refuse(NbdOption option, NbdOptionReplyType type, string message)
    {
        Log.OptionRefused(_logger, Id, (uint)option, type.ToString());
        NbdWriter.WriteOptionError(_output, option, type, message);
        return OptionOutcome.Continue;
    }

    private OptionOutcome HandleExportName(in ReadOnlySequence<byte> payload)
    {
        // EXPORT_NAME has no error reply: an unknown name can only be answered by closing (as qemu-nbd does).
        if (payload.Length > NbdLimits.MaxNameLength)
        {
            Log.ProtocolViolation(_logger, Id, "EXPORT_NAME too long");
            return OptionOutcome.Close;
        }
        string name;
        try
        {
            name = System.Text.EncodingExtensions.GetString(s_strictUtf8, payload);
        }
        catch (System.Text.DecoderFallbackException)
        {
            Log.ProtocolViolation(_logger, Id, "EXPORT_NAME not UTF-8");
            return OptionOutcome.Close;
        }
        if (!TryBind(name))
        {
            Log.ProtocolViolation(_logger, Id, "EXPORT_NAME of an unknown export");
            return OptionOutcome.Close;
        }
        NbdWriter.WriteExportNameReply(_output, _size, _flags, _noZeroes);
        return OptionOutcome.Transmission;
    }

    private static readonly System.Text.UTF8Encoding s_strictUtf8 = new(false, true);

    private OptionOutcome HandleInfoOrGo(NbdOption option, in ReadOnlySequence<byte> payload)
    {
        if (!NbdParser.TryParseInfoRequest(payload, out var name, out _))
            return Refuse(option, NbdOptionReplyType.ErrInvalid, "malformed INFO/GO request");
        ulong size;
        NbdTransmissionFlags flags;
        if (option == NbdOption.Go)
        {
            if (!TryBind(name))
                return Refuse(option, NbdOptionReplyType.ErrUnknown, "unknown export");
            (size, flags) = (_size, _flags);
        }
        else
        {
            var export = _exports.Find(name);
            if (export is null || !TryGetSize(export, out size))
                return Refuse(option, NbdOptionReplyType.ErrUnknown, "unknown export");
            flags = TransmissionFlags(export);
        }
        NbdWriter.WriteInfoExport(_output, option, size, flags);
        // Sent whether asked or not (the spec allows unrequested info): min 1, preferred 4 KiB, max 32 MiB.
        NbdWriter.WriteInfoBlockSize(_output, option, 1, 4096, NbdLimits.MaxPayload);
        NbdWriter.WriteOptionReply(_output, option, NbdOptionReplyType.Ack);
        return option == NbdOption.Go ? OptionOutcome.Transmission : OptionOutcome.Continue;
    }

    private OptionOutcome HandleMetaContext(NbdOption option, in ReadOnlySequence<byte> payload)
    {
        if (!_structured)
            return Refuse(option, NbdOptionReplyType.ErrInvalid, "structured replies not negotiated");
        if (!NbdParser.TryParseMetaContextRequest(payload, out var name, out var queries))
            return Refuse(option, NbdOptionReplyType.ErrInvalid, "malformed meta context request");
        if (!_exports.Contains(name))
            return Refuse(option, NbdOptionReplyType.ErrUnknown, "unknown export");
        bool allocation;
        if (option == NbdOption.SetMetaContext)
        {
            allocation = queries.Contains(NbdLimits.BaseAllocation, StringComparer.Ordinal);
            _metaContextExport = name;
            _metaContextAllocation = allocation;
        }
        else
        {
            // LIST with no queries lists everything; "base:" lists the whole namespace.
            allocation = queries.Length == 0 || queries.Any(q => q is NbdLimits.BaseAllocation or "base:");
        }
        if (allocation)
            NbdWriter.WriteMetaContextReply(_output, option, BaseAllocationContextId, NbdLimits.BaseAllocation);
        NbdWriter.WriteOptionReply(_output, option, NbdOptionReplyType.Ack);
        return OptionOutcome.Continue;
    }

    private NbdTransmissionFlags TransmissionFlags(NbdExport export)
    {
        var flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
            | NbdTransmissionFlags.CanMultiConn | NbdTransmissionFlags.SendCache;
        flags |= export.ReadOnly
            ? NbdTransmissionFlags.ReadOnly
            : NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes;
        if (_structured)
            flags |= NbdTransmissionFlags.SendDf;
        return flags;
    }

    private static bool TryGetSize(NbdExport export, out ulong size)
    {
        try
        {
            // The volume may have been extended since the last attachment: size is read at negotiation.
            size = (ulong)RandomAccess.GetLength(export.File.Handle);
            return true;
        }
        catch (ObjectDisposedException)
        {
            size = 0;
            return false;
        }
    }

    private bool TryBind(string name)
    {
        var export = _exports.Find(name);
        if (export is null || !TryGetSize(export, out var size))
            return false;
        _export = export;
        _size = size;
        _flags = TransmissionFlags(export);
        if (!string.Equals(_metaContextExport, name, StringComparison.Ordinal))
            _metaContextAllocation = false; // contexts were negotiated for another export name
        // Removal aborts this connection at once (synchronously, if it already happened).
        _exportRegistration = export.Removed.UnsafeRegister(static state =>
        {
            var connection = (NbdConnection)state!;
            Log.ExportRemoved(connection._logger, connection.Id, Log.Prefix(connection._export!.Name));
            connection.Abort();
        }, this);
        Log.Attached(_logger, Id, Log.Prefix(name), size, _structured, _tlsDone);
        return true;
    }
}
