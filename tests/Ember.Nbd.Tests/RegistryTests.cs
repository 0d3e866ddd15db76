namespace Ember.Nbd.Tests;

public class RegistryTests
{
    [Fact]
    public void New_export_names_are_64_hex_characters_and_distinct()
    {
        var names = Enumerable.Range(0, 100).Select(_ => NbdExportRegistry.NewExportName()).ToList();
        Assert.All(names, n => Assert.Matches("^[0-9a-f]{64}$", n));
        Assert.Equal(100, names.Distinct().Count());
    }

    [Fact]
    public void Add_remove_contains_and_duplicate_names()
    {
        var dir = Directory.CreateTempSubdirectory("ember-nbd-reg");
        try
        {
            var file = Path.Combine(dir.FullName, "v.raw");
            File.WriteAllBytes(file, new byte[4096]);
            var registry = new NbdExportRegistry();
            registry.Add("a", file, readOnly: false);
            Assert.Throws<InvalidOperationException>(() => registry.Add("a", file, readOnly: true));
            registry.Add("b", file, readOnly: true);
            Assert.True(registry.Contains("a") && registry.Contains("b"));
            Assert.Same(registry.Find("a")!.File, registry.Find("b")!.File); // one handle per file
            var handle = registry.Find("a")!.File.Handle;
            Assert.True(registry.Remove("a"));
            Assert.False(handle.IsClosed); // "b" still uses it
            Assert.True(registry.Remove("b"));
            Assert.True(handle.IsClosed); // last export gone: file closed
            Assert.False(registry.Contains("a"));
            Assert.Throws<FileNotFoundException>(() => registry.Add("c", Path.Combine(dir.FullName, "missing.raw"), readOnly: false));
            Assert.False(registry.Contains("c"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
