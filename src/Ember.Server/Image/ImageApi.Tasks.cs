using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Image;

/// <summary>Glance's tasks API (/v2/tasks, admin only by Glance's default policy) and an image's import tasks (API 2.12).</summary>
public static partial class ImageApi
{
    private static readonly string[] s_taskStatuses = ["pending", "processing", "success", "failure"];
    private static readonly string[] s_taskTypes = ["import", "api_image_import", "location_import"];

    /// <summary>The task columns Glance's list sorts on (the Task model's; deleted and deleted_at are always false and null here).</summary>
    private static readonly Dictionary<string, Func<ImageTaskRow, IComparable?>> s_taskSortKeys = new(StringComparer.Ordinal)
    {
        ["id"] = t => t.Id,
        ["type"] = t => t.Type,
        ["status"] = t => t.Status,
        ["owner"] = t => t.Owner,
        ["image_id"] = t => t.ImageId,
        ["user_id"] = t => t.UserId,
        ["request_id"] = t => t.RequestId,
        ["expires_at"] = t => t.ExpiresAt,
        ["created_at"] = t => t.CreatedAt,
        ["updated_at"] = t => t.UpdatedAt,
    };

    private static void MapTasks(RouteGroupBuilder v2)
    {
        v2.MapGet("/schemas/task", () => Json.Reply(TaskSchema(partial: false)));
        v2.MapGet("/schemas/tasks", () => Json.Reply(new JsonObject
        {
            ["name"] = "tasks",
            ["properties"] = new JsonObject
            {
                ["tasks"] = new JsonObject { ["type"] = "array", ["items"] = TaskSchema(partial: true) },
                ["schema"] = new JsonObject { ["type"] = "string" },
            },
            ["links"] = new JsonArray(new JsonObject { ["rel"] = "describedby", ["href"] = "{schema}" }),
        }));
        v2.MapPost("/tasks", CreateTaskAsync);
        v2.MapGet("/tasks", ListTasksAsync);
        v2.MapGet("/tasks/{id}", async (HttpContext http, ImageService images, string id) =>
        {
            var context = AuthorizeTasks(http, "image:get_task");
            return Json.Reply(TaskView(await images.GetTaskAsync(context, id)));
        });
        v2.MapDelete("/tasks/{id}", (HttpContext http, string id) =>
        {
            AuthorizeTasks(http, "image:get_task");
            http.Response.Headers.Allow = "GET";
            throw new ApiException(ErrorKind.MethodNotAllowed,
                "This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.");
        });
        v2.MapGet("/images/{id}/tasks", async (HttpContext http, ImageService images, string id) =>
        {
            var context = Authorize(http, "image:get_image");
            var tasks = await images.ListImageTasksAsync(context, id);
            return Json.Reply(new JsonObject { ["tasks"] = new JsonArray([.. tasks.Select(t => (JsonNode)ImageTaskRecord(t))]) });
        });
    }

    /// <summary>Glance checks tasks_api_access first (admin by default), then the call's own rule.</summary>
    private static RequestContext AuthorizeTasks(HttpContext http, string action)
    {
        var context = Authorize(http, "image:tasks_api_access");
        http.Enforce(context, action);
        return context;
    }

    /// <summary>
    /// POST /v2/tasks {"type": "import", "input": {"import_from", "import_from_format", "image_properties"}}: 201 with the
    /// pending task; it runs in the background and ends in success (result {"image_id"}) or failure (message).
    /// </summary>
    private static async Task<IResult> CreateTaskAsync(HttpContext http, ImageService images)
    {
        var context = AuthorizeTasks(http, "image:add_task");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        foreach (var required in new[] { "type", "input" })
        {
            if (!body.ContainsKey(required))
            {
                throw ApiException.BadRequest($"Task '{required}' is required");
            }
        }

        if (body.Select(p => p.Key).FirstOrDefault(k => k is not ("type" or "input")) is { } extra)
        {
            throw ApiException.BadRequest($"Provided object does not match schema 'task': Additional properties are not allowed ('{extra}' was unexpected)");
        }

        var type = body["type"] is JsonValue tv && tv.TryGetValue(out string? t) ? t : null;
        if (type is null || !s_taskTypes.Contains(type))
        {
            throw ApiException.BadRequest($"Provided object does not match schema 'task': {body["type"]?.ToJsonString() ?? "None"} is not one of ['import', 'api_image_import', 'location_import']");
        }

        if (body["input"] is not (null or JsonObject))
        {
            throw ApiException.BadRequest($"Provided object does not match schema 'task': {body["input"]!.ToJsonString()} is not of type 'null', 'object'");
        }

        if (type != "import")
        {
            // Glance makes these itself, for an image's import and for a location added to an image.
            throw ApiException.BadRequest($"Provided type of task is unsupported: {type}. The tasks API runs 'import' tasks; "
                + "api_image_import tasks come from POST /v2/images/{image_id}/import.");
        }

        var task = await images.CreateImportTaskAsync(context, RequestId(http), body["input"] as JsonObject, http.BaseUrl() + "/image",
            properties => NewImage(context, properties));
        http.Response.Headers.Location = $"/v2/tasks/{task.Id}";
        return Json.Reply(TaskView(task), StatusCodes.Status201Created);
    }

    /// <summary>
    /// GET /v2/tasks: Glance's task list, newest first by default: the filters type (import) and status, and any other
    /// task column as an exact match; sort_key, sort_dir; limit (25 by default, at most 1000) and marker, with a next link
    /// when a page is full.
    /// </summary>
    private static async Task<IResult> ListTasksAsync(HttpContext http, ImageService images)
    {
        var context = AuthorizeTasks(http, "image:get_tasks");
        var query = http.Request.Query;
        var sortDir = query["sort_dir"].LastOrDefault() ?? "desc";
        if (sortDir is not ("asc" or "desc"))
        {
            throw ApiException.BadRequest($"Invalid sort direction: {sortDir}");
        }

        var sortKey = query["sort_key"].LastOrDefault() ?? "created_at";
        if (!s_taskSortKeys.TryGetValue(sortKey, out var sortBy))
        {
            throw ApiException.BadRequest("Sort key supplied was not valid.");
        }

        if (query["status"].LastOrDefault() is { Length: > 0 } status && !s_taskStatuses.Contains(status))
        {
            throw ApiException.BadRequest($"Invalid status value: {status}");
        }

        if (query["type"].LastOrDefault() is { Length: > 0 } type && type != "import")
        {
            throw ApiException.BadRequest($"Invalid type value: {type}");
        }

        var marker = query["marker"].LastOrDefault();
        if (marker is not null && !Ids.IsUuid(marker))
        {
            throw ApiException.BadRequest("Invalid marker format");
        }

        var limit = DefaultPageSize;
        if (query["limit"].LastOrDefault() is { } limitText)
        {
            limit = int.TryParse(limitText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var l)
                ? l < 0 ? throw ApiException.BadRequest("limit param must be positive") : Math.Min(l, MaxPageSize)
                : throw ApiException.BadRequest("limit param must be an integer");
        }

        // Every other parameter that names a task column filters on it exactly; others are ignored, as in Glance.
        var filters = query.Where(q => q.Key is not ("sort_dir" or "sort_key" or "marker" or "limit") && s_taskSortKeys.ContainsKey(q.Key))
            .Select(q => (Field: s_taskSortKeys[q.Key], Value: q.Value.LastOrDefault() ?? ""))
            .Where(f => f.Value.Length > 0)
            .ToList();
        var tasks = (await images.ListTasksAsync(context))
            .Where(t => filters.All(f => string.Equals(FilterText(f.Field(t)), f.Value, StringComparison.Ordinal)));
        // Glance sorts on the key, then created_at and id, all in the one direction.
        var comparer = Comparer<IComparable?>.Default;
        Comparison<ImageTaskRow> order = (a, b) =>
        {
            var c = comparer.Compare(sortBy(a), sortBy(b));
            c = c != 0 ? c : a.CreatedAt.CompareTo(b.CreatedAt);
            c = c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
            return sortDir == "asc" ? c : -c;
        };
        var sorted = tasks.ToList();
        sorted.Sort(order);
        if (marker is not null)
        {
            var at = sorted.FindIndex(t => t.Id == marker);
            if (at < 0)
            {
                throw ApiException.BadRequest($"Task with the given id {marker} was not found");
            }

            sorted = sorted[(at + 1)..];
        }

        var page = sorted.Take(limit).ToList();
        var parameters = query.Where(q => q.Key != "marker").SelectMany(q => q.Value.Select(v => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(v ?? "")}")).ToList();
        var body = new JsonObject
        {
            ["tasks"] = new JsonArray([.. page.Select(t => (JsonNode)TaskStub(t))]),
            ["first"] = parameters.Count == 0 ? "/v2/tasks" : "/v2/tasks?" + string.Join('&', parameters),
            ["schema"] = "/v2/schemas/tasks",
        };
        if (page.Count > 0 && page.Count == limit)
        {
            body["next"] = "/v2/tasks?" + string.Join('&', [.. parameters, $"marker={page[^1].Id}"]);
        }

        return Json.Reply(body);
    }

    private static string? FilterText(IComparable? value) => value switch
    {
        DateTime t => Ids.ZuluSeconds(t),
        _ => value?.ToString(),
    };

    /// <summary>Glance's task view (show and create): image_id, request_id, user_id and expires_at only when they are set.</summary>
    private static JsonObject TaskView(ImageTaskRow task)
    {
        var view = new JsonObject
        {
            ["id"] = task.Id,
            ["input"] = JsonNode.Parse(task.Input),
            ["type"] = task.Type,
            ["status"] = task.Status,
            ["owner"] = task.Owner,
            ["message"] = task.Message,
            ["result"] = task.Result is null ? null : JsonNode.Parse(task.Result),
            ["created_at"] = Ids.ZuluSeconds(task.CreatedAt),
            ["updated_at"] = Ids.ZuluSeconds(task.UpdatedAt),
            ["self"] = $"/v2/tasks/{task.Id}",
            ["schema"] = "/v2/schemas/task",
        };
        if (task.ImageId is not null)
        {
            view["image_id"] = task.ImageId;
        }

        if (task.RequestId is not null)
        {
            view["request_id"] = task.RequestId;
        }

        if (task.UserId is not null)
        {
            view["user_id"] = task.UserId;
        }

        if (task.ExpiresAt is { } expires)
        {
            view["expires_at"] = Ids.ZuluSeconds(expires);
        }

        return view;
    }

    /// <summary>Glance's list entry: no input, result or message.</summary>
    private static JsonObject TaskStub(ImageTaskRow task)
    {
        var view = new JsonObject
        {
            ["id"] = task.Id,
            ["type"] = task.Type,
            ["status"] = task.Status,
            ["owner"] = task.Owner,
            ["created_at"] = Ids.ZuluSeconds(task.CreatedAt),
            ["updated_at"] = Ids.ZuluSeconds(task.UpdatedAt),
            ["self"] = $"/v2/tasks/{task.Id}",
            ["schema"] = "/v2/schemas/task",
        };
        if (task.ExpiresAt is { } expires)
        {
            view["expires_at"] = Ids.ZuluSeconds(expires);
        }

        return view;
    }

    /// <summary>GET /v2/images/{id}/tasks answers Glance's database record of each task, every field, times with microseconds.</summary>
    private static JsonObject ImageTaskRecord(ImageTaskRow task) => new()
    {
        ["id"] = task.Id,
        ["type"] = task.Type,
        ["status"] = task.Status,
        ["owner"] = task.Owner,
        ["expires_at"] = task.ExpiresAt is { } expires ? Ids.CinderTime(expires) : null,
        ["created_at"] = Ids.CinderTime(task.CreatedAt),
        ["updated_at"] = Ids.CinderTime(task.UpdatedAt),
        ["deleted_at"] = null,
        ["deleted"] = false,
        ["image_id"] = task.ImageId,
        ["request_id"] = task.RequestId,
        ["user_id"] = task.UserId,
        ["input"] = JsonNode.Parse(task.Input),
        ["result"] = task.Result is null ? null : JsonNode.Parse(task.Result),
        ["message"] = task.Message,
    };

    /// <summary>Glance's task schema (/v2/schemas/task); the list's items leave out input, result and message.</summary>
    private static JsonObject TaskSchema(bool partial)
    {
        static JsonObject Prop(string description, JsonNode type) => new() { ["description"] = description, ["type"] = type };
        static JsonArray OrNull(string type) => new("null", type);
        var properties = new JsonObject
        {
            ["id"] = new JsonObject
            {
                ["description"] = "An identifier for the task",
                ["pattern"] = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
                ["type"] = "string",
            },
            ["type"] = new JsonObject
            {
                ["description"] = "The type of task represented by this content",
                ["enum"] = new JsonArray([.. s_taskTypes.Select(t => (JsonNode)t)]),
                ["type"] = "string",
            },
            ["status"] = new JsonObject
            {
                ["description"] = "The current status of this task",
                ["enum"] = new JsonArray([.. s_taskStatuses.Select(s => (JsonNode)s)]),
                ["type"] = "string",
            },
            ["input"] = Prop("The parameters required by task, JSON blob", OrNull("object")),
            ["result"] = Prop("The result of current task, JSON blob", OrNull("object")),
            ["owner"] = Prop("An identifier for the owner of this task", "string"),
            ["message"] = Prop("Human-readable informative message only included when appropriate (usually on failure)", "string"),
            ["image_id"] = Prop("Image associated with the task", "string"),
            ["request_id"] = Prop("Human-readable informative request-id", "string"),
            ["user_id"] = Prop("User associated with the task", "string"),
            ["expires_at"] = Prop("Datetime when this resource would be subject to removal", OrNull("string")),
            ["created_at"] = Prop("Datetime when this resource was created", "string"),
            ["updated_at"] = Prop("Datetime when this resource was updated", "string"),
            ["self"] = new JsonObject { ["readOnly"] = true, ["type"] = "string" },
            ["schema"] = new JsonObject { ["readOnly"] = true, ["type"] = "string" },
        };
        if (partial)
        {
            properties.Remove("input");
            properties.Remove("result");
            properties.Remove("message");
        }

        return new JsonObject { ["name"] = "task", ["properties"] = properties };
    }

    /// <summary>The request id the pipeline gave this request (x-openstack-request-id), which a task records.</summary>
    private static string RequestId(HttpContext http) =>
        http.Response.Headers["x-openstack-request-id"].ToString() is { Length: > 0 } id ? id : "req-" + Ids.NewUuid();
}
