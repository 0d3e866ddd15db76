using System.Net;
using System.Net.Sockets;

namespace Ember.Network;

/// <summary>Parsing of addresses and CIDRs from callers: bounded, no scopes, and an <see cref="ArgumentException"/> naming the field.</summary>
internal static class Addresses
{
    private const int MaxLength = 64;

    public static IPAddress ParseAddress(string text, AddressFamily? family, string what)
    {
        Check(text is { Length: <= MaxLength } && !text.Contains('%', StringComparison.Ordinal) && IPAddress.TryParse(text, out var parsed)
            && (family is null || parsed.AddressFamily == family),
            $"{what} '{text}' is not an {(family == AddressFamily.InterNetworkV6 ? "IPv6" : family is null ? "IP" : "IPv4")} address.");
        return IPAddress.Parse(text);
    }

    /// <summary>A CIDR with no host bits set: <see cref="IPNetwork.Parse(string)"/> would mask them away silently.</summary>
    public static IPNetwork ParseNetwork(string text, string what)
    {
        Check(text is { Length: <= MaxLength } && IPNetwork.TryParse(text, out var network)
            && IPAddress.TryParse(text.Split('/')[0], out var address) && address.Equals(network.BaseAddress),
            $"{what} '{text}' is not a CIDR with no host bits set.");
        return IPNetwork.Parse(text);
    }

    /// <summary>A CIDR, host bits masked (as Neutron normalizes remote prefixes), or one address as a /32 or /128.</summary>
    public static IPNetwork ParseNetworkLoose(string text, string what)
    {
        if (text is { Length: <= MaxLength } && !text.Contains('/', StringComparison.Ordinal))
        {
            var address = ParseAddress(text, null, what);
            return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        }

        Check(text is { Length: <= MaxLength } && !text.Contains('%', StringComparison.Ordinal) && IPNetwork.TryParse(text, out _), $"{what} '{text}' is not a CIDR.");
        return IPNetwork.Parse(text);
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }
}
