using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Dashboard;

/// <summary>
/// The browser's address on the dashboard's own API calls, so the identity API's per-address login budget counts the
/// browser and not the listener (every dashboard login would otherwise share one budget). The headers are believed only
/// with this process's random secret, which never leaves the process: a client that sends them itself is ignored.
/// </summary>
public static class DashboardForwarding
{
    public const string AddressHeader = "X-Ember-Dashboard-Client";
    public const string SecretHeader = "X-Ember-Dashboard-Secret";

    private static readonly string s_secret = Common.Ids.NewSecret();

    internal static void Add(HttpRequestMessage request, HttpContext browser)
    {
        request.Headers.Add(AddressHeader, browser.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        request.Headers.Add(SecretHeader, s_secret);
    }

    /// <summary>The browser's address when the request is the dashboard's own call, else the connection's.</summary>
    public static string ClientAddress(HttpContext http)
    {
        var secret = http.Request.Headers[SecretHeader].ToString();
        if (secret.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(s_secret))
            && IPAddress.TryParse(http.Request.Headers[AddressHeader].ToString(), out var browser))
        {
            return browser.ToString();
        }

        return http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
    }
}
