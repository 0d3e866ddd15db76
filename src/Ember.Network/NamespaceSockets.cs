using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ember.Network;

/// <summary>
/// Listening sockets inside a named network namespace, opened by this process: a socket belongs to the namespace of the
/// thread that created it and stays there, so one short-lived thread enters the namespace (setns), creates and binds the
/// socket, returns to the process's own namespace and ends. The process then serves the socket like any other.
/// </summary>
public static partial class NamespaceSockets
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>A TCP socket listening on <paramref name="endpoint"/> inside <c>/run/netns/{namespaceName}</c>.</summary>
    /// <exception cref="IOException">The namespace does not exist or cannot be entered (with errno).</exception>
    /// <exception cref="SocketException">The address cannot be bound in that namespace.</exception>
    public static Socket ListenTcp(string namespaceName, IPEndPoint endpoint, int backlog)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        if (namespaceName.Contains('/', StringComparison.Ordinal) || namespaceName is "." or "..")
        {
            throw new ArgumentException($"'{namespaceName}' is not a namespace name.", nameof(namespaceName));
        }

        Socket? socket = null;
        Exception? failure = null;

        // A dedicated thread, not a pool thread: its namespace changes, and threads it started would inherit it (it starts none).
        var thread = new Thread(() =>
        {
            try
            {
                using var home = File.OpenHandle("/proc/thread-self/ns/net", FileMode.Open, FileAccess.Read);
                using var target = File.OpenHandle(Path.Combine("/run/netns", namespaceName), FileMode.Open, FileAccess.Read);
                Enter(target, namespaceName);
                try
                {
                    var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                    try
                    {
                        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                        listener.Bind(endpoint);
                        listener.Listen(backlog);
                        socket = listener;
                    }
                    catch
                    {
                        listener.Dispose();
                        throw;
                    }
                }
                finally
                {
                    Enter(home, "the process's own");
                }
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        { IsBackground = true, Name = "netns-listen" };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw failure;
        }

        return socket!;
    }

    /// <summary>
    /// Which namespace the name stands for now (<c>net:[inode]</c>), or null when there is none: a namespace deleted and made
    /// again under the same name is another one, and a socket in the old one serves nobody.
    /// </summary>
    public static string? Identity(string namespaceName)
    {
        try
        {
            using var handle = File.OpenHandle(Path.Combine("/run/netns", namespaceName), FileMode.Open, FileAccess.Read);
            return new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void Enter(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string name)
    {
        if (SetNs(handle, CloneNewNet) != 0)
        {
            throw new IOException($"setns into {name} network namespace failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(Microsoft.Win32.SafeHandles.SafeFileHandle fd, int nstype);
}
