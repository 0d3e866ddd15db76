using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Compute;

/// <summary>The compute API's microversions: requests name one in OpenStack-API-Version or Nova's legacy header.</summary>
public static class ComputeVersion
{
    public static readonly Microversion Min = new(2, 1);

    /// <summary>
    /// The newest microversion Ember implements: 2.60 enables multi-attach volumes, 2.62 the hosts of instance action
    /// events, 2.64 server group policy/rules, 2.71 server_groups in show, 2.73 the lock's reason; docs/compute.md
    /// lists what each version above 2.73 changes, up to 2.100 (the maximum of Nova 2025.1 and 2025.2).
    /// </summary>
    public static readonly Microversion Max = new(2, 100);

    private const string LegacyHeader = "X-OpenStack-Nova-API-Version";
    private const string ItemKey = "ember.compute-version";

    /// <summary>The request's version (2.1 when it names none); 400 when malformed, 406 when out of range.</summary>
    public static Microversion Of(HttpContext http)
    {
        if (http.Items[ItemKey] is Microversion known)
        {
            return known;
        }

        var requested = Microversion.Requested(http.Request.Headers[Microversion.HeaderName], "compute")
            ?? http.Request.Headers[LegacyHeader].ToString().Trim();
        var version = Microversion.Parse(requested, Min, Max);
        http.Items[ItemKey] = version;
        return version;
    }

    /// <summary>Adds the version headers Nova sends on every versioned response, errors included.</summary>
    public static void Echo(HttpContext http)
    {
        Microversion version;
        try
        {
            version = Of(http);
        }
        catch (ApiException)
        {
            version = Min;
        }

        http.Response.Headers[Microversion.HeaderName] = $"compute {version}";
        http.Response.Headers[LegacyHeader] = version.ToString();
        http.Response.Headers.Vary = $"{Microversion.HeaderName}, {LegacyHeader}";
    }
}
