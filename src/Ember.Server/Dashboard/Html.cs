using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Dashboard;

/// <summary>
/// A page being written: every value goes through <see cref="Text"/> (HTML-encoded); only the page's own markup is
/// appended raw. No inline script or style attribute: the Content-Security-Policy forbids them.
/// </summary>
public sealed class Html
{
    private readonly StringBuilder _out = new(8192);

    public static string Encode(string? value) => HtmlEncoder.Default.Encode(value ?? "");

    /// <summary>Appends trusted markup (the page's own tags).</summary>
    public Html Raw(string markup)
    {
        _out.Append(markup);
        return this;
    }

    /// <summary>Appends a value, encoded.</summary>
    public Html Text(string? value)
    {
        _out.Append(Encode(value));
        return this;
    }

    /// <summary>A hidden CSRF field: every form carries one.</summary>
    public Html Csrf(DashboardSession session) => Raw("<input type=\"hidden\" name=\"csrf\" value=\"").Text(session.Csrf).Raw("\">");

    /// <summary>A one-button form posting <paramref name="fields"/> to <paramref name="action"/>.</summary>
    public Html Button(DashboardSession session, string action, string label, params (string Name, string Value)[] fields)
    {
        Raw("<form class=\"inline\" method=\"post\" action=\"").Text(action).Raw("\">").Csrf(session);
        foreach (var (name, value) in fields)
        {
            Raw("<input type=\"hidden\" name=\"").Text(name).Raw("\" value=\"").Text(value).Raw("\">");
        }

        return Raw("<button>").Text(label).Raw("</button></form>");
    }

    public override string ToString() => _out.ToString();

    /// <summary>The Content-Security-Policy of every dashboard reply: own files only, no inline script, no framing.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    // xterm.js writes its theme into a <style> element it creates: style-src needs 'unsafe-inline' (scripts do not).

    public static void SecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "same-origin"; // "no-referrer" would make a browser send Origin: null on our own forms
        response.Headers.CacheControl = "no-store";
    }
}
