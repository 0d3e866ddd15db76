using System.Diagnostics;
using Ember.Nbd.Protocol;

namespace Ember.Nbd;

/// <summary>
/// Running totals of one export's requests, shared by all its connections: operations, bytes and time per command.
/// Plain interlocked adds on the request path (no allocation, no lock); readers take what they see as a snapshot.
/// </summary>
public sealed class NbdExportStats
{
    /// <summary>The commands that are counted, in <see cref="NbdCommand"/> order (DISC gets no reply and is not).</summary>
    public static readonly IReadOnlyList<NbdCommand> Commands =
        [NbdCommand.Read, NbdCommand.Write, NbdCommand.Flush, NbdCommand.Trim, NbdCommand.Cache, NbdCommand.WriteZeroes, NbdCommand.BlockStatus];

    private const int Slots = (int)NbdCommand.BlockStatus + 1;
    private readonly long[] _operations = new long[Slots];
    private readonly long[] _ticks = new long[Slots];
    private long _bytesRead;
    private long _bytesWritten;
    private long _errors;

    public long BytesRead => Volatile.Read(ref _bytesRead);

    public long BytesWritten => Volatile.Read(ref _bytesWritten);

    /// <summary>Requests answered with an error (any command).</summary>
    public long Errors => Volatile.Read(ref _errors);

    /// <summary>Requests of <paramref name="command"/> answered, with or without an error.</summary>
    public long Operations(NbdCommand command) => Volatile.Read(ref _operations[(int)command]);

    /// <summary>Time from reading the request to queueing its reply, summed over the requests of <paramref name="command"/>.</summary>
    public TimeSpan Busy(NbdCommand command) => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _ticks[(int)command]));

    /// <summary>Counts one answered request: <paramref name="bytes"/> moved (READ/WRITE only), started at <paramref name="started"/> (a Stopwatch timestamp).</summary>
    internal void Record(NbdCommand command, bool failed, long bytes, long started)
    {
        var slot = (int)command;
        if ((uint)slot >= Slots || command == NbdCommand.Disconnect)
            return;
        Interlocked.Increment(ref _operations[slot]);
        if (started != 0)
            Interlocked.Add(ref _ticks[slot], Stopwatch.GetTimestamp() - started);
        if (failed)
            Interlocked.Increment(ref _errors);
        else if (command == NbdCommand.Read)
            Interlocked.Add(ref _bytesRead, bytes);
        else if (command == NbdCommand.Write)
            Interlocked.Add(ref _bytesWritten, bytes);
    }
}
