using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Image;

/// <summary>Glance's image members with the openstack client: share, accept or reject, list filters.</summary>
public sealed class ImageMemberTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private Task<CliResult> AdminAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", args);

    private Task<CliResult> DemoAsync(params string[] args) => ember.RunClientAsync("openstack", "ember-demo", args);

    private static HashSet<string> Ids(CliResult result) => [.. result.EnsureSuccess().Json().AsArray().Select(i => i!["ID"]!.GetValue<string>())];

    [Fact]
    public async Task Openstack_client_shares_an_image_that_the_member_accepts_or_rejects()
    {
        var name = "shared-" + Guid.NewGuid().ToString("N")[..8];
        var imageId = (await AdminAsync("image", "create", "--shared", "--disk-format", "raw", "--container-format", "bare", name, "-f", "json"))
            .EnsureSuccess().Json()["id"]!.GetValue<string>();
        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        await demo.SendAsync(HttpMethod.Get, $"/image/v2/images/{imageId}", expect: HttpStatusCode.NotFound);

        var member = (await AdminAsync("image", "add", "project", imageId, "demo", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("pending", member["status"]!.GetValue<string>());
        var demoProject = member["member_id"]!.GetValue<string>();

        // Pending: the member sees the image by id, not in its list, but with visibility=shared&member_status=pending.
        await demo.SendAsync(HttpMethod.Get, $"/image/v2/images/{imageId}");
        Assert.DoesNotContain(imageId, Ids(await DemoAsync("image", "list", "-f", "json")));
        var pending = await demo.SendAsync(HttpMethod.Get, "/image/v2/images?visibility=shared&member_status=pending");
        Assert.Contains(pending["images"]!.AsArray(), i => i!["id"]!.GetValue<string>() == imageId);

        // Only the member answers: the owner may not accept for it; the member sees only its own entry.
        using var admin = new ApiClient(await ember.ClientAsync());
        await admin.SendAsync(HttpMethod.Put, $"/image/v2/images/{imageId}/members/{demoProject}",
            new JsonObject { ["status"] = "accepted" }, HttpStatusCode.Forbidden);
        (await DemoAsync("image", "set", "--accept", imageId)).EnsureSuccess();
        Assert.Contains(imageId, Ids(await DemoAsync("image", "list", "-f", "json")));
        Assert.Contains(imageId, Ids(await DemoAsync("image", "list", "--shared", "-f", "json")));
        var members = await demo.SendAsync(HttpMethod.Get, $"/image/v2/images/{imageId}/members");
        Assert.Equal("accepted", Assert.Single(members["members"]!.AsArray())!["status"]!.GetValue<string>());

        (await DemoAsync("image", "set", "--reject", imageId)).EnsureSuccess();
        Assert.DoesNotContain(imageId, Ids(await DemoAsync("image", "list", "-f", "json")));

        // A duplicate member is a 409; a private image has no members (403); removing the member hides the image.
        await admin.SendAsync(HttpMethod.Post, $"/image/v2/images/{imageId}/members", new JsonObject { ["member"] = demoProject }, HttpStatusCode.Conflict);
        var members2 = (await AdminAsync("image", "member", "list", imageId, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Single(members2);
        (await AdminAsync("image", "remove", "project", imageId, "demo")).EnsureSuccess();
        await demo.SendAsync(HttpMethod.Get, $"/image/v2/images/{imageId}", expect: HttpStatusCode.NotFound);
        (await AdminAsync("image", "set", "--private", imageId)).EnsureSuccess();
        await admin.SendAsync(HttpMethod.Post, $"/image/v2/images/{imageId}/members", new JsonObject { ["member"] = demoProject }, HttpStatusCode.Forbidden);
        Assert.Equal("member", (await admin.SendAsync(HttpMethod.Get, "/image/v2/schemas/member"))["name"]!.GetValue<string>());
    }
}
