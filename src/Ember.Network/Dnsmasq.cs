using System.Runtime.InteropServices;
using System.Text;

namespace Ember.Network;

/// <summary>
/// The dnsmasq processes of one state directory, found through their pid files and checked against
/// <c>/proc/PID/cmdline</c> (a pid file can outlive its process, and the pid be reused). They are not our children:
/// dnsmasq daemonizes, so it survives an Ember restart and is adopted by the next one.
/// </summary>
internal static partial class Dnsmasq
{
    private const int SigHup = 1;
    private const int SigKill = 9;
    private const int SigTerm = 15;

    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The argument that ties a dnsmasq to its network: its config file.</summary>
    public static string ConfigArgument(string configPath) => "--conf-file=" + configPath;

    /// <summary>The pid of the dnsmasq running with <paramref name="configPath"/> according to its pid file, or null.</summary>
    public static int? Running(string directory, string configPath)
    {
        var pidFile = Path.Combine(directory, DnsmasqFiles.PidName);
        string text;
        try
        {
            text = File.ReadAllText(pidFile);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        return int.TryParse(text.Trim(), out var pid) && pid > 1 && CommandLine(pid) is [var program, .. var args]
            && Path.GetFileName(program) == "dnsmasq" && args.Contains(ConfigArgument(configPath))
            ? pid
            : null;
    }

    /// <summary>Every live dnsmasq whose config file is in <paramref name="stateDirectory"/>, with that file's path.</summary>
    public static IEnumerable<(int Pid, string ConfigPath)> All(string stateDirectory)
    {
        var start = ConfigArgument(stateDirectory.TrimEnd('/') + "/");
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid) && CommandLine(pid) is [var program, .. var args]
                && Path.GetFileName(program) == "dnsmasq" && args.FirstOrDefault(a => a.StartsWith(start, StringComparison.Ordinal)) is { } config)
            {
                yield return (pid, config["--conf-file=".Length..]);
            }
        }
    }

    /// <summary>Makes dnsmasq reread its hosts and options files.</summary>
    public static void Reload(int pid)
    {
        if (Kill(pid, SigHup) != 0)
        {
            throw new InvalidOperationException($"Cannot signal dnsmasq {pid} (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>SIGTERM, then SIGKILL if it is still there after a few seconds; returns whether it needed the SIGKILL.</summary>
    public static async Task<bool> StopAsync(int pid, CancellationToken cancellationToken)
    {
        Kill(pid, SigTerm);
        var deadline = DateTime.UtcNow + s_stopTimeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                Kill(pid, SigKill);
                return true;
            }

            await Task.Delay(50, cancellationToken);
        }

        return false;
    }

    /// <summary>A zombie has an empty command line: it counts as gone (its parent, not us, reaps it).</summary>
    private static bool IsAlive(int pid) => CommandLine(pid) is { Length: > 0 };

    private static string[]? CommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllBytes($"/proc/{pid}/cmdline");
            return Encoding.UTF8.GetString(raw).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
