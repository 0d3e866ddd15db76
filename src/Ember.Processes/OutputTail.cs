using System.Text;
using CliWrap;

namespace Ember.Processes;

/// <summary>The last <c>limit</c> characters of one output stream: the whole stream is read (so the child never blocks) but only its end is kept.</summary>
internal sealed class OutputTail(int limit)
{
    private readonly StringBuilder _text = new();
    private bool _dropped;

    public PipeTarget Target => PipeTarget.Create(ReadAsync);

    /// <summary>What was kept, starting with "…" when earlier output was dropped.</summary>
    public string Text
    {
        get
        {
            Trim(limit);
            return _dropped ? "…" + _text : _text.ToString();
        }
    }

    private async Task ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer, cancellationToken)) > 0)
        {
            _text.Append(buffer, 0, read);
            // Trimming only past twice the limit keeps the copying proportional to what is read.
            if (_text.Length > 2 * limit)
            {
                Trim(limit);
            }
        }
    }

    private void Trim(int length)
    {
        if (_text.Length > length)
        {
            _text.Remove(0, _text.Length - length);
            _dropped = true;
        }
    }
}
