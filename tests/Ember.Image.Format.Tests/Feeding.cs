namespace Ember.Image.Format.Tests;

/// <summary>The ways a caller feeds an inspector: as an upload streams (then the few ranges it still wants), or by positional reads only.</summary>
public enum FeedMode
{
    Stream4K,
    Stream1M,
    Positional,
}

internal static class Feeding
{
    public static readonly TheoryData<FeedMode> Modes = [FeedMode.Stream4K, FeedMode.Stream1M, FeedMode.Positional];

    /// <summary>Inspects <paramref name="image"/>; <paramref name="read"/> counts the bytes read positionally.</summary>
    public static ImageInspection Inspect(byte[] image, FeedMode mode, out long read)
    {
        var inspector = new ImageInspector();
        read = 0;
        if (mode != FeedMode.Positional)
        {
            var chunk = mode == FeedMode.Stream4K ? 4096 : 1 << 20;
            for (var offset = 0; offset < image.Length; offset += chunk)
            {
                inspector.Feed(offset, image.AsSpan(offset, Math.Min(chunk, image.Length - offset)));
            }
        }

        inspector.SetLength(image.Length);
        for (var guard = 0; inspector.NextWanted is { } range; guard++)
        {
            Assert.True(guard < 100, "the inspector keeps asking for more");
            Assert.True(range.Offset >= 0 && range.End <= image.Length, $"wanted {range} is outside the image");
            inspector.Feed(range.Offset, image.AsSpan((int)range.Offset, range.Length));
            read += range.Length;
        }

        return inspector.Inspect();
    }

    public static ImageInspection Inspect(byte[] image, FeedMode mode = FeedMode.Positional) => Inspect(image, mode, out _);
}

/// <summary>A temporary directory where qemu-img makes real images; removed with the test class.</summary>
public sealed class QemuImg : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("ember-image-format").FullName;

    public string this[string name] => Path.Combine(Dir, name);

    /// <summary>qemu-img create -f FORMAT [options] NAME SIZE, returning the file's bytes.</summary>
    public async Task<byte[]> CreateAsync(string name, string format, string size, params string[] options)
    {
        await Cli.RunOkAsync("qemu-img", ["create", "-q", "-f", format, .. options, this[name], size]);
        return await File.ReadAllBytesAsync(this[name]);
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
