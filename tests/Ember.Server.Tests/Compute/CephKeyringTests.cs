using Ember.Server.Compute;

namespace Ember.Server.Tests.Compute;

public sealed class CephKeyringTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ember-keyring-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_key_of_the_named_client_is_read_from_its_section()
    {
        var path = Write("""
            [client.admin]
            	key = QURNSU4=
            [client.ember]
            	key = RU1CRVI=
            	caps mon = "profile rbd"
            """);
        Assert.Equal("RU1CRVI=", CephKeyring.KeyOf(path, "ember").Base64);
        Assert.Equal("QURNSU4=", CephKeyring.KeyOf(path, "admin").Base64);
    }

    [Fact]
    public void A_missing_file_user_or_bad_key_is_an_error_that_never_shows_the_key()
    {
        Assert.Contains("No Ceph keyring", Assert.Throws<InvalidOperationException>(() => CephKeyring.KeyOf(Path.Combine(_dir, "none"), "ember")).Message);
        var path = Write("[client.other]\n\tkey = T1RIRVI=\n[client.ember]\n\tkey = not base64!\n");
        Assert.Contains("no key for client.nova", Assert.Throws<InvalidOperationException>(() => CephKeyring.KeyOf(path, "nova")).Message);
        var bad = Assert.Throws<InvalidOperationException>(() => CephKeyring.KeyOf(path, "ember"));
        Assert.Contains("not base64", bad.Message);
        Assert.DoesNotContain("not base64!", bad.Message);
    }

    private string Write(string text)
    {
        var path = Path.Combine(_dir, "keyring");
        File.WriteAllText(path, text);
        return path;
    }
}
