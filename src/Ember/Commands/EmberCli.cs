using System.CommandLine;

namespace Ember.Commands;

/// <summary>Builds the `ember` command tree.</summary>
public static class EmberCli
{
    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Ember: a small OpenStack-compatible cloud with multi-attach volumes.");
        root.Subcommands.Add(ServeCommand.Create());
        return await root.Parse(args).InvokeAsync();
    }
}
