using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

/// <summary>The Nova v2.1 subset: discovery, flavors, servers, server actions and os-volume_attachments.</summary>
public static partial class ComputeApi
{
    public static void MapComputeApi(this IEndpointRouteBuilder app)
    {
        var compute = app.MapGroup("/compute");
        compute.AddEndpointFilter(async (context, next) =>
        {
            ComputeVersion.Echo(context.HttpContext);
            return await next(context);
        });
        compute.MapGet("", Versions);
        compute.MapGet("/v2.1", (HttpContext http) => Json.Reply(new JsonObject { ["version"] = VersionEntry(http, withMediaTypes: true) }));

        // Every versioned route refuses a microversion it does not serve (406), even one that never reads it.
        var v21 = compute.MapGroup("/v2.1");
        v21.AddEndpointFilter(async (context, next) =>
        {
            ComputeVersion.Of(context.HttpContext);
            RefuseUnknownQuery(context.HttpContext);
            return await next(context);
        });
        MapFlavors(v21);
        MapServers(v21);
        MapInstanceActions(v21);
        MapServerTags(v21);
        MapServerMetadata(v21);
        MapVolumeAttachments(v21);
        MapInterfaces(v21);
        MapSecurityGroupProxy(v21);
        MapNetworkProxies(v21);
        MapImageProxy(v21);
        MapServices(v21);
        MapHypervisors(v21);
        MapServerGroups(v21);
        MapKeypairs(v21);
        MapQuotas(v21);
        MapTopologyAndImageCache(v21);
        MapAvailabilityZones(v21);
        MapAggregates(v21);
        MapUsage(v21);
        MapMigrations(v21);
        MapHostsAndAuditLog(v21);

        MapVolumeProxy(v21);
        MapExtensions(v21);
        MapServerPassword(v21);
        MapExternalEvents(v21);
        MapDiagnostics(v21);
        MapShares(v21);
        MapConsoles(compute, v21);
    }

    private static JsonObject VersionEntry(HttpContext http, bool withMediaTypes)
    {
        var entry = new JsonObject
        {
            ["id"] = "v2.1",
            ["status"] = "CURRENT",
            ["version"] = ComputeVersion.Max.ToString(),
            ["min_version"] = ComputeVersion.Min.ToString(),
            ["updated"] = "2013-07-23T11:33:21Z",
            ["links"] = new JsonArray(new JsonObject { ["rel"] = "self", ["href"] = $"{http.BaseUrl()}/compute/v2.1/" }),
        };
        if (withMediaTypes)
        {
            entry["media-types"] = new JsonArray(new JsonObject
            {
                ["base"] = "application/json",
                ["type"] = "application/vnd.openstack.compute+json;version=2.1",
            });
        }

        return entry;
    }

    private static IResult Versions(HttpContext http) =>
        Json.Reply(new JsonObject { ["versions"] = new JsonArray(VersionEntry(http, withMediaTypes: false)) });

    private static RequestContext Authorize(HttpContext http, string action)
    {
        var context = http.RequireProjectContext();
        http.Enforce(context, action);
        return context;
    }

    /// <summary>The request id the pipeline gave this request (x-openstack-request-id), carried in the messages to the compute host.</summary>
    private static string RequestId(HttpContext http) =>
        http.Response.Headers["x-openstack-request-id"].ToString() is { Length: > 0 } id ? id : "req-" + Ids.NewUuid();

    /// <summary>The server if the caller may see it (own project, or admin); 404 in Nova's words otherwise.</summary>
    private static async Task<ServerRow> FindServerAsync(ComputeStore store, RequestContext context, string id)
    {
        var server = await store.FindServerAsync(id);
        return server is not null && (context.IsCloudAdmin || server.ProjectId == context.ProjectId)
            ? server
            : throw ApiException.NotFound($"Instance {id} could not be found.");
    }
}
