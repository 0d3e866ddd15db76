using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Dashboard;

/// <summary>The dashboard's pages over SQLite.</summary>
public sealed class DashboardPageTests(EmberFixture fixture) : DashboardPageCases(fixture), IClassFixture<EmberFixture>;

/// <summary>The same pages over PostgreSQL, whose list queries and time types differ.</summary>
public sealed class PostgresDashboardPageTests(PostgresEmberFixture fixture) : DashboardPageCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>The dashboard's pages over plain HTTP: login errors, CSRF, project scoping, HTML encoding, the / redirect.</summary>
public abstract partial class DashboardPageCases(EmberFixture fixture)
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
    public async Task A_member_uploads_an_image_that_becomes_active_with_its_size_and_checksum()
    {
        using var browser = await Browser.LoginAsync(fixture.BaseUrl, "demo", EmberFixture.DemoPassword, "demo");
        var csrf = await browser.CsrfAsync();
        Assert.Contains("id=\"upload-image\"", (await browser.GetAsync("/dashboard/images")).Html, StringComparison.Ordinal);
        var name = "upload-" + Guid.NewGuid().ToString("N")[..8];
        using var created = await browser.PostFormAsync("/dashboard/images",
            new() { ["name"] = name, ["disk_format"] = "raw", ["visibility"] = "private", ["csrf"] = csrf });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var reply = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        var id = reply["id"]!.GetValue<string>();
        var file = reply["file"]!.GetValue<string>();
        Assert.Equal($"/dashboard/images/{id}/file", file);

        // Larger than the JSON body cap (1 MiB): the pipeline gives the dashboard's upload route the image size cap.
        var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(3 * 1024 * 1024 / 2);
        using (var noToken = await browser.PutAsync(file, data, csrf: null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, noToken.StatusCode);
        }

        using (var uploaded = await browser.PutAsync(file, data, csrf))
        {
            Assert.Equal(HttpStatusCode.OK, uploaded.StatusCode);
            var image = JsonNode.Parse(await uploaded.Content.ReadAsStringAsync())!;
            Assert.Equal("active", image["status"]!.GetValue<string>());
            Assert.Equal(data.Length, image["size"]!.GetValue<long>());
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(data)), image["checksum"]!.GetValue<string>());
        }

        // The Image API holds the same bytes, and a second upload is refused with Glance's own message.
        using var admin = new ApiClient(await fixture.ClientAsync());
        var stored = await admin.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}");
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA512.HashData(data)), stored["os_hash_value"]!.GetValue<string>());
        using (var again = await browser.PutAsync(file, data, csrf))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            Assert.Equal("Image status transition from active to saving is not allowed",
                JsonNode.Parse(await again.Content.ReadAsStringAsync())!["message"]!.GetValue<string>());
        }

        var page = (await browser.GetAsync("/dashboard/images")).Html;
        Assert.Matches(new Regex($"<td>{name}</td><td>active</td>"), page);
        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{id}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task The_hosts_page_shows_each_compute_host_to_an_admin_and_is_a_403_for_a_member()
    {
        using var api = new ApiClient(await fixture.ClientAsync());
        var hypervisors = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/detail", apiVersion: ApiClient.Compute260))["hypervisors"]!.AsArray();
        Assert.NotEmpty(hypervisors);

        using var admin = await Browser.LoginAsync(fixture.BaseUrl, "admin", EmberFixture.AdminPassword, "admin");
        var page = await admin.GetAsync("/dashboard/hosts");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Contains("id=\"nav-hosts\"", page.Html, StringComparison.Ordinal);
        foreach (var h in hypervisors)
        {
            var host = h!["service"]!["host"]!.GetValue<string>();
            var row = new Regex($"<tr data-host=\"{Regex.Escape(host)}\">(.*?)</tr>").Match(page.Html);
            Assert.True(row.Success, $"no row for {host}: {page.Html}");
            var cells = Regex.Matches(row.Groups[1].Value, "<td[^>]*>([^<]*)</td>").Select(m => m.Groups[1].Value).ToList();
            Assert.Equal([host, $"{h["state"]}", $"{h["status"]}", $"{h["running_vms"]}", $"{h["vcpus_used"]} / {h["vcpus"]}", $"{h["memory_mb_used"]} / {h["memory_mb"]} MiB"], cells[..6]);
            Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", cells[6]); // the service's last heartbeat
        }

        using var member = await Browser.LoginAsync(fixture.BaseUrl, "demo", EmberFixture.DemoPassword, "demo");
        var refused = await member.GetAsync("/dashboard/hosts");
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("<h1>Error</h1>", refused.Html, StringComparison.Ordinal);
        Assert.Contains("os_compute_api:os-hypervisors", refused.Html, StringComparison.Ordinal); // the API's own message
        Assert.DoesNotContain("nav-hosts", refused.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("nav-hosts", (await member.GetAsync("/dashboard/servers")).Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Topology_events_push_changes_are_capped_per_session_and_end_with_the_session()
    {
        using var browser = await Browser.LoginAsync(fixture.BaseUrl, "demo", EmberFixture.DemoPassword, "demo");
        var csrf = await browser.CsrfAsync();
        var first = "sse-" + Guid.NewGuid().ToString("N")[..8];
        using (await browser.PostFormAsync("/dashboard/volumes", new() { ["name"] = first, ["size"] = "1", ["csrf"] = csrf }))
        {
        }

        using var events = await browser.OpenEventsAsync("/dashboard/topology/events");
        var topology = await events.NextDataAsync(t => Names(t).Contains(first));

        // A change is pushed without the page asking again.
        var second = "sse-" + Guid.NewGuid().ToString("N")[..8];
        using (await browser.PostFormAsync("/dashboard/volumes", new() { ["name"] = second, ["size"] = "1", ["csrf"] = csrf }))
        {
        }

        topology = await events.NextDataAsync(t => Names(t).Contains(second));
        Assert.Contains(first, Names(topology));

        // Four streams per session; the fifth is refused (the page polls instead) until one closes.
        var more = new List<EventReader>();
        for (var i = 1; i < Ember.Server.Dashboard.DashboardSessions.MaxStreamsPerSession; i++)
        {
            more.Add(await browser.OpenEventsAsync("/dashboard/topology/events"));
        }

        using (var refused = await browser.SendAsync(HttpMethod.Get, "/dashboard/topology/events"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        more[0].Dispose();
        more[0] = await OpenWhenFreedAsync(browser);

        // Logging out ends every stream of the session: an "end" event, then the server closes it.
        using (var logout = await browser.PostFormAsync("/dashboard/logout", new() { ["csrf"] = csrf }))
        {
            Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        }

        foreach (var stream in more.Prepend(events))
        {
            Assert.Equal("the session ended", await stream.NextEventAsync("end"));
            Assert.Null(await stream.NextEventAsync(null));
            stream.Dispose();
        }

        static List<string> Names(JsonNode t) => [.. t["volumes"]!.AsArray().Select(v => v!["name"]?.GetValue<string>() ?? "")];
    }

    /// <summary>The server frees a closed stream's slot when it notices the browser went (its next write): retry until then.</summary>
    private static async Task<EventReader> OpenWhenFreedAsync(Browser browser)
    {
        for (var attempt = 0; ; attempt++)
        {
            var reply = await browser.SendAsync(HttpMethod.Get, "/dashboard/topology/events", HttpCompletionOption.ResponseHeadersRead);
            if (reply.StatusCode == HttpStatusCode.OK)
            {
                return await EventReader.OpenAsync(reply);
            }

            reply.Dispose();
            Assert.True(attempt < 100, "the closed stream's slot was never freed");
            await Task.Delay(500);
        }
    }

    [Fact]
    public async Task Volume_io_events_push_the_counters_to_whoever_may_see_the_volume()
    {
        using var admin = await Browser.LoginAsync(fixture.BaseUrl, "admin", EmberFixture.AdminPassword, "admin");
        using var created = await admin.PostFormAsync("/dashboard/volumes",
            new() { ["name"] = "io-events", ["size"] = "1", ["csrf"] = await admin.CsrfAsync() });
        var id = created.Headers.Location!.OriginalString.Split('/')[^1];

        using var events = await admin.OpenEventsAsync($"/dashboard/volumes/{id}/io/events");
        var one = await events.NextDataAsync(_ => true);
        var two = await events.NextDataAsync(_ => true);
        Assert.Empty(one["attachments"]!.AsArray()); // not attached: no NBD export
        Assert.True(DateTime.Parse(two["at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
            > DateTime.Parse(one["at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)); // pushed again, not one reply

        // A member of another project gets the volume API's 404 and no stream.
        using var demo = await Browser.LoginAsync(fixture.BaseUrl, "demo", EmberFixture.DemoPassword, "demo");
        using var refused = await demo.SendAsync(HttpMethod.Get, $"/dashboard/volumes/{id}/io/events");
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.StartsWith("text/html", refused.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
    }

    /// <summary>A Server-Sent Events stream read line by line over the real socket, each read bounded.</summary>
    private sealed class EventReader : IDisposable
    {
        private readonly HttpResponseMessage _reply;
        private readonly StreamReader _reader;

        private EventReader(HttpResponseMessage reply, Stream body)
        {
            _reply = reply;
            _reader = new StreamReader(body);
        }

        public static async Task<EventReader> OpenAsync(HttpResponseMessage reply)
        {
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
            Assert.Equal("text/event-stream", reply.Content.Headers.ContentType!.MediaType);
            return new EventReader(reply, await reply.Content.ReadAsStreamAsync());
        }

        /// <summary>The data of the next event of <paramref name="type"/> (null: a data event), or null at the end of the stream.</summary>
        public async Task<string?> NextEventAsync(string? type)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            string? kind = null;
            var data = new StringBuilder();
            while (await _reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0 && kind == type)
                    {
                        return data.ToString();
                    }

                    (kind, data) = (null, new StringBuilder());
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    kind = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Append(line["data: ".Length..]);
                }
            }

            return null;
        }

        /// <summary>The next data event whose JSON satisfies <paramref name="wanted"/>.</summary>
        public async Task<JsonNode> NextDataAsync(Func<JsonNode, bool> wanted)
        {
            while (true)
            {
                var data = await NextEventAsync(null) ?? throw new Xunit.Sdk.XunitException("the stream ended");
                var json = JsonNode.Parse(data)!;
                if (wanted(json))
                {
                    return json;
                }
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _reply.Dispose();
        }
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

        public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead) =>
            _http.SendAsync(new HttpRequestMessage(method, path), completion);

        public async Task<EventReader> OpenEventsAsync(string path) =>
            await EventReader.OpenAsync(await SendAsync(HttpMethod.Get, path, HttpCompletionOption.ResponseHeadersRead));

        /// <summary>A PUT of raw bytes as the page's script sends it, with the CSRF token in its header.</summary>
        public Task<HttpResponseMessage> PutAsync(string path, byte[] body, string? csrf)
        {
            var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/octet-stream");
            if (csrf is not null)
            {
                request.Headers.Add("X-CSRF-Token", csrf);
            }

            return _http.SendAsync(request);
        }

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
