using Npgsql;

namespace Ember.Server.Data;

/// <summary>
/// libpq's connection URI (<c>postgresql://[user@][host][:port][/dbname][?param=value&amp;...]</c>) as an Npgsql
/// connection string. A password is refused: a URL ends up on command lines, in process lists and in logs, so
/// the password comes from PGPASSWORD or a passfile (~/.pgpass, or ?passfile=), which Npgsql reads itself.
/// </summary>
public static class PostgresUrl
{
    private static readonly Dictionary<string, string> s_parameters = new(StringComparer.Ordinal)
    {
        ["host"] = "Host",
        ["hostaddr"] = "Host",
        ["port"] = "Port",
        ["user"] = "Username",
        ["dbname"] = "Database",
        ["passfile"] = "Passfile",
        ["sslmode"] = "SSL Mode",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["options"] = "Options",
        ["target_session_attrs"] = "Target Session Attributes",
    };

    public static bool IsPostgresUrl(string text) =>
        text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);

    /// <exception cref="ArgumentException">Not a postgresql:// URL, a password in it, or a parameter Npgsql does not know.</exception>
    public static NpgsqlConnectionStringBuilder Parse(string url)
    {
        if (!IsPostgresUrl(url))
        {
            throw new ArgumentException("Expected a PostgreSQL URL: postgresql://USER@HOST:PORT/DBNAME or postgresql://USER@/DBNAME?host=/socket/dir.");
        }

        var rest = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var builder = new NpgsqlConnectionStringBuilder { ApplicationName = "ember" };
        var query = "";
        var q = rest.IndexOf('?');
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }

        var slash = rest.IndexOf('/');
        var authority = slash >= 0 ? rest[..slash] : rest;
        if (slash >= 0 && rest.Length > slash + 1)
        {
            builder.Database = Uri.UnescapeDataString(rest[(slash + 1)..]);
        }

        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var user = authority[..at];
            if (user.Contains(':'))
            {
                throw PasswordRefused();
            }

            builder.Username = Uri.UnescapeDataString(user);
            authority = authority[(at + 1)..];
        }

        if (authority.Length > 0)
        {
            // host, host:port, [v6]:port, or several hosts separated by commas, which Npgsql's Host takes as they are.
            var colon = authority.LastIndexOf(':');
            if (!authority.Contains(',') && colon > authority.LastIndexOf(']') && int.TryParse(authority[(colon + 1)..], out var port))
            {
                builder.Port = port;
                authority = authority[..colon];
            }

            builder.Host = Uri.UnescapeDataString(authority.Trim('[', ']'));
        }

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
            var value = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' ')) : "";
            if (key == "password")
            {
                throw PasswordRefused();
            }

            if (!s_parameters.TryGetValue(key, out var keyword))
            {
                throw new ArgumentException($"Unknown parameter '{key}' in the PostgreSQL URL; known: {string.Join(", ", s_parameters.Keys)}.");
            }

            try
            {
                builder[keyword] = value;
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                throw new ArgumentException($"Bad value for '{key}' in the PostgreSQL URL: {ex.Message}", ex);
            }
        }

        return builder;
    }

    /// <summary>Where the URL points, for a start-up line: never a password (there is none in it anyway).</summary>
    public static string Describe(NpgsqlConnectionStringBuilder builder) =>
        $"PostgreSQL database {builder.Database ?? builder.Username ?? "(default)"} on {builder.Host ?? "(default host)"}" + (builder.Port != NpgsqlConnection.DefaultPort ? $":{builder.Port}" : "");

    private static ArgumentException PasswordRefused() => new(
        "A password in the PostgreSQL URL is refused (it would show in process lists and logs): set PGPASSWORD or use a passfile (~/.pgpass or ?passfile=PATH).");
}
