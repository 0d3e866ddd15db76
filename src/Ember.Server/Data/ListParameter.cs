using System.Data;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ember.Server.Data;

/// <summary>
/// Sends a <c>string[]</c> or <c>long[]</c> parameter as one value instead of Dapper's one parameter per item:
/// a JSON array text on SQLite, which <see cref="SqlDialect.In"/> reads with json_each, and the array itself on
/// PostgreSQL. One statement text for any list length, and a 100-id list binds one parameter, not 100 (binding them
/// was a tenth of a 100-server list's time).
/// </summary>
internal sealed class ListParameter<T> : SqlMapper.TypeHandler<T[]>
{
    public static void Register() => SqlMapper.AddTypeHandler(new ListParameter<T>());

    public override void SetValue(IDbDataParameter parameter, T[]? value) =>
        parameter.Value = value is null ? DBNull.Value : parameter is SqliteParameter ? JsonSerializer.Serialize(value) : value;

    // Only PostgreSQL returns arrays (array columns or array_agg); SQLite would hand back the JSON text.
    public override T[]? Parse(object value) => value as T[] ?? JsonSerializer.Deserialize<T[]>((string)value);
}
