using System.Globalization;
using System.Security.Cryptography;

namespace Ember.Server.Identity;

/// <summary>
/// PBKDF2-HMAC-SHA256 with a per-password salt. Stored as "pbkdf2-sha256$iterations$salt$hash"
/// so the iteration count can be raised later without breaking stored hashes.
/// </summary>
public static class PasswordHasher
{
    /// <summary>OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.</summary>
    public const int DefaultIterations = 600_000;

    private const string Scheme = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    public static string Hash(string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Join('$', Scheme, iterations.ToString(CultureInfo.InvariantCulture),
            Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    /// <summary>Whether <paramref name="stored"/> is a hash this class can check (a user without a password has none).</summary>
    public static bool IsWellFormed(string? stored) =>
        stored?.Split('$') is [Scheme, var iterationText, var saltText, var hashText]
        && int.TryParse(iterationText, CultureInfo.InvariantCulture, out var iterations) && iterations > 0
        && IsBase64(saltText) && IsBase64(hashText);

    public static bool Verify(string password, string? stored)
    {
        var parts = stored?.Split('$');
        if (parts is not [Scheme, var iterationText, var saltText, var hashText]
            || !int.TryParse(iterationText, CultureInfo.InvariantCulture, out var iterations))
        {
            return false;
        }

        var expected = Convert.FromBase64String(hashText);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, Convert.FromBase64String(saltText), iterations,
            HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    private static bool IsBase64(string text) => Convert.TryFromBase64String(text, new byte[text.Length], out var written) && written > 0;
}
