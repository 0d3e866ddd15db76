using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Network;

namespace Ember.Server.Compute.Metadata;

/// <summary>An answer of the metadata service: a status, a content type and the body.</summary>
public sealed record MetadataReply(int Status, string ContentType, byte[] Body)
{
    public static MetadataReply NotFound { get; } = Text(404, "404 Not Found\n\nThe resource could not be found.\n");

    public static MetadataReply Text(int status, string text) => new(status, "text/plain; charset=UTF-8", Encoding.UTF8.GetBytes(text));
}

/// <summary>
/// What Nova's metadata API and config drive tell one instance, in their shapes: the OpenStack tree
/// (<c>/openstack/{version}/meta_data.json</c>, <c>user_data</c>, <c>network_data.json</c>, <c>vendor_data.json</c>) and
/// the EC2-style tree cloud-init also reads (<c>/{version}/meta-data/...</c>, <c>/{version}/user-data</c>). Built per
/// request from the server's row and its ports; nothing is cached.
/// </summary>
public sealed class InstanceMetadata
{
    /// <summary>The OpenStack versions Nova lists (Folsom to Rocky; Ember serves them all the same content).</summary>
    public static readonly string[] OpenStackVersions =
        ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"];

    /// <summary>The EC2 versions Nova lists.</summary>
    public static readonly string[] Ec2Versions =
        ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04"];

    // Compact, and "+" in keys left as it is (the default encoder writes \u002B, which the guest's sed would have to undo).
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ServerRow _server;
    private readonly IReadOnlyList<MetadataNic> _nics;
    private readonly byte[]? _userData;

    public InstanceMetadata(ServerRow server, IReadOnlyList<MetadataNic> nics)
    {
        _server = server;
        _nics = nics;
        _userData = server.UserData is { } encoded ? Convert.FromBase64String(encoded) : null;
    }

    /// <summary>The server's hostname: given at create, update or rebuild (2.90), else made from its name.</summary>
    public string Hostname => _server.Hostname ?? DefaultHostname(_server.Name, _server.Id);

    /// <summary>Nova's hostname of a server given none: the display name made a DNS label (lowercase, letters, digits and '-', at most 63).</summary>
    public static string DefaultHostname(string serverName, string serverId)
    {
        var name = new StringBuilder();
        foreach (var c in serverName.ToLowerInvariant())
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-');
        }

        var label = name.ToString().Trim('-');
        label = label.Length > 63 ? label[..63].TrimEnd('-') : label;
        return label.Length == 0 ? "server-" + serverId : label;
    }

    /// <summary>The EC2 id of the instance (Nova's <c>i-%08x</c> of its instance number).</summary>
    public string Ec2InstanceId => string.Create(CultureInfo.InvariantCulture, $"i-{_server.InstanceNumber:x8}");

    /// <summary>The first fixed IPv4 address (EC2's local-ipv4), or "".</summary>
    public string LocalIpv4 => _nics.SelectMany(n => n.Addresses).Select(a => a.IpAddress).FirstOrDefault() ?? "";

    /// <summary>
    /// The reply to GET <paramref name="path"/> (without the query string). Directories list their entries one per line,
    /// sub-directories with a trailing '/', as Nova does.
    /// </summary>
    public MetadataReply Answer(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            return Listing([.. Ec2Versions, "latest"]);
        }

        if (parts[0] == "openstack")
        {
            return AnswerOpenStack(parts[1..]);
        }

        if (parts[0] != "latest" && !Ec2Versions.Contains(parts[0]))
        {
            return MetadataReply.NotFound;
        }

        if (parts.Length == 1)
        {
            return Listing(_userData is null ? ["meta-data/"] : ["meta-data/", "user-data"]);
        }

        return parts[1] switch
        {
            "user-data" when parts.Length == 2 => _userData is null ? MetadataReply.NotFound : Octets(_userData),
            "meta-data" => Walk(Ec2MetaData(), parts[2..]),
            _ => MetadataReply.NotFound,
        };
    }

    private MetadataReply AnswerOpenStack(string[] parts)
    {
        if (parts.Length == 0)
        {
            return Listing([.. OpenStackVersions, "latest"]);
        }

        if (parts[0] != "latest" && !OpenStackVersions.Contains(parts[0]))
        {
            return MetadataReply.NotFound;
        }

        var files = OpenStackFiles(parts[0]);
        if (parts.Length == 1)
        {
            return Listing([.. files.Keys]);
        }

        return parts.Length == 2 && files.TryGetValue(parts[1], out var body)
            ? parts[1].EndsWith(".json", StringComparison.Ordinal) ? new MetadataReply(200, "application/json", body) : Octets(body)
            : MetadataReply.NotFound;
    }

    /// <summary>The files of one OpenStack version directory (network_data.json from 2015-10-15 on, as Nova).</summary>
    public Dictionary<string, byte[]> OpenStackFiles(string version)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["meta_data.json"] = JsonSerializer.SerializeToUtf8Bytes(MetaDataJson(version), s_json),
            ["vendor_data.json"] = "{}"u8.ToArray(),
        };
        if (version == "latest" || string.CompareOrdinal(version, "2015-10-15") >= 0)
        {
            files["network_data.json"] = JsonSerializer.SerializeToUtf8Bytes(NetworkDataJson(), s_json);
        }

        if (_userData is not null)
        {
            files["user_data"] = _userData;
        }

        return files;
    }

    /// <summary>The config drive's tree (Nova's layout): openstack/{version}/..., ec2/latest/meta-data.json and user-data.</summary>
    public Dictionary<string, byte[]> ConfigDriveFiles()
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var version in OpenStackVersions.Append("latest"))
        {
            foreach (var (name, body) in OpenStackFiles(version))
            {
                files[$"openstack/{version}/{name}"] = body;
            }
        }

        files["ec2/latest/meta-data.json"] = JsonSerializer.SerializeToUtf8Bytes(ToJson(Ec2MetaData()), s_json);
        if (_userData is not null)
        {
            files["ec2/latest/user-data"] = _userData;
        }

        return files;
    }

    private JsonObject MetaDataJson(string version)
    {
        var meta = JsonSerializer.Deserialize<Dictionary<string, string>>(_server.Metadata) ?? [];
        var json = new JsonObject
        {
            ["uuid"] = _server.Id,
            ["meta"] = new JsonObject([.. meta.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value))]),
        };
        if (_server.KeyName is { } keyName && _server.KeyData is { } key)
        {
            json["public_keys"] = new JsonObject { [keyName] = key };
            json["keys"] = new JsonArray(new JsonObject { ["name"] = keyName, ["type"] = "ssh", ["data"] = key });
        }

        json["hostname"] = Hostname;
        json["name"] = _server.Name;
        json["launch_index"] = 0;
        json["availability_zone"] = _server.AvailabilityZone ?? "nova";
        json["random_seed"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(512));
        json["project_id"] = _server.ProjectId;
        if (AtLeast(version, "2016-06-30"))
        {
            json["devices"] = Devices(version);
        }

        return json;
    }

    private static bool AtLeast(string version, string since) => version == "latest" || string.CompareOrdinal(version, since) >= 0;

    /// <summary>
    /// Nova's device metadata (2016-06-30 on): one entry per tagged interface, so a guest can tell its NICs apart by the
    /// tag the user gave (os-interface or networks[].tag). Ember does not know the guest's PCI address of a NIC (QEMU
    /// picks the slot), so bus and address are Nova's "none" for an unknown bus; the MAC identifies the NIC.
    /// </summary>
    private JsonArray Devices(string version)
    {
        var devices = new JsonArray();
        foreach (var nic in _nics.Where(n => n.Tag is not null))
        {
            var device = new JsonObject();
            if (AtLeast(version, "2018-08-27"))
            {
                device["vf_trusted"] = false;
            }

            device["type"] = "nic";
            device["mac"] = nic.MacAddress;
            device["bus"] = "none";
            device["address"] = "none";
            device["tags"] = new JsonArray(nic.Tag);
            devices.Add(device);
        }

        return devices;
    }

    /// <summary>
    /// Nova's network_data.json: a link per port (type tap, the port's MAC and MTU), a network per fixed address
    /// (<c>ipv4_dhcp</c> on a DHCP-enabled subnet, else <c>ipv4</c> with address, netmask and routes), the DNS servers.
    /// </summary>
    private JsonObject NetworkDataJson()
    {
        var links = new JsonArray();
        var networks = new JsonArray();
        var dns = new List<string>();
        foreach (var nic in _nics)
        {
            var link = "tap" + nic.PortId.Replace("-", "", StringComparison.Ordinal)[..11];
            links.Add(new JsonObject
            {
                ["id"] = link,
                ["vif_id"] = nic.PortId,
                ["type"] = "tap",
                ["ethernet_mac_address"] = nic.MacAddress,
                ["mtu"] = nic.Mtu,
            });
            foreach (var address in nic.Addresses)
            {
                var network = new JsonObject
                {
                    ["id"] = $"network{networks.Count}",
                    ["type"] = address.EnableDhcp ? "ipv4_dhcp" : "ipv4",
                    ["link"] = link,
                    ["network_id"] = nic.NetworkId,
                };
                if (!address.EnableDhcp)
                {
                    var prefix = int.Parse(address.Cidr[(address.Cidr.IndexOf('/', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture);
                    var routes = new JsonArray();
                    if (address.GatewayIp is { } gateway)
                    {
                        routes.Add(Route("0.0.0.0", 0, gateway));
                    }

                    foreach (var route in address.HostRoutes)
                    {
                        var slash = route.Destination.IndexOf('/', StringComparison.Ordinal);
                        routes.Add(Route(route.Destination[..slash], int.Parse(route.Destination[(slash + 1)..], CultureInfo.InvariantCulture), route.Nexthop));
                    }

                    network["ip_address"] = address.IpAddress;
                    network["netmask"] = Netmask(prefix);
                    network["routes"] = routes;
                    network["services"] = new JsonArray([.. address.DnsNameservers.Select(d => (JsonNode)new JsonObject { ["type"] = "dns", ["address"] = d })]);
                }

                networks.Add(network);
                dns.AddRange(address.DnsNameservers);
            }
        }

        return new JsonObject
        {
            ["links"] = links,
            ["networks"] = networks,
            ["services"] = new JsonArray([.. dns.Distinct().Select(d => (JsonNode)new JsonObject { ["type"] = "dns", ["address"] = d })]),
        };
    }

    private static JsonObject Route(string network, int prefix, string gateway) =>
        new() { ["network"] = network, ["netmask"] = Netmask(prefix), ["gateway"] = gateway };

    private static string Netmask(int prefix) =>
        new IPAddress(BitConverter.GetBytes(IPAddress.HostToNetworkOrder(prefix == 0 ? 0 : -1 << (32 - prefix)))).ToString();

    /// <summary>The EC2 meta-data tree: a string is a leaf, a dictionary a directory.</summary>
    private SortedDictionary<string, object> Ec2MetaData()
    {
        var flavorName = JsonNode.Parse(_server.FlavorJson)?["Name"]?.GetValue<string>() ?? _server.FlavorId;
        var tree = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["ami-launch-index"] = "0",
            ["block-device-mapping"] = new SortedDictionary<string, object>(StringComparer.Ordinal) { ["ami"] = "vda", ["root"] = "/dev/vda" },
            ["hostname"] = Hostname,
            ["instance-action"] = "none",
            ["instance-id"] = Ec2InstanceId,
            ["instance-type"] = flavorName,
            ["local-hostname"] = Hostname,
            ["local-ipv4"] = LocalIpv4,
            ["placement"] = new SortedDictionary<string, object>(StringComparer.Ordinal) { ["availability-zone"] = _server.AvailabilityZone ?? "nova" },
            ["public-hostname"] = Hostname,
            ["public-ipv4"] = "",
            ["reservation-id"] = string.Create(CultureInfo.InvariantCulture, $"r-{_server.InstanceNumber:x8}"),
            ["security-groups"] = "default",
        };
        if (_server.KeyName is { } keyName && _server.KeyData is { } key)
        {
            // EC2 lists keys as "index=name" and each one as a directory holding openssh-key.
            tree["public-keys"] = new SortedDictionary<string, object>(StringComparer.Ordinal)
            {
                ["0=" + keyName] = new SortedDictionary<string, object>(StringComparer.Ordinal) { ["openssh-key"] = key },
            };
        }

        return tree;
    }

    /// <summary>Follows <paramref name="parts"/> down the tree; "public-keys/0" finds the entry listed as "0=name".</summary>
    private static MetadataReply Walk(SortedDictionary<string, object> tree, string[] parts)
    {
        object node = tree;
        foreach (var part in parts)
        {
            if (node is not SortedDictionary<string, object> directory)
            {
                return MetadataReply.NotFound;
            }

            var key = directory.Keys.FirstOrDefault(k => k == part || k.StartsWith(part + "=", StringComparison.Ordinal));
            if (key is null)
            {
                return MetadataReply.NotFound;
            }

            node = directory[key];
        }

        return node switch
        {
            string leaf => MetadataReply.Text(200, leaf),
            SortedDictionary<string, object> directory => Listing([.. directory.Select(e => e.Value is string || e.Key.Contains('=', StringComparison.Ordinal) ? e.Key : e.Key + "/")]),
            _ => MetadataReply.NotFound,
        };
    }

    private static JsonNode ToJson(object node) => node switch
    {
        string leaf => JsonValue.Create(leaf),
        SortedDictionary<string, object> directory => new JsonObject([.. directory.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)ToJson(e.Value)))]),
        _ => throw new ArgumentOutOfRangeException(nameof(node)),
    };

    private static MetadataReply Listing(IEnumerable<string> entries) => MetadataReply.Text(200, string.Join('\n', entries));

    private static MetadataReply Octets(byte[] body) => new(200, "application/octet-stream", body);
}
