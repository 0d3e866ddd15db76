namespace Ember.Compute.Qemu;

/// <summary>Watches a process that is not our child (an adopted QEMU) through /proc.</summary>
internal static class ProcessWatch
{
    public static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}") && !IsZombie(pid);

    public static bool IsZombie(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain spaces and parentheses, so split at the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var end = stat.LastIndexOf(')');
            return end > 0 && end + 2 < stat.Length && stat[end + 2] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
    }

    public static async Task WaitForExitAsync(int pid, CancellationToken cancellationToken)
    {
        while (IsAlive(pid))
        {
            await Task.Delay(200, cancellationToken);
        }
    }
}
