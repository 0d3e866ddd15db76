using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Dashboard;

/// <summary>The dashboard's pages over plain HTTP: login errors, CSRF, project scoping, HTML encoding, the / redirect.</summary>
public sealed partial class DashboardPageTests(EmberFixture fixture) : IClassFixture<EmberFixture>
{
    [Fact]
    public async Task Bad_credentials_show_the_identity_api_message_and_set_no_cookie()
    {
        using var browser = new Browser(fixture.BaseUrl);
        using var reply = await browser.PostFormAsync("/dashboard/login", new() { ["user"] = "admin", ["password"] = "wrong", ["project"] = "admin" });
        Assert.Equal(HttpStatusCode.Unauthorized, reply.StatusCode);
        var html = await reply.Content.ReadAsStringAsync();
        Assert.Contains("id=\"login-error\"", html, StringComparison.Ordinal);
        Assert.Contains("The request you have made requires authentication.", html, StringComparison.Ordinal);
        Assert.Empty(browser.Cookies.GetCookies(new Uri(fixture.BaseUrl + "/dashboard/")));
    }

    [Fact]
    public async Task A_login_cookie_is_http_only_strict_and_holds_no_token()
    {
        using var browser = new Browser(fixture.BaseUrl);
        using var reply = await browser.PostFormAsync("/dashboard/login",
            new() { ["user"] = "admin", ["password"] = EmberFixture.AdminPassword, ["project"] = "admin" });
        Assert.Equal(HttpStatusCode.Redirect, reply.StatusCode);
        var header = Assert.Single(reply.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", header, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", header, StringComparison.OrdinalIgnoreCase);
        // The session id is random: the API does not take it as a token.
        var id = browser.Cookies.GetCookies(new Uri(fixture.BaseUrl + "/dashboard/"))["ember_session"]!.Value;
        using var api = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.BaseUrl + "/volume/v3/volumes");
        request.Headers.Add("X-Auth-Token", id);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.SendAsync(request)).StatusCode);

        var page = await browser.GetAsync("/dashboard/volumes");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("script-src 'self'", page.Csp, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing()
    {
        using var browser = await Browser.LoginAsync(fixture.BaseUrl, "admin", EmberFixture.AdminPassword, "admin");
        var name = "csrf-" + Guid.NewGuid().ToString("N")[..8];
        using (var none = await browser.PostFormAsync("/dashboard/volumes", new() { ["name"] = name, ["size"] = "1" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, none.StatusCode);
        }

        using (var wrong = await browser.PostFormAsync("/dashboard/volumes", new() { ["name"] = name, ["size"] = "1", ["csrf"] = "not-the-token" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        }

        Assert.DoesNotContain(name, (await browser.GetAsync("/dashboard/volumes")).Html, StringComparison.Ordinal);

        // With the token the same form creates the volume.
        using var ok = await browser.PostFormAsync("/dashboard/volumes", new() { ["name"] = name, ["size"] = "1", ["csrf"] = await browser.CsrfAsync() });
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Contains(name, (await browser.GetAsync("/dashboard/volumes")).Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_member_cannot_see_another_projects_volume()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var name = "admin-only-" + Guid.NewGuid().ToString("N")[..8];
        var id = (await admin.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["name"] = name, ["size"] = 1 } },
            HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();

        using var demo = await Browser.LoginAsync(fixture.BaseUrl, "demo", EmberFixture.DemoPassword, "demo");
        Assert.DoesNotContain(name, (await demo.GetAsync("/dashboard/volumes")).Html, StringComparison.Ordinal);
        Assert.DoesNotContain(name, (await demo.GetAsync("/dashboard/topology.json")).Html, StringComparison.Ordinal);
        var page = await demo.GetAsync("/dashboard/volumes/" + id);
        Assert.Equal(HttpStatusCode.NotFound, page.Status);
        Assert.Contains($"Volume {id} could not be found.", page.Html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await demo.GetAsync($"/dashboard/volumes/{id}/io")).Status);

        // The cloud admin sees it, with its project.
        using var root = await Browser.LoginAsync(fixture.BaseUrl, "admin", EmberFixture.AdminPassword, "admin");
        Assert.Contains(name, (await root.GetAsync("/dashboard/volumes")).Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hostile_volume_name_is_html_encoded_on_every_page()
    {
        using var browser = await Browser.LoginAsync(fixture.BaseUrl, "admin", EmberFixture.AdminPassword, "admin");
        const string hostile = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
        using var created = await browser.PostFormAsync("/dashboard/volumes", new() { ["name"] = hostile, ["size"] = "1", ["csrf"] = await browser.CsrfAsync() });
        Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
        var detail = await browser.GetAsync(created.Headers.Location!.OriginalString);
        foreach (var html in new[] { detail.Html, (await browser.GetAsync("/dashboard/volumes")).Html })
        {
            Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
            Assert.Contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Logout_ends_the_session_and_revokes_its_token()
    {
        using var browser = await Browser.LoginAsync(fixture.BaseUrl, "admin", EmberFixture.AdminPassword, "admin");
        using var logout = await browser.PostFormAsync("/dashboard/logout", new() { ["csrf"] = await browser.CsrfAsync() });
        Assert.Equal("/dashboard/login", logout.Headers.Location!.OriginalString);
        var after = await browser.GetAsync("/dashboard/servers");
        Assert.Equal(HttpStatusCode.Redirect, after.Status);
    }

    [Fact]
    public async Task Slash_redirects_a_browser_and_keeps_the_json_answer_for_api_clients()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(fixture.BaseUrl) };
        using var html = new HttpRequestMessage(HttpMethod.Get, "/");
        html.Headers.Add("Accept", "text/html,application/xhtml+xml");
        using var redirect = await http.SendAsync(html);
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/dashboard", redirect.Headers.Location!.OriginalString);

        var json = JsonNode.Parse(await http.GetStringAsync("/"))!;
        Assert.Equal("ember", json["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_page_renders_for_an_admin_and_a_member()
    {
        foreach (var (user, password) in new[] { ("admin", EmberFixture.AdminPassword), ("demo", EmberFixture.DemoPassword) })
        {
            using var browser = await Browser.LoginAsync(fixture.BaseUrl, user, password, user);
            foreach (var page in new[] { "servers", "servers/new", "volumes", "topology", "images", "flavors", "projects" })
            {
                var reply = await browser.GetAsync("/dashboard/" + page);
                Assert.True(reply.Status == HttpStatusCode.OK, $"{user} {page}: {reply.Status} {reply.Html}");
                Assert.Contains("<h1>", reply.Html, StringComparison.Ordinal);
            }
        }

        using var assets = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        Assert.Contains("Terminal", await assets.GetStringAsync("/dashboard/assets/xterm.js"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_page_shows_the_action_log_and_its_lock_button_adds_to_it()
    {
        // A flavor no host can hold: the server goes ERROR at once, its create action failed, and no VM is needed.
        using var admin = new ApiClient(await fixture.ClientAsync());
        var flavor = "huge-" + Guid.NewGuid().ToString("N")[..8];
        await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = flavor, ["id"] = flavor, ["ram"] = 64 * 1024 * 1024, ["vcpus"] = 1, ["disk"] = 0 } });
        var image = (await admin.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = flavor, ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        using (var upload = new HttpRequestMessage(HttpMethod.Put, $"/image/v2/images/{image}/file") { Content = new ByteArrayContent(new byte[4096]) })
        {
            upload.Content.Headers.ContentType = new("application/octet-stream");
            using var uploaded = await admin.Http.SendAsync(upload);
            Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
        }

        var server = (await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            new JsonObject { ["server"] = new JsonObject { ["name"] = "logged", ["imageRef"] = image, ["flavorRef"] = flavor } },
            HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();

        using var browser = await Browser.LoginAsync(fixture.BaseUrl, "admin", EmberFixture.AdminPassword, "admin");
        using (var locked = await browser.PostFormAsync($"/dashboard/servers/{server}/action", new() { ["op"] = "lock", ["csrf"] = await browser.CsrfAsync() }))
        {
            Assert.Equal(HttpStatusCode.Redirect, locked.StatusCode);
        }

        var page = (await browser.GetAsync($"/dashboard/servers/{server}")).Html;
        var log = page[page.IndexOf("<table id=\"actions\">", StringComparison.Ordinal)..];
        Assert.Matches(new Regex("<td>lock</td>.*<td>create</td>.*<td>Error</td>", RegexOptions.Singleline), log);
        await admin.SendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);
        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task A_broken_multipart_form_is_a_400_not_a_server_error()
    {
        // Found by the API fuzzer (seed 20261130): a multipart content type over a body that is no multipart.
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        foreach (var body in new[] { "-0.5", new string('[', 200) + new string(']', 200) })
        {
            using var content = new StringContent(body);
            content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
            using var reply = await http.PostAsync("/dashboard/login", content);
            Assert.Equal(HttpStatusCode.BadRequest, reply.StatusCode);
            Assert.Contains("The form could not be read", await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_forwarded_browser_address_is_believed_only_with_the_processes_secret()
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7");
        http.Request.Headers[Ember.Server.Dashboard.DashboardForwarding.AddressHeader] = "198.51.100.9";
        http.Request.Headers[Ember.Server.Dashboard.DashboardForwarding.SecretHeader] = "guessed";
        Assert.Equal("192.0.2.7", Ember.Server.Dashboard.DashboardForwarding.ClientAddress(http));

        using var request = new HttpRequestMessage();
        var browser = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        browser.Connection.RemoteIpAddress = IPAddress.Parse("198.51.100.9");
        Ember.Server.Dashboard.DashboardForwarding.Add(request, browser);
        http.Request.Headers[Ember.Server.Dashboard.DashboardForwarding.SecretHeader] = request.Headers.GetValues(Ember.Server.Dashboard.DashboardForwarding.SecretHeader).Single();
        Assert.Equal("198.51.100.9", Ember.Server.Dashboard.DashboardForwarding.ClientAddress(http));
    }

    /// <summary>A cookie-keeping client that does not follow redirects, as a test sees a browser's requests.</summary>
    private sealed partial class Browser : IDisposable
    {
        private readonly HttpClient _http;

        public Browser(string baseUrl)
        {
            _http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { BaseAddress = new Uri(baseUrl) };
            _http.DefaultRequestHeaders.Add("Accept", "text/html");
        }

        public CookieContainer Cookies { get; } = new();

        public static async Task<Browser> LoginAsync(string baseUrl, string user, string password, string project)
        {
            var browser = new Browser(baseUrl);
            using var reply = await browser.PostFormAsync("/dashboard/login", new() { ["user"] = user, ["password"] = password, ["project"] = project });
            Assert.Equal(HttpStatusCode.Redirect, reply.StatusCode);
            return browser;
        }

        public Task<HttpResponseMessage> PostFormAsync(string path, Dictionary<string, string> fields) =>
            _http.PostAsync(path, new FormUrlEncodedContent(fields));

        public async Task<(HttpStatusCode Status, string Html, string Csp)> GetAsync(string path)
        {
            using var reply = await _http.GetAsync(path);
            return (reply.StatusCode, await reply.Content.ReadAsStringAsync(),
                reply.Headers.TryGetValues("Content-Security-Policy", out var csp) ? string.Join(";", csp) : "");
        }

        public async Task<string> CsrfAsync() => CsrfField().Match((await GetAsync("/dashboard/servers")).Html).Groups[1].Value;

        [GeneratedRegex("<meta name=\"csrf\" content=\"([^\"]+)\"")]
        private static partial Regex CsrfField();

        public void Dispose() => _http.Dispose();
    }
}
