using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Image;

/// <summary>Runs <see cref="ImageTaskCases"/> on SQLite.</summary>
public sealed class ImageTaskTests(EmberFixture ember) : ImageTaskCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="ImageTaskCases"/> on PostgreSQL.</summary>
public sealed class PostgresImageTaskTests(PostgresEmberFixture ember) : ImageTaskCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>Glance's tasks API (issue 18): legacy import tasks from this cloud's own images, the list, and an image's import tasks (2.12).</summary>
public abstract class ImageTaskCases(EmberFixture ember)
{
    private static readonly TimeSpan s_taskTimeout = TimeSpan.FromMinutes(1);

    /// <summary>An active raw image with random data, and its data URL as the image API gives it (the create's Location, then /file).</summary>
    private static async Task<(string Id, string FileUrl, byte[] Data)> SourceImageAsync(ApiClient client, string name)
    {
        var body = new JsonObject { ["name"] = name, ["disk_format"] = "raw", ["container_format"] = "bare" };
        using var created = await client.Http.PostAsync("/image/v2/images", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        var data = new byte[(1 << 20) + 3];
        Random.Shared.NextBytes(data);
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using (var uploaded = await client.Http.PutAsync($"/image/v2/images/{id}/file", content))
        {
            Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
        }

        return (id, created.Headers.Location!.ToString() + "/file", data);
    }

    private static JsonObject ImportTask(string from, JsonObject? properties = null) => new()
    {
        ["type"] = "import",
        ["input"] = new JsonObject
        {
            ["import_from"] = from,
            ["import_from_format"] = "raw",
            ["image_properties"] = properties ?? new JsonObject { ["name"] = "from-task", ["disk_format"] = "raw", ["container_format"] = "bare" },
        },
    };

    private static async Task<JsonNode> FinishedAsync(ApiClient client, string taskId) =>
        await client.WaitForAsync($"/image/v2/tasks/{taskId}", t => t["status"]!.GetValue<string>() is "success" or "failure", s_taskTimeout);

    private static async Task<JsonNode> RunTaskAsync(ApiClient client, JsonObject task)
    {
        var created = await client.SendAsync(HttpMethod.Post, "/image/v2/tasks", task, HttpStatusCode.Created);
        Assert.Equal("pending", created["status"]!.GetValue<string>());
        return await FinishedAsync(client, created["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_import_task_copies_an_image_of_this_cloud_into_a_new_image_and_expires_two_days_after()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var (source, url, data) = await SourceImageAsync(admin, "task-source");

        using var response = await admin.Http.PostAsync("/image/v2/tasks",
            new StringContent(ImportTask(url, new JsonObject { ["name"] = "from-task", ["disk_format"] = "raw", ["container_format"] = "bare", ["os_distro"] = "cirros" }).ToJsonString(),
                System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var id = created["id"]!.GetValue<string>();
        Assert.Equal($"/v2/tasks/{id}", response.Headers.Location!.ToString());
        Assert.Equal("import", created["type"]!.GetValue<string>());
        Assert.Equal("pending", created["status"]!.GetValue<string>());
        Assert.Equal("", created["message"]!.GetValue<string>());
        Assert.Null(created["result"]);
        Assert.Null(created["expires_at"]);
        Assert.Equal(url, created["input"]!["import_from"]!.GetValue<string>());
        Assert.Equal(response.Headers.GetValues("x-openstack-request-id").Single(), created["request_id"]!.GetValue<string>());

        var task = await FinishedAsync(admin, id);
        Assert.True(task["status"]!.GetValue<string>() == "success", task.ToJsonString());
        var imageId = task["result"]!["image_id"]!.GetValue<string>();
        Assert.NotEqual(source, imageId);
        // Glance's task_time_to_live: the task is kept 48 hours after it ended.
        Assert.Equal(DateTime.Parse(task["updated_at"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.RoundtripKind).AddHours(48),
            DateTime.Parse(task["expires_at"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.RoundtripKind));

        var image = await admin.SendAsync(HttpMethod.Get, $"/image/v2/images/{imageId}");
        Assert.Equal("active", image["status"]!.GetValue<string>());
        Assert.Equal("from-task", image["name"]!.GetValue<string>());
        Assert.Equal("cirros", image["os_distro"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(data)), image["checksum"]!.GetValue<string>());
        Assert.Equal(data, await admin.Http.GetByteArrayAsync($"/image/v2/images/{imageId}/file"));

        // The list shows the stub (no input, result or message), filters on type and status, and pages with a next link.
        var listed = await admin.SendAsync(HttpMethod.Get, "/image/v2/tasks?type=import&status=success");
        var stub = listed["tasks"]!.AsArray().Single(t => t!["id"]!.GetValue<string>() == id)!;
        Assert.Null(stub["input"]);
        Assert.Equal($"/v2/tasks/{id}", stub["self"]!.GetValue<string>());
        Assert.Equal("/v2/schemas/tasks", listed["schema"]!.GetValue<string>());
        Assert.DoesNotContain(listed["tasks"]!.AsArray(), t => t!["status"]!.GetValue<string>() != "success");
        var second = await RunTaskAsync(admin, ImportTask(url));
        var page = await admin.SendAsync(HttpMethod.Get, "/image/v2/tasks?limit=1&sort_key=created_at&sort_dir=desc");
        Assert.Equal(second["id"]!.GetValue<string>(), page["tasks"]![0]!["id"]!.GetValue<string>());
        var next = page["next"]!.GetValue<string>();
        Assert.Contains($"marker={second["id"]!.GetValue<string>()}", next, StringComparison.Ordinal);
        var after = await admin.SendAsync(HttpMethod.Get, "/image" + next);
        Assert.Single(after["tasks"]!.AsArray());
        Assert.NotEqual(second["id"]!.GetValue<string>(), after["tasks"]![0]!["id"]!.GetValue<string>());

        // Expired tasks are gone (Ember scrubs them when it reads tasks, as Glance does).
        using (var scope = ember.Host.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<Ember.Server.Data.Database>();
            await using var c = await db.OpenAsync();
            await Dapper.SqlMapper.ExecuteAsync(c, "UPDATE image_tasks SET expires_at = @Past WHERE id = @Id",
                new { Past = DateTime.SpecifyKind(DateTime.UtcNow.AddMinutes(-1), DateTimeKind.Utc), Id = id });
        }

        await admin.SendAsync(HttpMethod.Get, $"/image/v2/tasks/{id}", expect: HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{imageId}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{second["result"]!["image_id"]!.GetValue<string>()}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{source}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Sources_ember_cannot_read_end_the_task_in_failure_with_glances_message_and_leave_no_image()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var (source, url, _) = await SourceImageAsync(admin, "task-refused-source");
        var before = (await admin.SendAsync(HttpMethod.Get, "/image/v2/images?limit=1000"))["images"]!.AsArray().Count;

        (JsonObject Task, string Message)[] refused =
        [
            (ImportTask("http://images.example.com/cirros.qcow2"), "URI for legacy import task does not pass filtering: http://images.example.com/cirros.qcow2"),
            (ImportTask("file:///etc/passwd"), "File based imports are not allowed. Please use a non-local source of image data."),
            (ImportTask("ftp://images.example.com/cirros.qcow2"), "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http']"),
            (ImportTask(url.Replace(source, Guid.NewGuid().ToString(), StringComparison.Ordinal)), "No image found with ID "),
            (new JsonObject { ["type"] = "import", ["input"] = new JsonObject { ["import_from"] = url, ["image_properties"] = new JsonObject() } },
                "Input does not contain 'import_from_format' field"),
            // The data is raw bytes, not the qcow2 the new image says it is: the upload's inspection refuses it.
            (ImportTask(url, new JsonObject { ["name"] = "task-not-qcow2", ["disk_format"] = "qcow2", ["container_format"] = "bare" }), ""),
        ];
        foreach (var (task, message) in refused)
        {
            var done = await RunTaskAsync(admin, task);
            Assert.True(done["status"]!.GetValue<string>() == "failure", done.ToJsonString());
            Assert.StartsWith(message, done["message"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.NotEqual("", done["message"]!.GetValue<string>());
            Assert.Null(done["result"]);
            Assert.NotNull(done["expires_at"]);
        }

        // A failed import removes the image it made (Glance's revert): none is left behind.
        Assert.Equal(before, (await admin.SendAsync(HttpMethod.Get, "/image/v2/images?limit=1000"))["images"]!.AsArray().Count);
        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{source}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task The_tasks_api_is_the_admins_and_refuses_what_glance_refuses()
    {
        var project = await ember.NewProjectClientAsync("tasks");
        using var member = project.Api;
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/image/v2/tasks"), (HttpMethod.Get, $"/image/v2/tasks/{Guid.NewGuid()}") })
        {
            await member.SendAsync(method, path, expect: HttpStatusCode.Forbidden);
        }

        await member.SendAsync(HttpMethod.Post, "/image/v2/tasks", ImportTask("http://example.com/x"), HttpStatusCode.Forbidden);

        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        (string Path, JsonObject? Body, string Message)[] bad =
        [
            ("/image/v2/tasks", new JsonObject { ["input"] = new JsonObject() }, "Task 'type' is required"),
            ("/image/v2/tasks", new JsonObject { ["type"] = "import" }, "Task 'input' is required"),
            ("/image/v2/tasks", new JsonObject { ["type"] = "copy", ["input"] = new JsonObject() }, "Provided object does not match schema 'task': \"copy\" is not one of"),
            ("/image/v2/tasks", new JsonObject { ["type"] = "import", ["input"] = "x" }, "Provided object does not match schema 'task': \"x\" is not of type"),
            ("/image/v2/tasks", new JsonObject { ["type"] = "api_image_import", ["input"] = new JsonObject() }, "Provided type of task is unsupported: api_image_import."),
            ("/image/v2/tasks?status=done", null, "Invalid status value: done"),
            ("/image/v2/tasks?type=api_image_import", null, "Invalid type value: api_image_import"),
            ("/image/v2/tasks?sort_dir=up", null, "Invalid sort direction: up"),
            ("/image/v2/tasks?sort_key=size", null, "Sort key supplied was not valid."),
            ("/image/v2/tasks?marker=abc", null, "Invalid marker format"),
            ("/image/v2/tasks?limit=-1", null, "limit param must be positive"),
            ("/image/v2/tasks?limit=x", null, "limit param must be an integer"),
        ];
        foreach (var (path, body, message) in bad)
        {
            var (status, json, text) = await admin.TrySendAsync(body is null ? HttpMethod.Get : HttpMethod.Post, path, body);
            Assert.True(status == HttpStatusCode.BadRequest, $"{path} {body?.ToJsonString()}: {(int)status} {text}");
            Assert.StartsWith(message, json!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        var unknown = Guid.NewGuid().ToString();
        var missing = await admin.TrySendAsync(HttpMethod.Get, $"/image/v2/tasks/{unknown}");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal($"Task with the given id {unknown} was not found", missing.Json!["message"]!.GetValue<string>());
        // Tasks are not deleted by hand: they expire.
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await admin.TrySendAsync(HttpMethod.Delete, $"/image/v2/tasks/{unknown}")).Status);

        var schema = await admin.SendAsync(HttpMethod.Get, "/image/v2/schemas/task");
        Assert.Equal("task", schema["name"]!.GetValue<string>());
        Assert.Equal(["import", "api_image_import", "location_import"], schema["properties"]!["type"]!["enum"]!.AsArray().Select(t => t!.GetValue<string>()));
        var collection = await admin.SendAsync(HttpMethod.Get, "/image/v2/schemas/tasks");
        Assert.Null(collection["properties"]!["tasks"]!["items"]!["properties"]!["input"]);
        Assert.NotNull(collection["properties"]!["tasks"]!["items"]!["properties"]!["status"]);
    }

    [Fact]
    public async Task An_interoperable_import_records_its_task_on_the_image_for_whoever_sees_the_image()
    {
        var project = await ember.NewProjectClientAsync("image-tasks");
        using var client = project.Api;
        var body = new JsonObject { ["name"] = "staged", ["disk_format"] = "raw", ["container_format"] = "bare" };
        var id = (await client.SendAsync(HttpMethod.Post, "/image/v2/images", body, HttpStatusCode.Created))["id"]!.GetValue<string>();
        Assert.Empty((await client.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}/tasks"))["tasks"]!.AsArray());
        var content = new ByteArrayContent(RandomNumberGenerator.GetBytes(4096));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using (var staged = await client.Http.PutAsync($"/image/v2/images/{id}/stage", content))
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }

        var import = new JsonObject { ["method"] = new JsonObject { ["name"] = "glance-direct" } };
        using var imported = await client.Http.PostAsync($"/image/v2/images/{id}/import",
            new StringContent(import.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, imported.StatusCode);

        // What Tempest's ImportImagesTest checks: one task, success, the import's request id and method.
        var tasks = await client.WaitForAsync($"/image/v2/images/{id}/tasks",
            t => t["tasks"]!.AsArray().All(x => x!["status"]!.GetValue<string>() == "success"), s_taskTimeout);
        var task = tasks["tasks"]!.AsArray().Single()!;
        Assert.Equal("api_image_import", task["type"]!.GetValue<string>());
        Assert.Equal(imported.Headers.GetValues("x-openstack-request-id").Single(), task["request_id"]!.GetValue<string>());
        Assert.Equal("glance-direct", task["input"]!["import_req"]!["method"]!["name"]!.GetValue<string>());
        Assert.Equal(id, task["image_id"]!.GetValue<string>());
        Assert.Equal(id, task["result"]!["image_id"]!.GetValue<string>());
        Assert.Equal(project.ProjectId, task["owner"]!.GetValue<string>());
        Assert.False(task["deleted"]!.GetValue<bool>());
        Assert.Equal("active", (await client.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}"))["status"]!.GetValue<string>());

        // Another project does not see the private image, so not its tasks either (Glance's 404).
        var other = await ember.NewProjectClientAsync("image-tasks-other");
        using (other)
        {
            await other.Api.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}/tasks", expect: HttpStatusCode.NotFound);
        }

        // A failed import is a failed task with the reason; the image is queued again.
        var bad = (await client.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "not-qcow2", ["disk_format"] = "qcow2", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        content = new ByteArrayContent(RandomNumberGenerator.GetBytes(4096));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using (var staged = await client.Http.PutAsync($"/image/v2/images/{bad}/stage", content))
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }

        await client.SendAsync(HttpMethod.Post, $"/image/v2/images/{bad}/import", import, HttpStatusCode.Accepted);
        var failed = (await client.WaitForAsync($"/image/v2/images/{bad}/tasks",
            t => t["tasks"]!.AsArray().All(x => x!["status"]!.GetValue<string>() == "failure"), s_taskTimeout))["tasks"]![0]!;
        Assert.NotEqual("", failed["message"]!.GetValue<string>());
        Assert.Null(failed["result"]);
        Assert.Equal("queued", (await client.SendAsync(HttpMethod.Get, $"/image/v2/images/{bad}"))["status"]!.GetValue<string>());

        // The admin's tasks API lists them too.
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        Assert.Equal("api_image_import", (await admin.SendAsync(HttpMethod.Get, $"/image/v2/tasks/{task["id"]!.GetValue<string>()}"))["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Glance_client_creates_lists_and_shows_tasks()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var (source, url, data) = await SourceImageAsync(admin, "task-cli-source");
        var env = ember.OpenRc("admin");
        var input = new JsonObject
        {
            ["import_from"] = url,
            ["import_from_format"] = "raw",
            ["image_properties"] = new JsonObject { ["name"] = "task-cli", ["disk_format"] = "raw", ["container_format"] = "bare" },
        };
        var created = (await Cli.RunAsync("glance", ["task-create", "--type", "import", "--input", input.ToJsonString()], env)).EnsureSuccess();
        Assert.Contains("pending", created.StdOut, StringComparison.Ordinal);
        var id = System.Text.RegularExpressions.Regex.Match(created.StdOut, @"\|\s*id\s*\|\s*([0-9a-f-]{36})").Groups[1].Value;
        Assert.True(Guid.TryParse(id, out _), created.StdOut);
        var task = await FinishedAsync(admin, id);
        Assert.Equal("success", task["status"]!.GetValue<string>());

        var list = (await Cli.RunAsync("glance", ["task-list", "--type", "import", "--status", "success"], env)).EnsureSuccess();
        Assert.Contains(id, list.StdOut, StringComparison.Ordinal);
        var show = (await Cli.RunAsync("glance", ["task-show", id], env)).EnsureSuccess();
        var imageId = task["result"]!["image_id"]!.GetValue<string>();
        Assert.Contains(imageId, show.StdOut, StringComparison.Ordinal);
        Assert.Equal(data, await admin.Http.GetByteArrayAsync($"/image/v2/images/{imageId}/file"));

        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{imageId}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{source}", expect: HttpStatusCode.NoContent);
    }
}
