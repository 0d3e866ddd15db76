using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Ember.Network;

/// <summary>
/// Every name the data plane gives an interface or namespace, and the way back from a name to the id it was made
/// from (for the clean-up). Interface names stop at 15 bytes (IFNAMSIZ - 1): prefix, one kind letter, and as many hex
/// digits of the id as fit, at most 11 like Neutron's <c>tap</c>/<c>brq</c> names.
/// </summary>
internal sealed partial class DataPlaneNames
{
    public const char BridgeKind = 'b';
    public const char DhcpVethKind = 'd';
    public const char TapKind = 't';
    public const char RouterVethKind = 'r';
    public const char VxlanKind = 'v';

    /// <summary>The namespace end of a DHCP veth; it lives alone in its namespace, so it needs no prefix.</summary>
    private const string DhcpInsidePrefix = "ns-";

    private const int MaxInterfaceName = 15;

    public DataPlaneNames(string interfacePrefix, string namespacePrefix)
    {
        if (!InterfacePrefixPattern().IsMatch(interfacePrefix))
        {
            throw new ArgumentException($"InterfacePrefix '{interfacePrefix}' must be 2-4 lowercase letters or digits, a letter first.", nameof(interfacePrefix));
        }

        if (!NamespacePrefixPattern().IsMatch(namespacePrefix))
        {
            throw new ArgumentException($"NamespacePrefix '{namespacePrefix}' must be 1-32 lowercase letters, digits or dashes, a letter first.", nameof(namespacePrefix));
        }

        InterfacePrefix = interfacePrefix;
        NamespacePrefix = namespacePrefix;
        IdDigits = Math.Min(11, MaxInterfaceName - interfacePrefix.Length - 1);
    }

    public string InterfacePrefix { get; }

    public string NamespacePrefix { get; }

    /// <summary>How many hex digits of an id an interface name carries: 11, or 10 with a 4-character prefix.</summary>
    public int IdDigits { get; }

    public string Bridge(Guid networkId) => Interface(BridgeKind, networkId);

    public string DhcpVeth(Guid networkId) => Interface(DhcpVethKind, networkId);

    public string Tap(Guid portId) => Interface(TapKind, portId);

    /// <summary>The VXLAN device of a network (on its bridge).</summary>
    public string Vxlan(Guid networkId) => Interface(VxlanKind, networkId);

    public static string DhcpInside(Guid networkId) => DhcpInsidePrefix + networkId.ToString("N")[..11];

    /// <summary>The bridge end of a router port's veth (interface or gateway), named after the port.</summary>
    public string RouterVeth(Guid portId) => Interface(RouterVethKind, portId);

    /// <summary>The router namespace's end of an interface's veth (Neutron's <c>qr-</c>) or of the gateway's (<c>qg-</c>).</summary>
    public static string RouterInside(Guid portId, bool gateway) => (gateway ? RouterGatewayPrefix : RouterInterfacePrefix) + portId.ToString("N")[..11];

    public const string RouterInterfacePrefix = "qr-";
    public const string RouterGatewayPrefix = "qg-";

    public string RouterNamespace(Guid routerId) => $"{NamespacePrefix}-qrouter-{routerId:D}";

    /// <summary>Whether <paramref name="name"/> is one of our router namespaces, and if so its router.</summary>
    public bool TryParseRouterNamespace(string name, out Guid routerId)
    {
        routerId = default;
        var prefix = NamespacePrefix + "-qrouter-";
        return name.StartsWith(prefix, StringComparison.Ordinal)
            && Guid.TryParseExact(name[prefix.Length..], "D", out routerId)
            && name == RouterNamespace(routerId);
    }

    public string DhcpNamespace(Guid networkId) => $"{NamespacePrefix}-qdhcp-{networkId:D}";

    /// <summary>The id digits an interface name carries, for matching it against live ids.</summary>
    public string IdDigitsOf(Guid id) => id.ToString("N")[..IdDigits];

    /// <summary>Whether <paramref name="name"/> is exactly one of our interface names, and if so its kind and id digits.</summary>
    public bool TryParseInterface(string name, out char kind, [NotNullWhen(true)] out string? idDigits)
    {
        kind = default;
        idDigits = null;
        if (name.Length != InterfacePrefix.Length + 1 + IdDigits || !name.StartsWith(InterfacePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        kind = name[InterfacePrefix.Length];
        var digits = name[(InterfacePrefix.Length + 1)..];
        if (kind is not (BridgeKind or DhcpVethKind or TapKind or RouterVethKind or VxlanKind) || !digits.All(char.IsAsciiHexDigitLower))
        {
            return false;
        }

        idDigits = digits;
        return true;
    }

    /// <summary>Whether <paramref name="name"/> is one of our DHCP namespaces, and if so its network.</summary>
    public bool TryParseDhcpNamespace(string name, out Guid networkId)
    {
        networkId = default;
        var prefix = NamespacePrefix + "-qdhcp-";
        return name.StartsWith(prefix, StringComparison.Ordinal)
            && Guid.TryParseExact(name[prefix.Length..], "D", out networkId)
            && name == DhcpNamespace(networkId);
    }

    /// <summary>A UUID in any case, with or without dashes: OpenStack ids; anything else is refused before it reaches a name or file.</summary>
    public static Guid ParseId(string id, string what) =>
        id.Length <= 36 && Guid.TryParse(id, CultureInfo.InvariantCulture, out var guid)
            ? guid
            : throw new ArgumentException($"{what} '{Shorten(id)}' is not a UUID.", what);

    /// <summary>A unicast Ethernet address in lowercase colon form.</summary>
    public static string ParseMac(string mac, string what)
    {
        var normalized = mac.ToLowerInvariant();
        if (!MacPattern().IsMatch(normalized) || (Convert.ToByte(normalized[..2], 16) & 1) != 0)
        {
            throw new ArgumentException($"{what} '{Shorten(mac)}' is not a unicast MAC address (xx:xx:xx:xx:xx:xx).", what);
        }

        return normalized;
    }

    public static void ValidateMtu(int mtu)
    {
        // 68 is IPv4's minimum; 9000 is the jumbo frames every NIC here takes.
        if (mtu is < 68 or > 9000)
        {
            throw new ArgumentOutOfRangeException(nameof(mtu), mtu, "The MTU must be between 68 and 9000.");
        }
    }

    private string Interface(char kind, Guid id) => InterfacePrefix + kind + IdDigitsOf(id);

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    [GeneratedRegex("^[a-z][a-z0-9]{1,3}$")]
    private static partial Regex InterfacePrefixPattern();

    [GeneratedRegex("^[a-z][a-z0-9-]{0,31}$")]
    private static partial Regex NamespacePrefixPattern();

    [GeneratedRegex("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")]
    private static partial Regex MacPattern();
}
