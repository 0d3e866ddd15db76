using System.Text;

namespace Ember.Image.Format;

/// <summary>VMDK descriptor text: the lines QEMU's vmdk driver acts on.</summary>
internal static class Vmdk
{
    /// <summary>The most descriptor text read, embedded or not; QEMU's own limit for descriptor files is larger, but no sane image comes close.</summary>
    public const int MaxDescriptorSize = 1024 * 1024;

    public static readonly string[] AllowedCreateTypes = ["monolithicSparse", "streamOptimized"];

    private static readonly string[] s_access = ["RW", "RDONLY", "NOACCESS"];

    /// <summary>One extent line: access, size in sectors, type, and the file it names (none for ZERO).</summary>
    public sealed record Extent(string Access, ulong Sectors, string Type, string? FileName);

    public sealed record Descriptor(string? CreateType, string? ParentFileNameHint, IReadOnlyList<Extent> Extents, IReadOnlyList<string> BadLines);

    /// <summary>A text descriptor file: printable text that says so, or has a createType line.</summary>
    public static bool IsDescriptorText(ReadOnlySpan<byte> head)
    {
        var text = head[..Math.Min(head.Length, 4096)];
        var nul = text.IndexOf((byte)0);
        if (nul >= 0)
        {
            text = text[..nul];
        }

        if (text.Length < 16)
        {
            return false;
        }

        foreach (var b in text)
        {
            if (b < 0x20 && b is not ((byte)'\n' or (byte)'\r' or (byte)'\t'))
            {
                return false;
            }
        }

        var s = Encoding.ASCII.GetString(text);
        return s.TrimStart().StartsWith("# Disk DescriptorFile", StringComparison.OrdinalIgnoreCase)
            || s.Split('\n').Any(l => l.TrimStart().StartsWith("createType", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Parses descriptor text up to its first NUL, as QEMU does, keeping what matters for safety.</summary>
    public static Descriptor Parse(ReadOnlySpan<byte> bytes)
    {
        var nul = bytes.IndexOf((byte)0);
        var text = Encoding.UTF8.GetString(nul >= 0 ? bytes[..nul] : bytes);
        string? createType = null;
        string? parent = null;
        var extents = new List<Extent>();
        var bad = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            var first = line.Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries)[0];
            if (s_access.Contains(first, StringComparer.OrdinalIgnoreCase))
            {
                if (ParseExtent(line) is { } extent)
                {
                    extents.Add(extent);
                }
                else
                {
                    bad.Add(line);
                }
            }
            else if (eq > 0)
            {
                var key = line[..eq].Trim();
                var value = line[(eq + 1)..].Trim().Trim('"');
                if (key.Equals("createType", StringComparison.OrdinalIgnoreCase))
                {
                    createType = value;
                }
                else if (key.Equals("parentFileNameHint", StringComparison.OrdinalIgnoreCase))
                {
                    parent = value;
                }
            }
        }

        return new Descriptor(createType, parent, extents, bad);
    }

    /// <summary>ACCESS SECTORS TYPE ["FILE" [OFFSET]], whitespace-separated.</summary>
    private static Extent? ParseExtent(string line)
    {
        var parts = line.Split([' ', '\t'], 4, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3 || !ulong.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var sectors))
        {
            return null;
        }

        string? file = null;
        if (parts.Length == 4)
        {
            var rest = parts[3].Trim();
            var open = rest.IndexOf('"', StringComparison.Ordinal);
            var close = open >= 0 ? rest.IndexOf('"', open + 1) : -1;
            file = open >= 0 && close > open ? rest[(open + 1)..close] : rest;
        }

        return new Extent(parts[0].ToUpperInvariant(), sectors, parts[2].ToUpperInvariant(), file);
    }
}
