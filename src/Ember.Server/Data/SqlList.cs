using System.Data.Common;
using Dapper;
using Ember.Server.Common;

namespace Ember.Server.Data;

/// <summary>One sort key as a list request names it (Cinder's <c>sort=key:dir</c>), not yet checked.</summary>
public readonly record struct SortKey(string Key, bool Descending);

/// <summary>What a list request asks for besides its filters: sort keys, the marker (last id seen), limit and offset.</summary>
public sealed record PageRequest(IReadOnlyList<SortKey> Sort, string? Marker = null, int? Limit = null, int Offset = 0)
{
    public static PageRequest All { get; } = new([]);
}

/// <summary>
/// The conditions of one list query, each value a parameter of its own: the scope (what the caller may see at all,
/// which a marker must be in) and the request's filters.
/// </summary>
public sealed class SqlWhere
{
    private readonly List<string> _scope = [];
    private readonly List<string> _filters = [];

    public DynamicParameters Args { get; } = new();

    public IReadOnlyCollection<string> ScopeConditions => _scope;

    public IReadOnlyCollection<string> Filters => _filters;

    /// <summary>A new parameter holding <paramref name="value"/>; returns its name for the SQL text.</summary>
    public string Parameter(object value)
    {
        var name = $"@W{Args.ParameterNames.Count()}";
        Args.Add(name, value);
        return name;
    }

    /// <summary>Keeps the list to rows whose <paramref name="column"/> is <paramref name="value"/>; null keeps every row.</summary>
    public SqlWhere Scope(string column, object? value)
    {
        if (value is not null)
        {
            _scope.Add($"{column} = {Parameter(value)}");
        }

        return this;
    }

    /// <summary>A filter <paramref name="column"/> = <paramref name="value"/>; null filters nothing.</summary>
    public SqlWhere Equal(string column, object? value)
    {
        if (value is not null)
        {
            _filters.Add($"{column} = {Parameter(value)}");
        }

        return this;
    }

    /// <summary>A filter written out, with its values from <see cref="Parameter"/>.</summary>
    public SqlWhere Add(string condition)
    {
        _filters.Add(condition);
        return this;
    }
}

/// <summary>One page of rows, whether more rows follow it, and the number of all matching rows when that was asked for.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, bool HasMore, long? Count = null);

/// <summary>
/// A list that filters, sorts and pages in SQL, on both engines. ORDER BY text comes only from the fixed map of
/// sortable columns its store gives (never from a request), and every sort expression is non-null, so one
/// comparison orders it on both engines. A marker pages by keyset: the rows after the marker row's sort values,
/// with id as the last key, so each row has exactly one place however many share the other keys.
/// </summary>
public sealed class SqlList
{
    private readonly string _table;
    private readonly string _columns;
    private readonly IReadOnlyDictionary<string, string> _sortable;
    private readonly IReadOnlyList<SortKey> _defaultSort;

    /// <param name="table">The table, from the store's own text.</param>
    /// <param name="columns">The selected columns.</param>
    /// <param name="sortable">API sort key to its SQL expression over the table's columns (unqualified, non-null).</param>
    /// <param name="defaultSort">The order without sort keys; its keys not requested break ties, and it must end on "id".</param>
    public SqlList(string table, string columns, IReadOnlyDictionary<string, string> sortable, params SortKey[] defaultSort)
    {
        if (defaultSort is not [.., { Key: "id" }] || !sortable.ContainsKey("id"))
        {
            throw new ArgumentException("The default order must end on the unique id.", nameof(defaultSort));
        }

        (_table, _columns, _sortable, _defaultSort) = (table, columns, sortable, defaultSort);
    }

    /// <summary>
    /// The page of rows matching <paramref name="where"/>. Null when the marker is not among the rows its scope lets
    /// the caller see (filters aside, as in Cinder: the marker only fixes a position).
    /// </summary>
    public Task<Page<T>?> QueryAsync<T>(Database db, SqlWhere where, PageRequest page, bool withCount = false) =>
        QueryAsync<T>(db, where, page, read: null, withCount);

    /// <summary>As above, each row read by <paramref name="read"/> (null: Dapper's mapping).</summary>
    public async Task<Page<T>?> QueryAsync<T>(Database db, SqlWhere where, PageRequest page, Func<DbDataReader, T>? read, bool withCount = false)
    {
        var order = OrderOf(page.Sort);
        var args = where.Args;
        var visible = Conjunction(where.ScopeConditions);
        var filter = Conjunction([.. where.ScopeConditions, .. where.Filters]);
        await using var c = await db.OpenAsync();
        var keyset = "";
        if (page.Marker is { } marker)
        {
            args.Add("Marker", marker);
            if (await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {_table} WHERE id = @Marker AND {visible}", args) == 0)
            {
                return null;
            }

            keyset = $"AND ({After(order)})";
        }

        // One row more than the page tells whether another page follows.
        args.Add("Take", page.Limit is { } limit ? limit + 1L : long.MaxValue);
        args.Add("Skip", (long)page.Offset);
        var sql = $"""
            SELECT {_columns} FROM {_table} WHERE {filter} {keyset}
            ORDER BY {string.Join(", ", order.Select(k => k.Sql + (k.Descending ? " DESC" : " ASC")))}
            LIMIT @Take OFFSET @Skip
            """;
        var rows = read is null ? (await c.QueryAsync<T>(sql, args)).ToList() : await c.QueryRowsAsync(sql, args, read);
        var hasMore = page.Limit is { } max && rows.Count > max;
        var count = withCount ? await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {_table} WHERE {filter}", args) : (long?)null;
        return new Page<T>(hasMore ? [.. rows.Take(page.Limit!.Value)] : rows, hasMore, count);
    }

    private static string Conjunction(IReadOnlyCollection<string> conditions) =>
        conditions.Count == 0 ? "1 = 1" : string.Join(" AND ", conditions.Select(c => $"({c})"));

    /// <summary>The requested keys, then the default order's keys not among them; an unknown key is Cinder's 400.</summary>
    private List<(string Sql, bool Descending)> OrderOf(IReadOnlyList<SortKey> requested)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<(string, bool)>();
        foreach (var key in requested.Concat(_defaultSort))
        {
            var sql = _sortable.TryGetValue(key.Key, out var expression)
                ? expression
                : throw ApiException.BadRequest($"Invalid input received: Invalid sort key {key.Key}");
            if (seen.Add(key.Key))
            {
                order.Add((sql, key.Descending));
            }
        }

        return order;
    }

    /// <summary>
    /// Rows after the marker row in <paramref name="order"/>: (k1 past m1) OR (k1 = m1 AND k2 past m2) OR ...
    /// The marker's values are sub-queries on its id, so they keep their column types on both engines.
    /// </summary>
    private string After(List<(string Sql, bool Descending)> order)
    {
        if (order.All(k => k.Descending == order[0].Descending))
        {
            // One direction (the default orders): a row-value comparison, which SQLite and PostgreSQL both turn into
            // an index range, where the OR form below reads every row of the scope.
            var keys = string.Join(", ", order.Select(k => k.Sql));
            return $"({keys}) {(order[0].Descending ? "<" : ">")} (SELECT {keys} FROM {_table} WHERE id = @Marker)";
        }

        string MarkerValue(string sql) => $"(SELECT {sql} FROM {_table} WHERE id = @Marker)";
        var alternatives = new List<string>();
        for (var i = 0; i < order.Count; i++)
        {
            var equal = order.Take(i).Select(k => $"{k.Sql} = {MarkerValue(k.Sql)}");
            var (sql, descending) = order[i];
            var past = $"{sql} {(descending ? "<" : ">")} {MarkerValue(sql)}";
            alternatives.Add("(" + string.Join(" AND ", equal.Append(past)) + ")");
        }

        return string.Join(" OR ", alternatives);
    }
}

/// <summary>Rows read with a typed row reader instead of Dapper's mapping (which boxes every column).</summary>
public static class TypedRows
{
    /// <summary>The rows of <paramref name="sql"/> (its parameters bound by Dapper), each read by <paramref name="read"/>.</summary>
    public static async Task<List<T>> QueryRowsAsync<T>(this DbConnection c, string sql, object? args, Func<DbDataReader, T> read)
    {
        var rows = new List<T>();
        await using var reader = await c.ExecuteReaderAsync(sql, args);
        while (await reader.ReadAsync())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    public static string? NullableString(this DbDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);
}
