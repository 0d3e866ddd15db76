using System.CommandLine;
using Ember.Client;
using Ember.Commands.Client;
using Ember.Commands.Legacy;

namespace Ember.Commands;

/// <summary>Builds the `ember` command tree, or the cinder/nova/glance tree when invoked under one of those names.</summary>
public static class EmberCli
{
    public static Task<int> RunAsync(string[] args) => RunAsync(args, CliContext.FromProcess(), InvokedName());

    /// <summary>Runs one command line as <paramref name="programName"/> (ember, cinder, nova or glance).</summary>
    public static async Task<int> RunAsync(string[] args, CliContext context, string programName = "ember")
    {
        var root = programName switch
        {
            "cinder" => CinderShell.Create(context),
            "nova" => NovaShell.Create(context),
            "glance" => GlanceShell.Create(context),
            _ => CreateEmber(context),
        };
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = context.Out, Error = context.Err });
    }

    private static RootCommand CreateEmber(CliContext context)
    {
        var root = new RootCommand("Ember: a small OpenStack-compatible cloud with multi-attach volumes.");
        foreach (var (name, description) in ServerVerbs.Entries)
        {
            // Shown in the help only: Program hands these verbs to ember-server before any parsing.
            root.Subcommands.Add(new Command(name, description) { TreatUnmatchedTokensAsErrors = false });
        }

        var client = new ClientOptions(context, withOutputOptions: true);
        client.AddTo(root);
        root.Subcommands.Add(VolumeCommands.Create(client));
        root.Subcommands.Add(ServerCommands.Create(client));
        root.Subcommands.Add(ImageCommands.Create(client));
        root.Subcommands.Add(FlavorCommands.Create(client));
        root.Subcommands.Add(TokenCommands.Create(client));
        return root;
    }

    /// <summary>
    /// The name this process was started as. argv[0] from /proc/self/cmdline keeps a symlink's name
    /// (bin/cinder -> ember); Environment.ProcessPath and GetCommandLineArgs()[0] resolve to the apphost or dll.
    /// </summary>
    public static string InvokedName()
    {
        try
        {
            var cmdline = File.ReadAllBytes("/proc/self/cmdline");
            var end = Array.IndexOf(cmdline, (byte)0);
            var argv0 = System.Text.Encoding.UTF8.GetString(cmdline, 0, end < 0 ? cmdline.Length : end);
            var name = Path.GetFileName(argv0);
            if (name is "cinder" or "nova" or "glance")
            {
                return name;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return "ember";
    }
}
