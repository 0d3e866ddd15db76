using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ember.Server.Data;

/// <summary>One schema step, named "service-NNN" so services can add theirs independently.</summary>
public sealed record Migration(string Id, string Sql);

/// <summary>
/// Opens connections to the state database. SQLite is the embedded default; the domain code
/// only uses portable SQL (no SQLite-only syntax) so a PostgreSQL factory can take its place.
/// </summary>
public sealed class Database
{
    private readonly string _connectionString;

    static Database()
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
    }

    public Database(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    /// <summary>A UNIQUE constraint was violated: SQLite says so in its message, PostgreSQL with SQLSTATE 23505.</summary>
    public static bool IsUniqueViolation(DbException ex) =>
        ex.SqlState == "23505" || ex.Message.Contains("UNIQUE", StringComparison.OrdinalIgnoreCase);

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // Wait for a concurrent writer instead of failing with "database is locked".
        await using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }

        return connection;
    }

    /// <summary>Creates the file, turns on WAL and applies every migration not yet applied, in order.</summary>
    public async Task MigrateAsync(IEnumerable<Migration> migrations, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteAsync("PRAGMA journal_mode = WAL;");
        await connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id VARCHAR(64) PRIMARY KEY, applied_at TIMESTAMP NOT NULL)");
        var applied = (await connection.QueryAsync<string>("SELECT id FROM schema_migrations")).ToHashSet();
        foreach (var migration in migrations)
        {
            if (applied.Contains(migration.Id))
            {
                continue;
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync(migration.Sql, transaction: transaction);
            await connection.ExecuteAsync(
                "INSERT INTO schema_migrations (id, applied_at) VALUES (@Id, @Now)",
                new { migration.Id, Now = DateTime.UtcNow },
                transaction);
            await transaction.CommitAsync(cancellationToken);
        }
    }
}
