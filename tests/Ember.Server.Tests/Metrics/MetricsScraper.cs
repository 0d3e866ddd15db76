using System.Net;
using System.Net.Http.Headers;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Metrics;

/// <summary>GET /metrics of a test host, once or until a condition holds.</summary>
public static class MetricsScraper
{
    /// <summary>GET /metrics with the given credentials (none, an X-Auth-Token, or a bearer token).</summary>
    public static async Task<(HttpStatusCode Status, string ContentType, string Body)> ScrapeAsync(EmberFixture ember, string? authToken = null, string? bearer = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (authToken is not null)
        {
            request.Headers.Add("X-Auth-Token", authToken);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await http.SendAsync(request);
        return (response.StatusCode, response.Content.Headers.ContentType?.ToString() ?? "", await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Scrapes until <paramref name="done"/> holds (the exporter's answer and the database counts are cached briefly),
    /// with the bearer token or else the admin's Keystone token.
    /// </summary>
    public static async Task<PrometheusText> ScrapeUntilAsync(EmberFixture ember, Func<PrometheusText, bool> done, string what, string? bearer = null)
    {
        var token = bearer is null ? await ember.TokenAsync("admin") : null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var (status, _, body) = await ScrapeAsync(ember, token, bearer);
            Assert.Equal(HttpStatusCode.OK, status);
            var text = PrometheusText.Parse(body);
            if (done(text))
            {
                return text;
            }

            Assert.True(DateTime.UtcNow < deadline, $"/metrics never showed {what}:\n{body}");
            await Task.Delay(200);
        }
    }
}
