using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// OS-EP-FILTER (/v3/OS-EP-FILTER): endpoint groups, their projects, and endpoints associated with projects one by one.
public static partial class IdentityApi
{
    private static readonly string[] s_endpointGroupFilters = ["service_id", "interface", "region_id"];

    private static void MapEndpointFilter(RouteGroupBuilder v3)
    {
        var ep = v3.MapGroup("/OS-EP-FILTER");
        ep.MapGet("/endpoint_groups", async (HttpContext http, EndpointFilterStore filter) =>
        {
            Authorize(http, "identity:list_endpoint_groups");
            var query = http.Request.Query;
            var rows = (await filter.ListGroupsAsync()).Where(g => IdentityFilter.Text(query, "name", g.Name));
            return Json.Reply(new JsonObject
            {
                ["endpoint_groups"] = new JsonArray([.. rows.Select(g => (JsonNode)EndpointGroupJson(http, g))]),
                ["links"] = Links(http, "/OS-EP-FILTER/endpoint_groups"),
            });
        });
        ep.MapPost("/endpoint_groups", async (HttpContext http, EndpointFilterStore filter) =>
        {
            Authorize(http, "identity:create_endpoint_group");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "endpoint_group");
            var row = new EndpointGroupRow(Ids.NewHexId(), RequireName(body), BoundedText(body, "description", 4096),
                EndpointGroupFilters(body) ?? throw ApiException.BadRequest("'filters' is a required property"));
            await filter.CreateGroupAsync(row);
            return Json.Reply(new JsonObject { ["endpoint_group"] = EndpointGroupJson(http, row) }, StatusCodes.Status201Created);
        });
        ep.MapMethods("/endpoint_groups/{id}", [HttpMethods.Get, HttpMethods.Head], async (HttpContext http, EndpointFilterStore filter, string id) =>
        {
            Authorize(http, "identity:get_endpoint_group");
            var row = await filter.GetGroupAsync(id);
            return HttpMethods.IsHead(http.Request.Method) ? Results.Ok() : Json.Reply(new JsonObject { ["endpoint_group"] = EndpointGroupJson(http, row) });
        });
        ep.MapMethods("/endpoint_groups/{id}", [HttpMethods.Patch], async (HttpContext http, EndpointFilterStore filter, string id) =>
        {
            Authorize(http, "identity:update_endpoint_group");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "endpoint_group");
            var row = await filter.GetGroupAsync(id);
            row = row with
            {
                Name = OptionalName(body) ?? row.Name,
                Description = body.ContainsKey("description") ? BoundedText(body, "description", 4096) : row.Description,
                Filters = EndpointGroupFilters(body) ?? row.Filters,
            };
            await filter.UpdateGroupAsync(row);
            return Json.Reply(new JsonObject { ["endpoint_group"] = EndpointGroupJson(http, row) });
        });
        ep.MapDelete("/endpoint_groups/{id}", async (HttpContext http, EndpointFilterStore filter, string id) =>
        {
            Authorize(http, "identity:delete_endpoint_group");
            await filter.DeleteGroupAsync(id);
            return Results.NoContent();
        });
        ep.MapGet("/endpoint_groups/{id}/endpoints", async (HttpContext http, EndpointFilterStore filter, CatalogStore catalog, string id) =>
        {
            Authorize(http, "identity:list_endpoints_associated_with_endpoint_group");
            var group = await filter.GetGroupAsync(id);
            var endpoints = (await catalog.ListEndpointsAsync()).Where(group.Matches);
            return Json.Reply(new JsonObject
            {
                ["endpoints"] = new JsonArray([.. endpoints.Select(e => (JsonNode)EndpointJson(http, e))]),
                ["links"] = Links(http, $"/OS-EP-FILTER/endpoint_groups/{id}/endpoints"),
            });
        });
        ep.MapGet("/endpoint_groups/{id}/projects", async (HttpContext http, EndpointFilterStore filter, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:list_projects_associated_with_endpoint_group");
            _ = await filter.GetGroupAsync(id);
            return await ProjectListAsync(http, identity, await filter.ProjectsOfGroupAsync(id), $"/OS-EP-FILTER/endpoint_groups/{id}/projects");
        });
        const string groupProject = "/endpoint_groups/{id}/projects/{projectId}";
        ep.MapPut(groupProject, async (HttpContext http, EndpointFilterStore filter, IdentityService identity, string id, string projectId) =>
        {
            Authorize(http, "identity:add_endpoint_group_to_project");
            _ = await filter.GetGroupAsync(id);
            _ = await identity.GetProjectAsync(projectId);
            await filter.AddGroupToProjectAsync(id, projectId);
            return Results.NoContent();
        });
        ep.MapMethods(groupProject, [HttpMethods.Get, HttpMethods.Head], async (HttpContext http, EndpointFilterStore filter, IdentityService identity, string id,
            string projectId) =>
        {
            Authorize(http, "identity:get_endpoint_group_in_project");
            var group = await filter.GetGroupAsync(id);
            var project = await identity.GetProjectAsync(projectId);
            if (!(await filter.ProjectsOfGroupAsync(id)).Contains(projectId))
            {
                throw ApiException.NotFound($"Could not find endpoint group {id} in project {projectId}.");
            }

            return HttpMethods.IsHead(http.Request.Method)
                ? Results.Ok()
                : Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project), ["endpoint_group"] = EndpointGroupJson(http, group) });
        });
        ep.MapDelete(groupProject, async (HttpContext http, EndpointFilterStore filter, string id, string projectId) =>
        {
            Authorize(http, "identity:remove_endpoint_group_from_project");
            _ = await filter.GetGroupAsync(id);
            return await filter.RemoveGroupFromProjectAsync(id, projectId)
                ? Results.NoContent()
                : throw ApiException.NotFound($"Could not find endpoint group {id} in project {projectId}.");
        });
        ep.MapGet("/projects/{projectId}/endpoint_groups", async (HttpContext http, EndpointFilterStore filter, IdentityService identity, string projectId) =>
        {
            Authorize(http, "identity:list_endpoint_groups_for_project");
            _ = await identity.GetProjectAsync(projectId);
            var rows = await filter.GroupsOfProjectAsync(projectId);
            return Json.Reply(new JsonObject
            {
                ["endpoint_groups"] = new JsonArray([.. rows.Select(g => (JsonNode)EndpointGroupJson(http, g))]),
                ["links"] = Links(http, $"/OS-EP-FILTER/projects/{projectId}/endpoint_groups"),
            });
        });

        ep.MapGet("/projects/{projectId}/endpoints", async (HttpContext http, EndpointFilterStore filter, IdentityService identity, string projectId) =>
        {
            Authorize(http, "identity:list_endpoints_for_project");
            _ = await identity.GetProjectAsync(projectId);
            var endpoints = await filter.EndpointsOfProjectAsync(projectId) ?? [];
            return Json.Reply(new JsonObject
            {
                ["endpoints"] = new JsonArray([.. endpoints.Select(e => (JsonNode)EndpointJson(http, e))]),
                ["links"] = Links(http, $"/OS-EP-FILTER/projects/{projectId}/endpoints"),
            });
        });
        const string projectEndpoint = "/projects/{projectId}/endpoints/{endpointId}";
        ep.MapPut(projectEndpoint, async (HttpContext http, EndpointFilterStore filter, CatalogStore catalog, IdentityService identity, string projectId,
            string endpointId) =>
        {
            Authorize(http, "identity:add_endpoint_to_project");
            _ = await identity.GetProjectAsync(projectId);
            _ = await catalog.GetEndpointAsync(endpointId);
            await filter.AddEndpointToProjectAsync(endpointId, projectId);
            return Results.NoContent();
        });
        ep.MapMethods(projectEndpoint, [HttpMethods.Get, HttpMethods.Head], async (HttpContext http, EndpointFilterStore filter, CatalogStore catalog,
            IdentityService identity, string projectId, string endpointId) =>
        {
            Authorize(http, "identity:check_endpoint_in_project");
            _ = await identity.GetProjectAsync(projectId);
            _ = await catalog.GetEndpointAsync(endpointId);
            return (await filter.ProjectsOfEndpointAsync(endpointId)).Contains(projectId)
                ? Results.NoContent()
                : throw ApiException.NotFound($"Could not find endpoint {endpointId} in project {projectId}.");
        });
        ep.MapDelete(projectEndpoint, async (HttpContext http, EndpointFilterStore filter, string projectId, string endpointId) =>
        {
            Authorize(http, "identity:remove_endpoint_from_project");
            return await filter.RemoveEndpointFromProjectAsync(endpointId, projectId)
                ? Results.NoContent()
                : throw ApiException.NotFound($"Could not find endpoint {endpointId} in project {projectId}.");
        });
        ep.MapGet("/endpoints/{endpointId}/projects", async (HttpContext http, EndpointFilterStore filter, CatalogStore catalog, IdentityService identity,
            string endpointId) =>
        {
            Authorize(http, "identity:list_projects_for_endpoint");
            _ = await catalog.GetEndpointAsync(endpointId);
            return await ProjectListAsync(http, identity, await filter.ProjectsOfEndpointAsync(endpointId), $"/OS-EP-FILTER/endpoints/{endpointId}/projects");
        });
    }

    private static async Task<IResult> ProjectListAsync(HttpContext http, IdentityService identity, IReadOnlyList<string> projectIds, string path)
    {
        var list = new JsonArray();
        foreach (var id in projectIds)
        {
            if (await identity.FindProjectAsync(id) is { } project)
            {
                list.Add(ProjectJson(http, project));
            }
        }

        return Json.Reply(new JsonObject { ["projects"] = list, ["links"] = Links(http, path) });
    }

    /// <summary>"filters": an object of service_id, interface and region_id strings, as JSON text; null when absent.</summary>
    private static string? EndpointGroupFilters(JsonObject body)
    {
        if (!body.ContainsKey("filters"))
        {
            return null;
        }

        if (body["filters"] is not JsonObject filters || filters.Count == 0
            || filters.Any(f => !s_endpointGroupFilters.Contains(f.Key) || f.Value is not JsonValue v || !v.TryGetValue(out string? text) || text.Length > 255))
        {
            throw ApiException.BadRequest(EndpointFilterStore.FilterMessage);
        }

        return filters.ToJsonString();
    }

    private static JsonObject EndpointGroupJson(HttpContext http, EndpointGroupRow g) => new()
    {
        ["id"] = g.Id,
        ["name"] = g.Name,
        ["description"] = g.Description ?? "",
        ["filters"] = JsonNode.Parse(g.Filters),
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/OS-EP-FILTER/endpoint_groups/{g.Id}" },
    };
}
