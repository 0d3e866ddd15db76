using Ember.Processes;

namespace Ember.Network;

/// <summary>Port security: anti-spoofing and stateful security groups in nftables (see <see cref="NftRuleset"/>).</summary>
public sealed partial class NetworkDataPlane
{
    private static readonly string[] s_bridgeNetfilter = ["net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1"];

    /// <summary>
    /// Replaces the whole port security ruleset of this host with one for <paramref name="ports"/>, atomically
    /// (<c>nft -f</c>, one transaction): a port's tap only passes frames from its MAC and addresses, and traffic to and
    /// from it only as its rules allow, replies to allowed traffic included. Taps not listed, and ports with
    /// <see cref="PortSecurity.Enabled"/> false, are not filtered. Turns on <c>bridge-nf-call-iptables</c> and
    /// <c>-ip6tables</c> in the host namespace: the stateful part needs bridged packets to reach conntrack.
    /// </summary>
    /// <exception cref="ArgumentException">A port or rule is malformed or out of bounds; the ruleset was not changed.</exception>
    public async Task ApplyPortSecurityAsync(IReadOnlyList<PortSecurity> ports, CancellationToken cancellationToken = default)
    {
        var ruleset = NftRuleset.Render(_names.InterfacePrefix, _names, ports);
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (ports.Any(p => p.Enabled))
            {
                var sysctl = await RunInHostNamespaceAsync("sysctl", ["-q", "-w", .. s_bridgeNetfilter], null, cancellationToken);
                if (sysctl.ExitCode != 0)
                {
                    throw new ProcessFailedException("sysctl", sysctl.ExitCode, $"{sysctl.StdErr} (is br_netfilter loaded? modprobe br_netfilter)");
                }
            }

            (await RunInHostNamespaceAsync(_options.NftBinary, ["-f", "/dev/stdin"], ruleset, cancellationToken)).EnsureSuccess();
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Runs a program in the host namespace: directly, or through <c>ip netns exec</c> when one is configured.</summary>
    private Task<ProcessResult> RunInHostNamespaceAsync(string program, IEnumerable<string> args, string? stdin, CancellationToken cancellationToken) =>
        _options.HostNamespace is { } ns
            ? ProcessRunner.RunAsync(_options.IpBinary, ["netns", "exec", ns, program, .. args], s_commandTimeout, stdin: stdin, cancellationToken: cancellationToken)
            : ProcessRunner.RunAsync(program, args, s_commandTimeout, stdin: stdin, cancellationToken: cancellationToken);
}
