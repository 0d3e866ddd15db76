namespace Ember.Nbd.Protocol;

/// <summary>NBD magic numbers (big-endian on the wire).</summary>
public static class NbdMagic
{
    /// <summary>"NBDMAGIC", first 8 bytes of the server greeting.</summary>
    public const ulong InitPasswd = 0x4e42444d41474943;

    /// <summary>"IHAVEOPT": newstyle greeting and the prefix of every option.</summary>
    public const ulong IHaveOpt = 0x49484156454F5054;

    /// <summary>Oldstyle greeting magic (obsolete; never sent by Ember).</summary>
    public const ulong ClientSerial = 0x00420281861253;

    /// <summary>Prefix of every option reply.</summary>
    public const ulong OptionReply = 0x0003e889045565a9;

    /// <summary>Prefix of every transmission request.</summary>
    public const uint Request = 0x25609513;

    /// <summary>Prefix of a simple reply.</summary>
    public const uint SimpleReply = 0x67446698;

    /// <summary>Prefix of a structured reply chunk.</summary>
    public const uint StructuredReply = 0x668e33ef;

    /// <summary>Extended-header request (reserved; not supported).</summary>
    public const uint ExtendedRequest = 0x21e41c71;

    /// <summary>Extended-header reply (reserved; not supported).</summary>
    public const uint ExtendedReply = 0x6e8a278c;
}

/// <summary>Handshake flags sent by the server in the greeting.</summary>
[Flags]
public enum NbdHandshakeFlags : ushort
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

/// <summary>Flags the client sends after the greeting.</summary>
[Flags]
public enum NbdClientFlags : uint
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

/// <summary>Handshake options.</summary>
public enum NbdOption : uint
{
    ExportName = 1,
    Abort = 2,
    List = 3,
    PeekExport = 4,
    StartTls = 5,
    Info = 6,
    Go = 7,
    StructuredReply = 8,
    ListMetaContext = 9,
    SetMetaContext = 10,
    ExtendedHeaders = 11,
}

/// <summary>Option reply types; errors have bit 31 set.</summary>
public enum NbdOptionReplyType : uint
{
    Ack = 1,
    Server = 2,
    Info = 3,
    MetaContext = 4,
    ErrUnsup = 0x80000000 | 1,
    ErrPolicy = 0x80000000 | 2,
    ErrInvalid = 0x80000000 | 3,
    ErrPlatform = 0x80000000 | 4,
    ErrTlsReqd = 0x80000000 | 5,
    ErrUnknown = 0x80000000 | 6,
    ErrShutdown = 0x80000000 | 7,
    ErrBlockSizeReqd = 0x80000000 | 8,
    ErrTooBig = 0x80000000 | 9,
}

/// <summary>Information items of NBD_OPT_INFO / NBD_OPT_GO.</summary>
public enum NbdInfoType : ushort
{
    Export = 0,
    Name = 1,
    Description = 2,
    BlockSize = 3,
}

/// <summary>Transmission flags of an export.</summary>
[Flags]
public enum NbdTransmissionFlags : ushort
{
    None = 0,
    HasFlags = 1 << 0,
    ReadOnly = 1 << 1,
    SendFlush = 1 << 2,
    SendFua = 1 << 3,
    Rotational = 1 << 4,
    SendTrim = 1 << 5,
    SendWriteZeroes = 1 << 6,
    SendDf = 1 << 7,
    CanMultiConn = 1 << 8,
    SendResize = 1 << 9,
    SendCache = 1 << 10,
    SendFastZero = 1 << 11,
}

/// <summary>Transmission commands.</summary>
public enum NbdCommand : ushort
{
    Read = 0,
    Write = 1,
    Disconnect = 2,
    Flush = 3,
    Trim = 4,
    Cache = 5,
    WriteZeroes = 6,
    BlockStatus = 7,
}

/// <summary>Per-request command flags.</summary>
[Flags]
public enum NbdCommandFlags : ushort
{
    None = 0,
    Fua = 1 << 0,
    NoHole = 1 << 1,
    DontFragment = 1 << 2,
    ReqOne = 1 << 3,
    FastZero = 1 << 4,
}

/// <summary>Structured reply chunk types.</summary>
public enum NbdReplyChunkType : ushort
{
    None = 0,
    OffsetData = 1,
    OffsetHole = 2,
    BlockStatus = 5,
    Error = 0x8001,
    ErrorOffset = 0x8002,
}

/// <summary>Structured reply chunk flags.</summary>
[Flags]
public enum NbdReplyChunkFlags : ushort
{
    None = 0,
    Done = 1 << 0,
}

/// <summary>Flags of the <c>base:allocation</c> meta context.</summary>
[Flags]
public enum NbdAllocationFlags : uint
{
    Data = 0,
    Hole = 1 << 0,
    Zero = 1 << 1,
}

/// <summary>Error values on the wire (Linux errno numbers, by spec).</summary>
public enum NbdError : uint
{
    None = 0,
    Perm = 1,
    Io = 5,
    NoMem = 12,
    Inval = 22,
    NoSpc = 28,
    Overflow = 75,
    NotSup = 95,
    Shutdown = 108,
}

/// <summary>Sizes and limits of the wire format.</summary>
public static class NbdLimits
{
    /// <summary>Greeting: NBDMAGIC, IHAVEOPT, u16 flags.</summary>
    public const int GreetingSize = 18;

    /// <summary>Option header: magic, option, length.</summary>
    public const int OptionHeaderSize = 16;

    /// <summary>Option reply header: magic, option, type, length.</summary>
    public const int OptionReplyHeaderSize = 20;

    /// <summary>Transmission request header.</summary>
    public const int RequestSize = 28;

    /// <summary>Simple reply header.</summary>
    public const int SimpleReplySize = 16;

    /// <summary>Structured reply chunk header.</summary>
    public const int ChunkHeaderSize = 20;

    /// <summary>Maximum export name length the spec allows.</summary>
    public const int MaxNameLength = 4096;

    /// <summary>Payload size every client may use (the spec's "SHOULD NOT be treated as DoS").</summary>
    public const int MaxPayload = 32 * 1024 * 1024;

    /// <summary>The <c>base:allocation</c> meta context name.</summary>
    public const string BaseAllocation = "base:allocation";
}
