using System.Globalization;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Dashboard;

/// <summary>
/// The web dashboard under /dashboard: server-rendered pages over Ember's own APIs (see <see cref="CloudApi"/>), a session
/// cookie holding a random id, a CSRF token in every form, and the few static files it needs embedded in the binary.
/// </summary>
public static partial class DashboardApi
{
    public const string Prefix = "/dashboard";

    /// <summary>Longest value any form field may carry (names, ids, passwords): the rest is refused, not cut.</summary>
    internal const int MaxField = 255;

    public static IServiceCollection AddDashboard(this IServiceCollection services) =>
        services.AddSingleton<DashboardSessions>().AddSingleton<CloudApi>();

    public static void MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix, (Delegate)((HttpContext http) => Results.Redirect(Prefix + "/servers")));
        app.MapGet(Prefix + "/assets/{name}", (string name) => DashboardAssets.Serve(name));
        app.MapGet(Prefix + "/login", (Delegate)((HttpContext http) => LoginPage(http, error: null)));
        app.MapPost(Prefix + "/login", (Delegate)LoginAsync);
        app.MapPost(Prefix + "/logout", (Delegate)LogoutAsync);
        app.MapPost(Prefix + "/project", (Delegate)SwitchProjectAsync);
        MapServerPages(app);
        MapVolumePages(app);
        MapTopology(app);
        MapCatalogPages(app);
        MapHostPages(app);
    }

    /// <summary>GET / from a browser (it asks for text/html) goes to the dashboard; API clients asking JSON get the service list.</summary>
    public static bool WantsHtml(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        return accept.Contains("text/html", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Runs a page for a logged-in browser: no session (or a token the cloud no longer takes) goes to the login page,
    /// a POST without the session's CSRF token is refused, and an API error is shown with the API's message.
    /// </summary>
    private static async Task<IResult> WithSessionAsync(HttpContext http, Func<DashboardSession, Task<IResult>> page)
    {
        Html.SecurityHeaders(http.Response);
        var sessions = http.RequestServices.GetRequiredService<DashboardSessions>();
        var session = sessions.Find(http.Request.Cookies[DashboardSessions.CookieName]);
        if (session is null)
        {
            return HttpMethods.IsGet(http.Request.Method) ? Results.Redirect(Prefix + "/login") : Results.Text("Not logged in.", statusCode: 401);
        }

        if (!HttpMethods.IsGet(http.Request.Method))
        {
            var given = http.Request.HasFormContentType ? (await ReadFormAsync(http))["csrf"].ToString() : http.Request.Headers["X-CSRF-Token"].ToString();
            if (!DashboardSessions.CsrfMatches(session, given))
            {
                return Results.Text("The form is stale or did not come from this dashboard (CSRF token missing or wrong). Reload the page and try again.",
                    statusCode: 403);
            }
        }

        try
        {
            return await page(session);
        }
        catch (CloudApiException ex) when (ex.Status == 401)
        {
            sessions.Remove(session.Id);
            return Results.Redirect(Prefix + "/login");
        }
        catch (CloudApiException ex) when (HttpMethods.IsGet(http.Request.Method))
        {
            return Page(http, session, "Error", new Html().Raw("<p class=\"error\">").Text(ex.Message).Raw("</p>"), ex.Status);
        }
        catch (CloudApiException ex)
        {
            // A refused action: back to where the form was, with the API's message.
            sessions.Flash(session.Id, ex.Message);
            return Results.Redirect(BackTo(http));
        }
        catch (FormException ex)
        {
            sessions.Flash(session.Id, ex.Message);
            return Results.Redirect(BackTo(http));
        }
    }

    /// <summary>The page a POST came from: its own path's page (never an outside URL from the Referer).</summary>
    private static string BackTo(HttpContext http)
    {
        var path = http.Request.Path.Value ?? Prefix;
        var cut = path.LastIndexOf('/');
        return path.EndsWith("/action", StringComparison.Ordinal) || path.EndsWith("/attach", StringComparison.Ordinal) ? path[..cut] : path;
    }

    /// <summary>
    /// The form, read once and cached on the request (bounded by the host's body limit and FormOptions). A body that is not
    /// the form its content type says (a broken multipart, found by the API fuzzer) is the client's error, a 400.
    /// </summary>
    internal static async Task<IFormCollection> ReadFormAsync(HttpContext http)
    {
        if (!http.Request.HasFormContentType)
        {
            return FormCollection.Empty;
        }

        try
        {
            return await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException && !http.RequestAborted.IsCancellationRequested)
        {
            throw ApiException.BadRequest("The form could not be read: " + ex.Message);
        }
    }

    /// <summary>A required, bounded form field.</summary>
    internal static string Field(IFormCollection form, string name, string label)
    {
        var value = form[name].ToString().Trim();
        if (value.Length == 0)
        {
            throw new FormException($"{label} is required.");
        }

        return value.Length <= MaxField ? value : throw new FormException($"{label} is longer than {MaxField} characters.");
    }

    internal static string? OptionalField(IFormCollection form, string name, string label)
    {
        var value = form[name].ToString().Trim();
        return value.Length == 0 ? null : value.Length <= MaxField ? value : throw new FormException($"{label} is longer than {MaxField} characters.");
    }

    internal static int IntField(IFormCollection form, string name, string label, int min, int max) =>
        int.TryParse(Field(form, name, label), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new FormException($"{label} must be a whole number from {min} to {max}.");

    /// <summary>An id that goes into an API path: a UUID or a short name of safe characters, nothing that could change the path.</summary>
    internal static string PathId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && id is not "." and not ".."
            ? id
            : throw new FormException("Not a valid id.");

    private static IResult LoginPage(HttpContext http, string? error, int status = 200)
    {
        Html.SecurityHeaders(http.Response);
        var body = new Html().Raw("<main class=\"login\"><h1>Ember</h1>");
        if (error is not null)
        {
            body.Raw("<p class=\"error\" id=\"login-error\">").Text(error).Raw("</p>");
        }

        body.Raw("""
            <form method="post" action="/dashboard/login">
            <label>User <input name="user" required maxlength="255" autocomplete="username"></label>
            <label>Password <input name="password" type="password" required maxlength="255" autocomplete="current-password"></label>
            <label>Project <input name="project" required maxlength="255" value="admin"></label>
            <p class="hint">Domain: Default</p>
            <button id="login">Log in</button>
            </form></main>
            """);
        return Document("Log in", body.ToString(), status);
    }

    /// <summary>
    /// POST /dashboard/login: a project-scoped Keystone token for user/password/project (domain Default). Before a
    /// session exists there is no CSRF token: SameSite=Strict and the Origin check keep other sites from posting here.
    /// </summary>
    private static async Task<IResult> LoginAsync(HttpContext http)
    {
        if (!SameOrigin(http))
        {
            return LoginPage(http, "The login form must be posted from this dashboard.", 403);
        }

        var form = await ReadFormAsync(http);
        string user, password, project;
        try
        {
            user = Field(form, "user", "User");
            password = Field(form, "password", "Password");
            project = Field(form, "project", "Project");
        }
        catch (FormException ex)
        {
            return LoginPage(http, ex.Message, 400);
        }

        var body = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject
                {
                    ["methods"] = new JsonArray("password"),
                    ["password"] = new JsonObject
                    {
                        ["user"] = new JsonObject { ["name"] = user, ["domain"] = new JsonObject { ["id"] = "default" }, ["password"] = password },
                    },
                },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["name"] = project, ["domain"] = new JsonObject { ["id"] = "default" } } },
            },
        };
        try
        {
            await StartSessionAsync(http, body);
        }
        catch (CloudApiException ex)
        {
            return LoginPage(http, ex.Message, ex.Status is 401 or 403 or 400 or 429 ? ex.Status : 502);
        }

        return Results.Redirect(Prefix + "/servers");
    }

    /// <summary>Gets a token with <paramref name="authBody"/>, keeps it in a new session and sets the cookie.</summary>
    private static async Task<DashboardSession> StartSessionAsync(HttpContext http, JsonObject authBody)
    {
        var cloud = http.RequestServices.GetRequiredService<CloudApi>();
        using var reply = await cloud.SendRawAsync(http, HttpMethod.Post, "/identity/v3/auth/tokens?nocatalog", token: null, authBody);
        var token = reply.Headers.GetValues("X-Subject-Token").First();
        var parsed = JsonNode.Parse(await reply.Content.ReadAsStringAsync(http.RequestAborted))!["token"]!;
        var roles = parsed["roles"]!.AsArray().Select(r => (string?)r!["name"]).ToList();
        var expires = DateTime.Parse((string)parsed["expires_at"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        var session = http.RequestServices.GetRequiredService<DashboardSessions>().Create(token, (string)parsed["user"]!["id"]!, (string)parsed["user"]!["name"]!,
            (string)parsed["project"]!["id"]!, (string)parsed["project"]!["name"]!,
            (bool?)parsed["is_admin_project"] == true && roles.Contains("admin"), expires);
        http.Response.Cookies.Append(DashboardSessions.CookieName, session.Id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = http.Request.IsHttps,
            Path = Prefix,
            Expires = expires,
        });
        return session;
    }

    /// <summary>A POST without a session carries an Origin (browsers send it on POST) that must be this listener's.</summary>
    private static bool SameOrigin(HttpContext http)
    {
        var origin = http.Request.Headers.Origin.ToString();
        return origin.Length == 0 || Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Authority == http.Request.Host.Value;
    }

    /// <summary>POST /dashboard/logout: revokes the token (DELETE /v3/auth/tokens) and forgets the session.</summary>
    private static Task<IResult> LogoutAsync(HttpContext http) => WithSessionAsync(http, async session =>
    {
        // Forgotten before the token is revoked, so that a live view refused by the API from then on knows why.
        http.RequestServices.GetRequiredService<DashboardSessions>().Remove(session.Id);
        http.Response.Cookies.Delete(DashboardSessions.CookieName, new CookieOptions { Path = Prefix });
        await http.RequestServices.GetRequiredService<CloudApi>().SendAsync(http, HttpMethod.Delete, "/identity/v3/auth/tokens", session.Token,
            headers: new Dictionary<string, string> { ["X-Subject-Token"] = session.Token });

        return Results.Redirect(Prefix + "/login");
    });

    /// <summary>POST /dashboard/project: a token for another of the user's projects (rescoped from the current one).</summary>
    private static Task<IResult> SwitchProjectAsync(HttpContext http) => WithSessionAsync(http, async session =>
    {
        var project = PathId(Field(await ReadFormAsync(http), "project_id", "Project"));
        var body = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject { ["methods"] = new JsonArray("token"), ["token"] = new JsonObject { ["id"] = session.Token } },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["id"] = project } },
            },
        };
        await StartSessionAsync(http, body);
        http.RequestServices.GetRequiredService<DashboardSessions>().Remove(session.Id);
        return Results.Redirect(Prefix + "/servers");
    });

    /// <summary>A page in the dashboard's frame: navigation, project switcher, log-out, and the session's pending message.</summary>
    private static IResult Page(HttpContext http, DashboardSession session, string title, Html content, int status = 200)
    {
        var sessions = http.RequestServices.GetRequiredService<DashboardSessions>();
        var frame = new Html().Raw("<header><a class=\"brand\" href=\"/dashboard\">Ember</a><nav>");
        foreach (var (href, label) in new[] { ("servers", "Servers"), ("volumes", "Volumes"), ("topology", "Topology"), ("images", "Images"), ("flavors", "Flavors") })
        {
            frame.Raw("<a href=\"/dashboard/").Raw(href).Raw("\">").Raw(label).Raw("</a>");
        }

        if (session.IsCloudAdmin)
        {
            frame.Raw("<a href=\"/dashboard/hosts\" id=\"nav-hosts\">Hosts</a>");
        }

        frame.Raw("</nav><span class=\"who\">").Text(session.UserName).Raw(" @ ");
        frame.Raw("<a href=\"/dashboard/projects\" id=\"project-name\">").Text(session.ProjectName).Raw("</a>");
        if (session.IsCloudAdmin)
        {
            frame.Raw(" <span class=\"badge\">cloud admin</span>");
        }

        frame.Raw("</span>").Button(session, Prefix + "/logout", "Log out").Raw("</header><main>");
        if (sessions.TakeFlash(session.Id) is { } flash)
        {
            frame.Raw("<p class=\"error\" id=\"flash\">").Text(flash).Raw("</p>");
        }

        frame.Raw("<h1>").Text(title).Raw("</h1>").Raw(content.ToString()).Raw("</main>");
        return Document(title, frame.ToString(), status, session);
    }

    private static IResult Document(string title, string body, int status = 200, DashboardSession? session = null) =>
        Results.Content(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">"
            + (session is null ? "" : $"<meta name=\"csrf\" content=\"{Html.Encode(session.Csrf)}\">")
            + $"<title>{Html.Encode(title)} · Ember</title><link rel=\"stylesheet\" href=\"/dashboard/assets/dashboard.css\">"
            + "<script src=\"/dashboard/assets/dashboard.js\" defer></script></head><body>" + body + "</body></html>",
            "text/html; charset=utf-8", System.Text.Encoding.UTF8, status);
}

/// <summary>A form value the dashboard refuses before calling any API (missing, too long, not a number).</summary>
public sealed class FormException(string message) : Exception(message);
