using System.Diagnostics;
using System.Text;

namespace Ember.Compute.Qemu;

/// <summary>Runs a short-lived helper (qemu-img, the KVM probe) with a timeout; the process never outlives the call.</summary>
internal static class ProcessRunner
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Start(startInfo);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException)
        {
            KillQuietly(process);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{Path.GetFileName(fileName)} did not finish within {timeout.TotalSeconds:0.#} s");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public static Process Start(ProcessStartInfo startInfo)
    {
        try
        {
            return Process.Start(startInfo) ?? throw new QemuException($"could not start {startInfo.FileName}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new QemuException($"could not start {startInfo.FileName}: {ex.Message}", ex);
        }
    }

    public static void KillQuietly(Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public static string Quote(IEnumerable<string> arguments)
    {
        var builder = new StringBuilder();
        foreach (var argument in arguments)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '{' or '$')
                ? "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'"
                : argument);
        }

        return builder.ToString();
    }
}
