namespace Ember.Image.Format;

/// <summary>Collects what an analysis finds; <see cref="Build"/> makes the immutable result.</summary>
internal sealed class Findings(ImageFormat format)
{
    private readonly List<string> _backing = [];
    private readonly List<string> _dataFiles = [];
    private readonly List<string> _problems = [];

    public long? VirtualSize { get; set; }

    public ImageInspection? AsFixedVhd { get; set; }

    public Findings Problem(string problem)
    {
        _problems.Add(problem);
        return this;
    }

    /// <summary>A reference to a backing (parent) image: always a problem, named the way the format names it.</summary>
    public Findings Backing(string what, string name)
    {
        _backing.Add(name);
        return Problem($"{what} {Describe(name)}");
    }

    /// <summary>A reference to another file holding the image's data: always a problem.</summary>
    public Findings DataFile(string what, string name)
    {
        _dataFiles.Add(name);
        return Problem($"{what} {Describe(name)}");
    }

    public Findings Truncated(string what) => Problem($"{what} is truncated");

    public ImageInspection Build() => new(format, VirtualSize, [.. _backing], [.. _dataFiles], [.. _problems]) { AsFixedVhd = AsFixedVhd };

    /// <summary>Quoted and cut to a readable length; json: names get called what they are.</summary>
    private static string Describe(string name)
    {
        var shown = name.Length > 200 ? name[..200] + "..." : name;
        shown = string.Concat(shown.Select(c => char.IsControl(c) ? '?' : c));
        return name.StartsWith("json:", StringComparison.OrdinalIgnoreCase) ? $"(a json: specification) '{shown}'" : $"'{shown}'";
    }
}
