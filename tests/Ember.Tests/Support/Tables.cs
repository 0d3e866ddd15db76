namespace Ember.Tests.Support;

/// <summary>Reads a prettytable back: its headers, its rows, and the layout with every value blanked.</summary>
public static class Tables
{
    public static IReadOnlyList<string> Headers(string table) => Cells(DataLines(table).First());

    public static List<string[]> Rows(string table) => [.. DataLines(table).Skip(1).Select(l => Cells(l).ToArray())];

    /// <summary>First column of a Property/Value table.</summary>
    public static List<string> Properties(string table) => [.. Rows(table).Select(r => r[0])];

    public static string Value(string table, string property) => Rows(table).Single(r => r[0] == property)[1];

    /// <summary>The lines of the first table in <paramref name="text"/> (from the first "+-" line to the last).</summary>
    public static List<string> Lines(string text)
    {
        var lines = text.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.TrimStart()).ToList();
        var first = lines.FindIndex(l => l.StartsWith("+-", StringComparison.Ordinal));
        var last = lines.FindLastIndex(l => l.StartsWith("+-", StringComparison.Ordinal));
        return lines[first..(last + 1)];
    }

    /// <summary>Checks the table is well-formed: every line as long as the rule, borders at the same columns.</summary>
    public static void AssertWellFormed(string table)
    {
        var lines = Lines(table);
        var rule = lines[0];
        var borders = Enumerable.Range(0, rule.Length).Where(i => rule[i] == '+').ToArray();
        foreach (var line in lines)
        {
            Assert.Equal(rule.Length, line.Length);
            Assert.All(borders, i => Assert.Contains(line[i], "+|"));
        }
    }

    private static IEnumerable<string> DataLines(string table) => Lines(table).Where(l => l.StartsWith('|'));

    private static List<string> Cells(string line) => [.. line.Trim('|').Split(" | ").Select(c => c.Trim(' ', '|'))];
}
