using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Ember.Server.Data;

/// <summary>One schema step, named "service-NNN" so services can add theirs independently.</summary>
public sealed record Migration(string Id, string Sql);

/// <summary>
/// Opens connections to the state database: SQLite in the data dir (the default) or PostgreSQL, both through a
/// <see cref="DbDataSource"/>. Stores write one SQL text for both; what differs lives in <see cref="SqlDialect"/>.
/// </summary>
public sealed class Database : IAsyncDisposable
{
    private readonly DbDataSource _source;

    static Database()
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        ListParameter<string>.Register();
        ListParameter<long>.Register();
    }

    /// <summary>SQLite in the file at <paramref name="path"/>.</summary>
    public Database(string path)
        : this(new SqliteDataSource(path), SqlDialect.Sqlite, $"SQLite {path}")
    {
    }

    private Database(DbDataSource source, SqlDialect dialect, string description)
    {
        _source = source;
        Dialect = dialect;
        Description = description;
    }

    /// <summary>
    /// The database <paramref name="url"/> names (postgresql://...), or SQLite's ember.db in <paramref name="dataDir"/>
    /// when it is null or empty.
    /// </summary>
    /// <exception cref="ArgumentException">The URL is not one Ember can use (a password in it, say).</exception>
    public static Database Open(string? url, string dataDir)
    {
        if (string.IsNullOrEmpty(url))
        {
            return new Database(System.IO.Path.Combine(dataDir, "ember.db"));
        }

        var builder = PostgresUrl.Parse(url);
        return new Database(new NpgsqlDataSourceBuilder(builder.ConnectionString).Build(), SqlDialect.PostgreSql, PostgresUrl.Describe(builder));
    }

    public SqlDialect Dialect { get; }

    /// <summary>Which engine and where, for a start-up line (no password: none is ever in it).</summary>
    public string Description { get; }

    /// <summary>A UNIQUE constraint was violated: SQLite says so in its message, PostgreSQL with SQLSTATE 23505.</summary>
    public static bool IsUniqueViolation(DbException ex) => SqlDialect.IsUniqueViolation(ex);

    /// <summary>A row refers to one that is gone: SQLite says so in its message, PostgreSQL with SQLSTATE 23503.</summary>
    public static bool IsForeignKeyViolation(DbException ex) => SqlDialect.IsForeignKeyViolation(ex);

    /// <summary>The database is down or busy (a 503), as opposed to a bug in a statement (a 500).</summary>
    public static bool IsUnavailable(Exception ex) => SqlDialect.IsUnavailable(ex);

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default) =>
        await _source.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// Holds the lock named <paramref name="name"/> until <paramref name="transaction"/> ends. A statement whose
    /// condition reads rows other than the one it writes (a quota sum, a volume's attachments) runs under the lock
    /// of what it reads, or two writers can both pass it on PostgreSQL. Take locks in one order: project, then volume.
    /// </summary>
    public async Task LockAsync(DbConnection connection, DbTransaction transaction, string name)
    {
        if (Dialect.LockStatement is { } sql)
        {
            await connection.ExecuteAsync(sql, new { Name = name }, transaction);
        }
    }

    /// <summary>
    /// Drops pooled connections after the server went away, so the next request opens a fresh one instead of
    /// finding each dead pooled connection in turn.
    /// </summary>
    public void ClearPool()
    {
        if (_source is NpgsqlDataSource postgres)
        {
            postgres.Clear();
        }
    }

    /// <summary>Creates what is missing and applies every migration not yet applied, in order, each in its own transaction.</summary>
    public async Task MigrateAsync(IEnumerable<Migration> migrations, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        if (Dialect.Engine == DatabaseEngine.Sqlite)
        {
            await connection.ExecuteAsync("PRAGMA journal_mode = WAL;");
        }

        await connection.ExecuteAsync(Dialect.Schema(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id VARCHAR(64) PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"));
        foreach (var migration in migrations)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // Two servers starting on one PostgreSQL database: the second waits, then finds the step applied.
            await LockAsync(connection, transaction, "schema_migrations");
            if (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations WHERE id = @Id", new { migration.Id }, transaction) > 0)
            {
                continue;
            }

            await connection.ExecuteAsync(Dialect.Schema(migration.Sql), transaction: transaction);
            await connection.ExecuteAsync(
                "INSERT INTO schema_migrations (id, applied_at) VALUES (@Id, @Now)",
                new { migration.Id, Now = DateTime.UtcNow },
                transaction);
            await transaction.CommitAsync(cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();

    /// <summary>SQLite connections with Ember's settings applied on every open (SQLite keeps them per connection).</summary>
    private sealed class SqliteDataSource(string path) : DbDataSource
    {
        private readonly string _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        public override string ConnectionString => _connectionString;

        protected override DbConnection CreateDbConnection() => new SqliteConnection(_connectionString);

        protected override async ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken = default)
        {
            var connection = new SqliteConnection(_connectionString);
            try
            {
                await connection.OpenAsync(cancellationToken);
                await using var pragma = Settings(connection);
                await pragma.ExecuteNonQueryAsync(cancellationToken);
                return connection;
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        protected override DbConnection OpenDbConnection()
        {
            var connection = new SqliteConnection(_connectionString);
            try
            {
                connection.Open();
                using var pragma = Settings(connection);
                pragma.ExecuteNonQuery();
                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        // Wait for a concurrent writer instead of failing with "database is locked".
        private static SqliteCommand Settings(SqliteConnection connection)
        {
            var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";
            return pragma;
        }
    }
}
