using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Dashboard;

// Compute hosts, for a cloud admin: Nova's hypervisors (state, capacity, use) with their service's last heartbeat.
public static partial class DashboardApi
{
    private static void MapHostPages(IEndpointRouteBuilder app) =>
        app.MapGet(Prefix + "/hosts", (Delegate)((HttpContext http) => WithSessionAsync(http, s => HostsAsync(http, s))));

    /// <summary>
    /// Two admin-only calls, os-hypervisors/detail and os-services: a member gets the compute API's 403 and its
    /// message on the dashboard's error page, as with any refused call.
    /// </summary>
    private static async Task<IResult> HostsAsync(HttpContext http, DashboardSession session)
    {
        var hypervisorsTask = GetAsync(http, session, Compute + "/os-hypervisors/detail", CloudApi.ComputeVersion);
        var servicesTask = GetAsync(http, session, Compute + "/os-services?binary=nova-compute", CloudApi.ComputeVersion);
        var hypervisors = (await hypervisorsTask)!["hypervisors"]!.AsArray();
        var heartbeats = (await servicesTask)!["services"]!.AsArray()
            .Where(s => S(s, "host") is not null).GroupBy(s => S(s, "host")!).ToDictionary(g => g.Key, g => S(g.First(), "updated_at"));
        var html = new Html().Raw("<table id=\"hosts\"><thead><tr><th>Host</th><th>State</th><th>Status</th><th>Servers</th><th>vCPUs used / total</th>")
            .Raw("<th>RAM used / total</th><th>Last heartbeat</th></tr></thead><tbody>");
        foreach (var h in hypervisors)
        {
            var host = S(h!["service"], "host") ?? S(h, "hypervisor_hostname");
            html.Raw("<tr data-host=\"").Text(host).Raw("\"><td>").Text(host).Raw("</td><td class=\"state-").Text(S(h, "state")).Raw("\">").Text(S(h, "state"))
                .Raw("</td><td>").Text(S(h, "status")).Raw("</td><td>").Text(S(h, "running_vms")).Raw("</td><td>")
                .Text(S(h, "vcpus_used")).Raw(" / ").Text(S(h, "vcpus")).Raw("</td><td>")
                .Text(S(h, "memory_mb_used")).Raw(" / ").Text(S(h, "memory_mb")).Raw(" MiB</td><td>")
                .Text(host is not null && heartbeats.TryGetValue(host, out var beat) ? Heartbeat(beat) : "—").Raw("</td></tr>");
        }

        return Page(http, session, "Hosts", html.Raw("</tbody></table>"));
    }

    /// <summary>os-services' updated_at (UTC, microseconds) to the second, marked UTC.</summary>
    private static string? Heartbeat(string? updatedAt) =>
        DateTime.TryParse(updatedAt, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
            ? at.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)
            : updatedAt;
}
