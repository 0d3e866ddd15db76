namespace Ember.Testing;

/// <summary>
/// A throwaway PostgreSQL cluster from Debian's packages, as Npgsql's own tests use a real server: initdb into a
/// temporary directory, listening only on a unix socket in that directory (no TCP port, no system service, no
/// password: trust for the local socket, which only the directory's owner and root can reach). Deleted on dispose.
/// </summary>
/// <remarks>
/// initdb and postgres refuse to run as root; under root (CI, this machine) they run as the unprivileged user
/// Debian's package creates, <c>postgres</c>, through runuser, and that user is given the directory.
/// </remarks>
public sealed class PostgresCluster : IAsyncDisposable
{
    /// <summary>The cluster's superuser, the one the connection URLs name.</summary>
    public const string SuperUser = "ember";

    private readonly string _bin;
    private readonly string? _runAs;

    private PostgresCluster(string bin, string dir, string? runAs)
    {
        _bin = bin;
        Dir = dir;
        _runAs = runAs;
    }

    /// <summary>Holds the data directory (data/), the server log (log) and the socket (.s.PGSQL.5432).</summary>
    public string Dir { get; }

    public string DataDir => Path.Combine(Dir, "data");

    /// <summary>Whether the server is running (between <see cref="StartAsync"/> and <see cref="StopAsync"/>).</summary>
    public bool Running { get; private set; }

    /// <summary>The TCP address (<see cref="CreateAsync"/>'s tcpAddress) and port, when the cluster listens on one.</summary>
    public (string Address, int Port)? Tcp { get; private set; }

    /// <summary>
    /// initdb, then start. Throws with what to install when PostgreSQL is missing. With <paramref name="tcpAddress"/>
    /// it also listens on that address (a free port) for clients in other network namespaces, which log in as
    /// <see cref="SuperUser"/> with <paramref name="tcpPassword"/> (SCRAM); the unix socket stays password-less.
    /// </summary>
    public static async Task<PostgresCluster> CreateAsync(string? tcpAddress = null, string? tcpPassword = null)
    {
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin/initdb): run tools/install-deps.sh (Debian package postgresql).");
        var dir = Directory.CreateTempSubdirectory("ember-pg-").FullName; // 0700
        string? runAs = null;
        if (Environment.IsPrivilegedProcess)
        {
            runAs = "postgres";
            (await Cli.RunAsync("chown", [$"{runAs}:", dir])).EnsureSuccess();
        }

        var cluster = new PostgresCluster(bin, dir, runAs);
        try
        {
            await cluster.RunAsync("initdb", "-D", cluster.DataDir, "-U", SuperUser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions");
            // In postgresql.conf rather than through pg_ctl -o, which goes through a shell. Root may write the
            // postgres user's file; the file keeps its owner.
            cluster.Tcp = tcpAddress is null ? null : (tcpAddress, FreePort(tcpAddress));
            var settings = $"""

                listen_addresses = '{tcpAddress}'
                port = {cluster.Tcp?.Port ?? 5432}
                unix_socket_directories = '{dir}'
                fsync = off
                synchronous_commit = off
                full_page_writes = off
                shared_buffers = 16MB
                max_connections = 200
                """;
            await File.AppendAllTextAsync(Path.Combine(cluster.DataDir, "postgresql.conf"), settings);
            if (tcpAddress is not null)
            {
                await File.AppendAllTextAsync(Path.Combine(cluster.DataDir, "pg_hba.conf"), $"host all {SuperUser} {tcpAddress}/24 scram-sha-256\n");
            }

            await cluster.StartAsync();
            if (tcpPassword is not null)
            {
                // On stdin, so that the password is on no command line.
                await cluster.RunWithInputAsync("psql", stdin: $"ALTER ROLE {SuperUser} PASSWORD '{tcpPassword.Replace("'", "''", StringComparison.Ordinal)}';",
                    "-h", dir, "-p", (cluster.Tcp?.Port ?? 5432).ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", SuperUser, "-d", "postgres", "-v", "ON_ERROR_STOP=1");
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates a fresh database; returns the URL Ember takes (--database), which carries no password.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await RunAsync("createdb", "-h", Dir, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", SuperUser, name);
        return UrlOf(name);
    }

    private int Port => Tcp?.Port ?? 5432;

    /// <summary>postgresql://ember@/NAME?host=DIR: the unix socket in <see cref="Dir"/>.</summary>
    public string UrlOf(string database) =>
        $"postgresql://{SuperUser}@/{database}?host={Uri.EscapeDataString(Dir)}" + (Port == 5432 ? "" : $"&port={Port}");

    /// <summary>postgresql://ember@ADDRESS:PORT/NAME: over TCP, with the password in PGPASSWORD.</summary>
    public string TcpUrlOf(string database) =>
        Tcp is var (address, port) ? $"postgresql://{SuperUser}@{address}:{port}/{database}" : throw new InvalidOperationException("The cluster has no TCP listener.");

    public async Task StartAsync()
    {
        await RunAsync("pg_ctl", "-D", DataDir, "-l", Path.Combine(Dir, "log"), "-w", "-t", "120", "start");
        Running = true;
    }

    /// <summary>Fast shutdown: open connections are cut, as when a server goes away under a running Ember.</summary>
    public async Task StopAsync()
    {
        await RunAsync("pg_ctl", "-D", DataDir, "-m", "fast", "-w", "-t", "120", "stop");
        Running = false;
    }

    public async ValueTask DisposeAsync()
    {
        if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
        {
            try
            {
                await RunAsync("pg_ctl", "-D", DataDir, "-m", "immediate", "-w", "stop");
            }
            catch (InvalidOperationException)
            {
                // Not running after all (a stale pid file): nothing to stop.
            }

            Running = false;
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A server that would not stop still holds its socket; a temp dir is not worth failing a test for.
        }
    }

    private static int FreePort(string address)
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Parse(address), 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The newest installed major version's binaries.</summary>
    private static string? FindBin()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Dir)
            .FirstOrDefault();
    }

    /// <summary>Runs one of the cluster's programs as the cluster's owner.</summary>
    private Task RunAsync(string program, params string[] args) => RunWithInputAsync(program, stdin: null, args);

    private async Task RunWithInputAsync(string program, string? stdin, params string[] args)
    {
        var path = Path.Combine(_bin, program);
        var result = _runAs is null
            ? await Cli.RunAsync(path, args, timeout: TimeSpan.FromMinutes(3), stdin: stdin)
            : await Cli.RunAsync("runuser", ["-u", _runAs, "--", path, .. args], timeout: TimeSpan.FromMinutes(3), stdin: stdin);
        if (result.ExitCode != 0)
        {
            var log = Path.Combine(Dir, "log");
            throw new InvalidOperationException($"{Path.GetFileName(path)} failed ({result.ExitCode}): {result.StdErr}{result.StdOut}"
                + (File.Exists(log) ? "\nserver log:\n" + await File.ReadAllTextAsync(log) : ""));
        }
    }
}
