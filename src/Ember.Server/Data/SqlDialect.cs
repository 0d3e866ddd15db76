using System.Data.Common;
using System.Text.RegularExpressions;
using Npgsql;

namespace Ember.Server.Data;

/// <summary>The engines Ember keeps its state in.</summary>
public enum DatabaseEngine
{
    Sqlite,
    PostgreSql,
}

/// <summary>
/// Everything the two engines disagree on, in one place. Stores and migrations write one SQL text for both
/// (portable types and statements, upserts as <c>INSERT ... ON CONFLICT</c>, which both accept) and ask this
/// class for the rest. docs/database.md has the rules.
/// </summary>
public sealed partial class SqlDialect
{
    private SqlDialect(DatabaseEngine engine) => Engine = engine;

    public static SqlDialect Sqlite { get; } = new(DatabaseEngine.Sqlite);

    public static SqlDialect PostgreSql { get; } = new(DatabaseEngine.PostgreSql);

    public DatabaseEngine Engine { get; }

    public string Name => Engine == DatabaseEngine.Sqlite ? "SQLite" : "PostgreSQL";

    /// <summary>
    /// Schema text as this engine wants it. Migrations say TIMESTAMP; on PostgreSQL that is timestamptz, so an
    /// instant is stored as one (Npgsql writes only UTC DateTimes to it and reads them back as DateTimeKind.Utc).
    /// <see cref="SequenceKey"/> becomes each engine's own auto-numbered key.
    /// </summary>
    public string Schema(string sql) => Engine == DatabaseEngine.Sqlite
        ? sql.Replace(SequenceKey, "INTEGER PRIMARY KEY AUTOINCREMENT", StringComparison.Ordinal)
        : TimestampType().Replace(sql, "TIMESTAMPTZ").Replace(SequenceKey, "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", StringComparison.Ordinal);

    /// <summary>Written in a migration for a primary key the database numbers in insert order (a queue's order).</summary>
    public const string SequenceKey = "SEQUENCE_KEY";

    /// <summary>
    /// The statement that takes a lock on a name until the transaction ends, or null where a transaction already
    /// excludes every other writer. PostgreSQL: a transaction-scoped advisory lock on the name's 64-bit hash (a
    /// collision only serializes two unrelated names). SQLite: BEGIN IMMEDIATE took the database's write lock.
    /// </summary>
    public string? LockStatement => Engine == DatabaseEngine.Sqlite ? null : "SELECT pg_advisory_xact_lock(hashtextextended(@Name, 0))";

    /// <summary>
    /// "column IN list" for a <c>string[]</c> or <c>long[]</c> parameter, which <see cref="ListParameter{T}"/> sends as
    /// one value: a JSON array that SQLite unpacks with json_each, an array PostgreSQL takes as <c>= ANY(@P)</c>.
    /// </summary>
    public string In(string parameter) => Engine == DatabaseEngine.Sqlite ? $"IN (SELECT value FROM json_each({parameter}))" : $"= ANY({parameter})";

    /// <summary>
    /// "the JSON object in a TEXT column holds the string <paramref name="valueParameter"/> at <paramref name="keyParameter"/>":
    /// SQLite walks it with json_each (any key, no JSON path to escape), PostgreSQL reads it as jsonb.
    /// </summary>
    public string JsonHasString(string column, string keyParameter, string valueParameter) => Engine == DatabaseEngine.Sqlite
        ? $"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.key = {keyParameter} AND json_each.value = {valueParameter})"
        : $"(({column})::jsonb ->> {keyParameter}) = {valueParameter}";

    /// <summary>
    /// The integer at the top-level <paramref name="key"/> of the JSON object in a TEXT column, 0 when absent.
    /// <paramref name="key"/> is written into the SQL, so it must be a constant name, never input.
    /// </summary>
    public string JsonInteger(string column, string key) => Engine == DatabaseEngine.Sqlite
        ? $"COALESCE(CAST(json_extract({column}, '$.{key}') AS INTEGER), 0)"
        : $"COALESCE((({column})::jsonb ->> '{key}')::bigint, 0)";

    /// <summary>A UNIQUE or PRIMARY KEY constraint was violated: SQLite says so in its message, PostgreSQL with SQLSTATE 23505.</summary>
    public static bool IsUniqueViolation(DbException ex) =>
        ex.SqlState == "23505" || ex is Microsoft.Data.Sqlite.SqliteException && ex.Message.Contains("UNIQUE", StringComparison.OrdinalIgnoreCase);

    public static bool IsForeignKeyViolation(DbException ex) =>
        ex.SqlState == "23503" || ex is Microsoft.Data.Sqlite.SqliteException && ex.Message.Contains("FOREIGN KEY", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// PostgreSQL refused a text value it cannot store (SQLSTATE 22021: a NUL character, which SQLite keeps): the
    /// request's input, not the server, is at fault.
    /// </summary>
    public static bool IsUnstorableText(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is PostgresException { SqlState: "22021" })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The database cannot be reached or cannot serve right now (server down or restarting, connection cut,
    /// too many connections, SQLite busy past its timeout): a 503 to retry later, not a bug. Looks through
    /// inner exceptions, since a failure can surface wrapped (an aborted request, a broken pooled connection).
    /// </summary>
    public static bool IsUnavailable(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            switch (ex)
            {
                case PostgresException pg:
                    // 08: connection exception; 53: insufficient resources; 57P01-57P03: shutting down, crashed, starting up.
                    if (pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("53", StringComparison.Ordinal)
                        || pg.SqlState is "57P01" or "57P02" or "57P03")
                    {
                        return true;
                    }

                    break;
                case NpgsqlException npgsql when npgsql.IsTransient:
                    return true;
                case Microsoft.Data.Sqlite.SqliteException sqlite when sqlite.SqliteErrorCode is 5 or 6: // SQLITE_BUSY, SQLITE_LOCKED
                    return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"\bTIMESTAMP\b", RegexOptions.CultureInvariant)]
    private static partial Regex TimestampType();
}
