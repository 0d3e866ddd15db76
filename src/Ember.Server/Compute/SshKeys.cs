using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>
/// OpenSSH public keys as Nova reads them: "type base64 [comment]" of ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp256/384/521,
/// checked down to the key itself (an RSA modulus, a curve point on its curve); Nova's MD5 fingerprint; and the RSA
/// 2048 key pair Nova generates when no public key is given.
/// </summary>
public static class SshKeys
{
    /// <summary>Nova's InvalidKeypair for a key it cannot read.</summary>
    private static ApiException Invalid() => ApiException.BadRequest("Keypair data is invalid: failed to generate fingerprint");

    /// <summary>The key's blob (the decoded base64) after checking that it is a well-formed key of a type Nova accepts.</summary>
    public static byte[] Validate(string publicKey)
    {
        var parts = publicKey.Trim().Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2 || parts[1].Length > 16 * 1024)
        {
            throw Invalid();
        }

        var blob = new byte[parts[1].Length];
        if (!Convert.TryFromBase64String(parts[1], blob, out var length))
        {
            throw Invalid();
        }

        blob = blob[..length];
        try
        {
            var reader = new BlobReader(blob);
            var type = Encoding.ASCII.GetString(reader.ReadString());
            return type == parts[0] && IsValidKey(type, ref reader) && reader.AtEnd ? blob : throw Invalid();
        }
        catch (FormatException)
        {
            throw Invalid();
        }
    }

    private static bool IsValidKey(string type, ref BlobReader reader)
    {
        try
        {
            switch (type)
            {
                case "ssh-rsa":
                    {
                        var exponent = Unsigned(reader.ReadString());
                        var modulus = Unsigned(reader.ReadString());
                        using var rsa = RSA.Create();
                        rsa.ImportParameters(new RSAParameters { Exponent = exponent, Modulus = modulus });
                        return rsa.KeySize >= 1024;
                    }

                case "ssh-ed25519":
                    return reader.ReadString().Length == 32;

                case "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384" or "ecdsa-sha2-nistp521":
                    {
                        var curveName = type["ecdsa-sha2-".Length..];
                        if (Encoding.ASCII.GetString(reader.ReadString()) != curveName)
                        {
                            return false;
                        }

                        var (curve, size) = curveName switch
                        {
                            "nistp256" => (ECCurve.NamedCurves.nistP256, 32),
                            "nistp384" => (ECCurve.NamedCurves.nistP384, 48),
                            _ => (ECCurve.NamedCurves.nistP521, 66),
                        };
                        var point = reader.ReadString();
                        if (point.Length != 1 + 2 * size || point[0] != 4)
                        {
                            return false;
                        }

                        // Importing checks that the point lies on the curve.
                        using var ecdsa = ECDsa.Create();
                        ecdsa.ImportParameters(new ECParameters { Curve = curve, Q = new ECPoint { X = point[1..(1 + size)].ToArray(), Y = point[(1 + size)..].ToArray() } });
                        return true;
                    }

                default:
                    return false;
            }
        }
        catch (CryptographicException)
        {
            return false;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Nova's fingerprint of an SSH key: the MD5 of its blob as colon-separated hex pairs.</summary>
    public static string Fingerprint(byte[] blob)
    {
#pragma warning disable CA5351 // MD5 is the fingerprint format Nova shows and clients compare, not a security check.
        var hash = MD5.HashData(blob);
#pragma warning restore CA5351
        return string.Join(':', hash.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>A new RSA 2048 key pair as Nova generates it: the OpenSSH public key and the PKCS#1 PEM private key.</summary>
    public static (string PublicKey, string PrivateKey) Generate()
    {
        using var rsa = RSA.Create(2048);
        var parameters = rsa.ExportParameters(includePrivateParameters: false);
        using var blob = new MemoryStream();
        WriteString(blob, "ssh-rsa"u8);
        WriteString(blob, Mpint(parameters.Exponent!));
        WriteString(blob, Mpint(parameters.Modulus!));
        return ($"ssh-rsa {Convert.ToBase64String(blob.ToArray())} Generated-by-Nova", rsa.ExportRSAPrivateKeyPem() + "\n");
    }

    private static byte[] Unsigned(ReadOnlySpan<byte> mpint)
    {
        if (mpint.Length == 0 || (mpint[0] & 0x80) != 0)
        {
            throw new FormatException("not a positive mpint");
        }

        return mpint.TrimStart((byte)0).ToArray();
    }

    /// <summary>An SSH mpint of a positive big-endian number: no leading zeros, one zero byte when the top bit is set.</summary>
    private static byte[] Mpint(byte[] value)
    {
        var trimmed = value.AsSpan().TrimStart((byte)0);
        return trimmed.Length > 0 && (trimmed[0] & 0x80) != 0 ? [0, .. trimmed] : trimmed.ToArray();
    }

    private static void WriteString(Stream stream, ReadOnlySpan<byte> value)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)value.Length);
        stream.Write(length);
        stream.Write(value);
    }

    /// <summary>Reads the length-prefixed strings of an SSH key blob; a length past the end is a FormatException.</summary>
    private ref struct BlobReader(ReadOnlySpan<byte> blob)
    {
        private ReadOnlySpan<byte> _rest = blob;

        public readonly bool AtEnd => _rest.IsEmpty;

        public ReadOnlySpan<byte> ReadString()
        {
            if (_rest.Length < 4)
            {
                throw new FormatException("truncated key");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(_rest);
            if (length > (uint)(_rest.Length - 4))
            {
                throw new FormatException("truncated key");
            }

            var value = _rest.Slice(4, (int)length);
            _rest = _rest[(4 + (int)length)..];
            return value;
        }
    }
}
