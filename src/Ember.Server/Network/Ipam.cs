using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ember.Server.Network;

/// <summary>IPv4 addresses as 32-bit numbers: parsing (dotted quads only) and formatting.</summary>
public static class Ipv4
{
    /// <summary>The address of a strict dotted quad ("10.0.0.1"); null for anything else, IPv6 included.</summary>
    public static uint? Parse(string? text)
    {
        if (text is null || text.Count(c => c == '.') != 3 || !IPAddress.TryParse(text, out var address) || address.AddressFamily != AddressFamily.InterNetwork)
        {
            return null;
        }

        var bytes = address.GetAddressBytes();
        return (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
    }

    public static string Format(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}");

    /// <summary>Whether the text is an IPv6 address or network (for the "IPv4 only" message).</summary>
    public static bool LooksLikeIpv6(string? text) => text is not null && text.Contains(':', StringComparison.Ordinal);
}

/// <summary>An IPv4 network: its first address and prefix length.</summary>
public readonly record struct Ipv4Cidr(uint Network, int Prefix)
{
    public ulong Size => 1UL << (32 - Prefix);

    public uint Last => (uint)(Network + Size - 1);

    /// <summary>The first address a host may have (not the network address; a /31 or /32 is never a subnet here).</summary>
    public uint FirstHost => Network + 1;

    /// <summary>The last address a host may have (not the broadcast address).</summary>
    public uint LastHost => Last - 1;

    public bool Contains(uint address) => address >= Network && address <= Last;

    public bool IsHost(uint address) => address >= FirstHost && address <= LastHost;

    public bool Overlaps(Ipv4Cidr other) => Network <= other.Last && other.Network <= Last;

    public override string ToString() => $"{Ipv4.Format(Network)}/{Prefix.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// "a.b.c.d/n": false when it is not one. <paramref name="exact"/> tells whether the address is the network's
    /// own (no host bits set); the returned network has them cleared.
    /// </summary>
    public static bool TryParse(string? text, out Ipv4Cidr cidr, out bool exact)
    {
        cidr = default;
        exact = false;
        var slash = text?.IndexOf('/') ?? -1;
        if (slash < 0 || Ipv4.Parse(text![..slash]) is not { } address
            || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > 32)
        {
            return false;
        }

        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        cidr = new Ipv4Cidr(address & mask, prefix);
        exact = (address & mask) == address;
        return true;
    }
}

/// <summary>An inclusive range of IPv4 addresses: an allocation pool.</summary>
public readonly record struct IpRange(uint Start, uint End)
{
    public bool Contains(uint address) => address >= Start && address <= End;

    public bool Overlaps(IpRange other) => Start <= other.End && other.Start <= End;
}

/// <summary>The address rules of a subnet: default pools around the gateway, and first-free allocation.</summary>
public static class Ipam
{
    /// <summary>Every host address of the network except the gateway, as one or two ranges (Neutron's default pools).</summary>
    public static List<IpRange> DefaultPools(Ipv4Cidr cidr, uint? gateway)
    {
        var pools = new List<IpRange>();
        if (gateway is { } g && cidr.IsHost(g))
        {
            if (g > cidr.FirstHost)
            {
                pools.Add(new IpRange(cidr.FirstHost, g - 1));
            }

            if (g < cidr.LastHost)
            {
                pools.Add(new IpRange(g + 1, cidr.LastHost));
            }
        }
        else
        {
            pools.Add(new IpRange(cidr.FirstHost, cidr.LastHost));
        }

        return pools;
    }

    /// <summary>The lowest address of the pools (in their order) that is not in use, or null when all are.</summary>
    public static uint? FirstFree(IEnumerable<IpRange> pools, IReadOnlySet<uint> used)
    {
        foreach (var pool in pools)
        {
            // At most used.Count + 1 steps per pool: every step past the first skips an address in use.
            for (ulong candidate = pool.Start; candidate <= pool.End; candidate++)
            {
                if (!used.Contains((uint)candidate))
                {
                    return (uint)candidate;
                }
            }
        }

        return null;
    }
}
