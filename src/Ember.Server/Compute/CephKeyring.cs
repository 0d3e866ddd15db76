using Ember.Compute.Qemu;

namespace Ember.Server.Compute;

/// <summary>
/// The cephx key of a user, read from a Ceph keyring file (<c>[client.NAME]</c> sections with a <c>key = BASE64</c>
/// line, as <c>ceph auth get</c> and <c>ceph-authtool</c> write them). A compute host holds the key of the user its
/// RBD volumes name, as Nova's hosts hold it in a libvirt secret; the volume service never sends it.
/// </summary>
public static class CephKeyring
{
    /// <summary>A keyring is a few lines per user; anything bigger is not one.</summary>
    private const long MaxBytes = 64 << 10;

    /// <summary>The key of <c>client.<paramref name="user"/></c> in <paramref name="path"/>.</summary>
    /// <exception cref="InvalidOperationException">No readable keyring there, or no key for that user in it.</exception>
    public static CephKey KeyOf(string path, string user)
    {
        var file = new FileInfo(path);
        if (!file.Exists || file.Length > MaxBytes)
        {
            throw new InvalidOperationException($"No Ceph keyring at {path} (set Compute:RbdKeyringPath to the keyring of client.{user}).");
        }

        var section = "[client." + user + "]";
        var inSection = false;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
            {
                inSection = line == section;
            }
            else if (inSection && line.Split('=', 2) is [var name, var value] && name.Trim() == "key")
            {
                var key = value.Trim();
                return IsBase64(key) ? new CephKey(key) : throw new InvalidOperationException($"The key of client.{user} in {path} is not base64.");
            }
        }

        throw new InvalidOperationException($"The Ceph keyring {path} has no key for client.{user}.");
    }

    private static bool IsBase64(string text) => text.Length > 0 && Convert.TryFromBase64String(text, new byte[text.Length], out _);
}
