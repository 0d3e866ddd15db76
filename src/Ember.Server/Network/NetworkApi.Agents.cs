using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Compute;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ember.Server.Network;

// Agents (neutron/api/v2 agents, read only): what each compute host runs of Neutron's agents, alive by its heartbeat.
public static partial class NetworkApi
{
    /// <summary>The agents a compute host plays, as ML2/Linux bridge deployments list them: (type, binary, topic, availability zone).</summary>
    private static readonly (string Type, string Binary, string Topic, string? Zone)[] s_agentKinds =
    [
        ("Linux bridge agent", "neutron-linuxbridge-agent", "N/A", null),
        ("DHCP agent", "neutron-dhcp-agent", "dhcp_agent", "nova"),
        ("L3 agent", "neutron-l3-agent", "l3_agent", "nova"),
        ("Metadata agent", "neutron-metadata-agent", "N/A", null),
    ];

    private static void MapAgents(RouteGroupBuilder v2)
    {
        // Neutron filters what the policy hides: a caller without get_agent lists none and finds none (not a 403).
        // (Block bodies: an expression-bodied async lambda of HttpContext alone would bind as a RequestDelegate and drop the result.)
        v2.MapGet("/agents", async (HttpContext http) =>
        {
            return ReplyList(http, "agents", MaySeeAgents(http) ? await AgentsAsync(http) : []);
        });
        v2.MapGet("/agents/{id}", async (HttpContext http, string id) =>
        {
            var agents = MaySeeAgents(http) ? await AgentsAsync(http) : [];
            return Reply(http, "agent", agents.FirstOrDefault(a => IdOf(a) == id) ?? throw NetworkErrors.AgentNotFound(Limits.Text(id, "id")!));
        });
    }

    private static bool MaySeeAgents(HttpContext http) => http.Allows(http.RequireProjectContext(), "get_agent");

    private static async Task<List<JsonObject>> AgentsAsync(HttpContext http)
    {
        var downTime = TimeSpan.FromSeconds(http.RequestServices.GetService<IOptions<ComputeOptions>>()?.Value.ServiceDownTimeSeconds ?? 60);
        var now = DateTime.UtcNow;
        var agents = await Service(http).ListAgentsAsync(http.RequestAborted);
        return [.. agents.SelectMany(agent => s_agentKinds.Select(kind => Agent(agent, kind, now, downTime)))];
    }

    /// <summary>
    /// One of a host's agents. Alive while the host's nova-compute heartbeat is fresh and the host has a data plane; a host
    /// without one says why in <c>description</c> and <c>configurations.unavailable_reason</c>.
    /// </summary>
    private static JsonObject Agent(NetworkAgentRow agent, (string Type, string Binary, string Topic, string? Zone) kind, DateTime now, TimeSpan downTime)
    {
        var heartbeat = agent.LastSeenAt is { } seen ? DateTime.SpecifyKind(seen, DateTimeKind.Utc) : (DateTime?)null;
        var configurations = kind.Binary switch
        {
            "neutron-linuxbridge-agent" => new JsonObject
            {
                ["tunnel_types"] = new JsonArray("vxlan"),
                ["tunneling_ip"] = agent.TunnelAddress,
                ["vxlan_udp_port"] = agent.TunnelPort,
                ["l2_population"] = false,
                ["interface_mappings"] = new JsonObject(),
            },
            "neutron-dhcp-agent" => new JsonObject { ["dhcp_driver"] = "dnsmasq", ["networks_per_host"] = "own ports" },
            "neutron-l3-agent" => new JsonObject { ["agent_mode"] = "dvr", ["ex_gw_ports"] = null },
            _ => new JsonObject { ["metadata_proxy_socket"] = null, ["nova_metadata_host"] = "local" },
        };
        if (!agent.Available)
        {
            configurations["unavailable_reason"] = agent.Reason;
        }

        return new JsonObject
        {
            ["id"] = AgentId(agent.Host, kind.Binary),
            ["agent_type"] = kind.Type,
            ["binary"] = kind.Binary,
            ["topic"] = kind.Topic,
            ["host"] = agent.Host,
            ["admin_state_up"] = true,
            ["alive"] = agent.Available && heartbeat is { } beat && now - beat <= downTime,
            ["availability_zone"] = kind.Zone,
            ["description"] = agent.Available ? null : "Network data plane unavailable: " + agent.Reason,
            ["configurations"] = configurations,
            ["resources_synced"] = null,
            ["started_at"] = AgentTime(agent.StartedAt),
            ["created_at"] = AgentTime(agent.StartedAt),
            ["heartbeat_timestamp"] = heartbeat is { } h ? AgentTime(h) : null,
        };
    }

    /// <summary>Neutron's agent timestamps: "2026-12-02 14:47:34".</summary>
    private static string AgentTime(DateTime time) => DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A stable id per (host, binary), so a host's agents keep their ids across restarts (a name-based UUID).</summary>
    private static string AgentId(string host, string binary)
    {
        var hash = MD5.HashData(Encoding.UTF8.GetBytes(host + "\n" + binary));
        hash[6] = (byte)((hash[6] & 0x0f) | 0x30); // version 3
        hash[8] = (byte)((hash[8] & 0x3f) | 0x80);
        return Convert.ToHexStringLower(hash).Insert(20, "-").Insert(16, "-").Insert(12, "-").Insert(8, "-");
    }
}
