using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.OpenStack;

namespace Ember.Client;

/// <summary>The CLI's token between runs: one file per cloud and user, readable by its owner only, replaced atomically.</summary>
internal sealed class TokenCache(string path, TextWriter? debug) : ITokenStore
{
    public KeystoneToken? Load(DateTimeOffset validUntil)
    {
        try
        {
            if (!File.Exists(path) || JsonNode.Parse(File.ReadAllText(path)) is not JsonObject { } node
                || node["body"] is not JsonObject body || (string?)node["id"] is not { } id)
            {
                return null;
            }

            var token = KeystoneToken.FromBody(id, (JsonObject)body.DeepClone(), DateTimeOffset.UtcNow);
            if (token.ExpiresAt <= validUntil)
            {
                return null;
            }

            debug?.WriteLine($"using cached token from {path}");
            return token;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException)
        {
            return null; // a damaged cache only costs one authentication
        }
    }

    public void Save(KeystoneToken token)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var temp = path + "." + Environment.ProcessId + ".tmp";
            using (var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                using var writer = new StreamWriter(stream);
                writer.Write(new JsonObject { ["id"] = token.Id, ["body"] = token.Body.DeepClone() }.ToJsonString());
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Caching is an optimisation: a read-only home still works, just slower.
        }
    }
}
