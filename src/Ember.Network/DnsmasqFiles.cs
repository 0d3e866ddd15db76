using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Ember.Network;

/// <summary>
/// The three files one network's dnsmasq reads, rendered from a <see cref="DhcpConfig"/> after checking every field
/// (nothing unchecked reaches a file dnsmasq parses). The config file holds what needs a restart to change (ranges,
/// interface); the hosts and options files are what dnsmasq rereads on SIGHUP.
/// </summary>
internal sealed partial record DnsmasqFiles(string Config, string Hosts, string Options, IReadOnlyList<string> PortAddresses)
{
    public const string ConfigName = "dnsmasq.conf";
    public const string HostsName = "hosts";
    public const string OptionsName = "opts";
    public const string LeasesName = "leases";
    public const string PidName = "dnsmasq.pid";
    public const string LogName = "dnsmasq.log";

    public const int MaxSubnets = 32;
    public const int MaxHosts = 16384;
    public const int MaxDnsServers = 8;

    /// <summary>Option 121 carries at most 255 bytes, 9 per route at worst, one of them the default route.</summary>
    public const int MaxHostRoutes = 24;

    private static readonly TimeSpan s_minLease = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan s_maxLease = TimeSpan.FromDays(365);

    /// <summary>Whether there is anything to serve: false when the network has no IPv4 subnet.</summary>
    public bool Serves => PortAddresses.Count > 0;

    /// <summary>Renders the files for the DHCP interface <paramref name="inside"/>, naming files in <paramref name="directory"/>.</summary>
    /// <exception cref="ArgumentException">A field is missing, malformed, out of bounds or inconsistent.</exception>
    public static DnsmasqFiles Render(DhcpConfig config, string inside, string directory)
    {
        ArgumentNullException.ThrowIfNull(config);
        DataPlaneNames.ParseMac(config.PortMac, "DHCP port MAC");
        DataPlaneNames.ValidateMtu(config.Mtu);
        var subnets = config.Subnets ?? throw new ArgumentException("Subnets are required.", nameof(config));
        var hosts = config.Hosts ?? throw new ArgumentException("Hosts are required.", nameof(config));
        Check(subnets.Count <= MaxSubnets, $"At most {MaxSubnets} subnets per network.");
        Check(hosts.Count <= MaxHosts, $"At most {MaxHosts} DHCP hosts per network.");

        var conf = new StringBuilder()
            .Append("# Written by Ember. dnsmasq is restarted when this file changes, sent SIGHUP when the hosts or options file does.\n")
            // No user or group to switch to: dnsmasq stays root (it reads the 0600 files on SIGHUP) and looks up nothing in /etc.
            .Append("user=\ngroup=\n")
            // DHCP only: no DNS server, no /etc/hosts, no /etc/resolv.conf.
            .Append("port=0\nno-hosts\nno-resolv\n")
            .Append(CultureInfo.InvariantCulture, $"bind-interfaces\ninterface={inside}\n")
            // Answer clients whose lease we forgot (a new lease file after a restart) at once instead of ignoring them.
            .Append("dhcp-authoritative\n");
        var options = new StringBuilder();
        var portAddresses = new List<string>();
        var networks = new List<IPNetwork>();
        long leaseMax = 0;
        foreach (var subnet in subnets)
        {
            ArgumentNullException.ThrowIfNull(subnet);
            var id = DataPlaneNames.ParseId(subnet.Id, "subnet id");
            var cidr = Addresses.ParseNetwork(subnet.Cidr, "subnet cidr");
            Check(!networks.Contains(cidr), $"Subnet {cidr} is listed twice.");
            networks.Add(cidr);
            var portIp = Addresses.ParseAddress(subnet.PortIp, cidr.BaseAddress.AddressFamily, "DHCP port address");
            Check(cidr.Contains(portIp), $"DHCP port address {portIp} is outside subnet {cidr}.");
            if (cidr.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
            {
                continue;
            }

            var gateway = subnet.Gateway is null ? null : Addresses.ParseAddress(subnet.Gateway, AddressFamily.InterNetwork, "gateway");
            Check(subnet.LeaseTime >= s_minLease && subnet.LeaseTime <= s_maxLease, "The lease time must be between 2 minutes and a year.");
            var dnsServers = subnet.DnsServers ?? [];
            Check(dnsServers.Count <= MaxDnsServers, $"At most {MaxDnsServers} DNS servers per subnet.");
            var routes = subnet.HostRoutes ?? [];
            Check(routes.Count <= MaxHostRoutes, $"At most {MaxHostRoutes} host routes per subnet.");

            portAddresses.Add($"{portIp}/{cidr.PrefixLength}");
            leaseMax += 1L << (32 - cidr.PrefixLength);
            var tag = $"subnet-{id:D}";
            conf.Append(CultureInfo.InvariantCulture,
                $"dhcp-range=set:{tag},{cidr.BaseAddress},static,{Mask(cidr.PrefixLength)},{(long)subnet.LeaseTime.TotalSeconds}s\n");

            // With no router option dnsmasq would offer its own address as the router: an empty option sends none.
            options.Append(CultureInfo.InvariantCulture, $"tag:{tag},option:router{(gateway is null ? "" : "," + gateway)}\n");
            if (dnsServers.Count > 0)
            {
                var servers = dnsServers.Select(s => Addresses.ParseAddress(s, AddressFamily.InterNetwork, "DNS server"));
                options.Append(CultureInfo.InvariantCulture, $"tag:{tag},option:dns-server,{string.Join(',', servers)}\n");
            }

            var staticRoutes = routes.Select(r =>
            {
                ArgumentNullException.ThrowIfNull(r);
                return $"{Addresses.ParseNetwork(r.Destination, "host route destination")},{Addresses.ParseAddress(r.NextHop, AddressFamily.InterNetwork, "host route nexthop")}";
            }).ToList();
            if (staticRoutes.Count > 0)
            {
                // A client that takes option 121 ignores the router option (RFC 3442), so the default route goes in too.
                if (gateway is not null && !routes.Any(r => Addresses.ParseNetwork(r.Destination, "").PrefixLength == 0))
                {
                    staticRoutes.Add($"0.0.0.0/0,{gateway}");
                }

                var list = string.Join(',', staticRoutes);
                options.Append(CultureInfo.InvariantCulture, $"tag:{tag},option:classless-static-route,{list}\n");
                // 249: the same routes for Windows clients, which ask for Microsoft's private option.
                options.Append(CultureInfo.InvariantCulture, $"tag:{tag},249,{list}\n");
            }

            options.Append(CultureInfo.InvariantCulture, $"tag:{tag},option:mtu,{config.Mtu}\n");
        }

        var hostLines = new StringBuilder();
        var taken = new HashSet<IPAddress>();
        foreach (var host in hosts)
        {
            ArgumentNullException.ThrowIfNull(host);
            var mac = DataPlaneNames.ParseMac(host.Mac, "host MAC");
            var ip = Addresses.ParseAddress(host.Ip, null, "host address");
            Check(networks.Any(n => n.Contains(ip)), $"Host address {ip} is in none of the network's subnets.");
            Check(taken.Add(ip), $"Host address {ip} is listed twice.");
            Check(host.Hostname is null || HostnamePattern().IsMatch(host.Hostname), $"Host name of {ip} must be one DNS label (letters, digits, dashes).");
            if (ip.AddressFamily == AddressFamily.InterNetwork)
            {
                hostLines.Append(CultureInfo.InvariantCulture, $"{mac},{ip}{(host.Hostname is null ? "" : "," + host.Hostname)}\n");
            }
        }

        conf.Append(CultureInfo.InvariantCulture, $"dhcp-lease-max={Math.Clamp(leaseMax, 1, 65536)}\n")
            .Append(CultureInfo.InvariantCulture, $"dhcp-hostsfile={Path.Combine(directory, HostsName)}\n")
            .Append(CultureInfo.InvariantCulture, $"dhcp-optsfile={Path.Combine(directory, OptionsName)}\n")
            .Append(CultureInfo.InvariantCulture, $"dhcp-leasefile={Path.Combine(directory, LeasesName)}\n")
            .Append(CultureInfo.InvariantCulture, $"pid-file={Path.Combine(directory, PidName)}\n")
            .Append(CultureInfo.InvariantCulture, $"log-facility={Path.Combine(directory, LogName)}\n");
        return new DnsmasqFiles(conf.ToString(), hostLines.ToString(), options.ToString(), portAddresses);
    }

    private static string Mask(int prefixLength) =>
        new IPAddress(BitConverter.GetBytes(IPAddress.HostToNetworkOrder(prefixLength == 0 ? 0 : -1 << (32 - prefixLength)))).ToString();

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex HostnamePattern();
}
