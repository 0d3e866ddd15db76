using Ember.Server.Data;

namespace Ember.Server.Tests.Data;

public sealed class PostgresUrlTests
{
    [Fact]
    public void A_socket_directory_url_becomes_an_npgsql_connection_string()
    {
        var b = PostgresUrl.Parse("postgresql://ember@/cloud?host=%2Ftmp%2Fpg%20dir&application_name=x");
        Assert.Equal("ember", b.Username);
        Assert.Equal("cloud", b.Database);
        Assert.Equal("/tmp/pg dir", b.Host);
        Assert.Equal("x", b.ApplicationName);
    }

    [Fact]
    public void Host_port_and_default_application_name()
    {
        var b = PostgresUrl.Parse("postgres://db.example:6543/ember?sslmode=require");
        Assert.Equal("db.example", b.Host);
        Assert.Equal(6543, b.Port);
        Assert.Equal("ember", b.ApplicationName);
        Assert.Equal(Npgsql.SslMode.Require, b.SslMode);
        Assert.Null(b.Password);
    }

    [Theory]
    [InlineData("postgresql://ember:secret@/db?host=/tmp")]
    [InlineData("postgresql://ember@/db?host=/tmp&password=secret")]
    public void A_password_in_the_url_is_refused_without_echoing_it(string url)
    {
        var ex = Assert.Throws<ArgumentException>(() => PostgresUrl.Parse(url));
        Assert.Contains("PGPASSWORD", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mysql://x/y")]
    [InlineData("postgresql://x/y?frobnicate=1")]
    public void Other_urls_and_unknown_parameters_are_refused(string url) =>
        Assert.Throws<ArgumentException>(() => PostgresUrl.Parse(url));
}
