using System.Text;

namespace Ember.Client.Output;

/// <summary>
/// Renders tables the way python-prettytable 0.7 does (the 2015 clients and cliff use it): "+---+" rules,
/// one space of padding, each column as wide as its widest line, left or centered text.
/// </summary>
public sealed class PrettyTable(IReadOnlyList<string> headers, bool centered = false)
{
    private readonly List<string[]> _rows = [];

    public IReadOnlyList<string> Headers { get; } = headers;

    public void AddRow(params string[] cells) => _rows.Add(cells);

    public override string ToString()
    {
        var widths = Headers.Select(h => h.Length).ToArray();
        foreach (var row in _rows)
        {
            for (var i = 0; i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], Lines(row[i]).Max(l => l.Length));
            }
        }

        var rule = "+" + string.Join("+", widths.Select(w => new string('-', w + 2))) + "+";
        var text = new StringBuilder();
        text.Append(rule).Append('\n');
        AppendLine(text, [.. Headers], widths);
        text.Append(rule).Append('\n');
        foreach (var row in _rows)
        {
            // A cell with newlines spans several text lines, the other cells padded with blanks.
            var cells = row.Select(Lines).ToArray();
            var height = cells.Max(c => c.Length);
            for (var line = 0; line < height; line++)
            {
                AppendLine(text, [.. cells.Select(c => line < c.Length ? c[line] : "")], widths);
            }
        }

        if (_rows.Count > 0 || Headers.Count > 0)
        {
            text.Append(rule);
        }

        return text.ToString();
    }

    private void AppendLine(StringBuilder text, string[] cells, int[] widths)
    {
        text.Append('|');
        for (var i = 0; i < widths.Length; i++)
        {
            text.Append(' ').Append(Justify(cells[i], widths[i])).Append(" |");
        }

        text.Append('\n');
    }

    /// <summary>prettytable's _justify: centered text with an odd excess gets the extra space on the right when the text length is odd, on the left when even.</summary>
    private string Justify(string text, int width)
    {
        var excess = width - text.Length;
        if (!centered)
        {
            return text + new string(' ', excess);
        }

        var left = excess / 2;
        var right = excess / 2;
        if (excess % 2 == 1)
        {
            if (text.Length % 2 == 1)
            {
                right++;
            }
            else
            {
                left++;
            }
        }

        return new string(' ', left) + text + new string(' ', right);
    }

    private static string[] Lines(string cell) => cell.Split('\n');
}
