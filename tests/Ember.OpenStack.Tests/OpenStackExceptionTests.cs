using System.Net;
using System.Text;

namespace Ember.OpenStack.Tests;

/// <summary>One reader for the error bodies of every service the clients talk to.</summary>
public sealed class OpenStackExceptionTests
{
    [Theory]
    [InlineData("{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \"message\": \"Bad password.\"}}", "application/json", "Bad password.")] // Keystone
    [InlineData("{\"itemNotFound\": {\"code\": 404, \"message\": \"Server x could not be found.\"}}", "application/json", "Server x could not be found.")] // Nova, Cinder
    [InlineData("{\"badRequest\": {\"code\": 400, \"message\": \"Invalid volume size.\"}}", "application/json", "Invalid volume size.")]
    [InlineData("{\"message\": \"No image found with ID i\", \"code\": \"404 Not Found\", \"title\": \"Not Found\"}", "application/json", "No image found with ID i")] // Glance
    [InlineData("404 Not Found\n\nNo image found with ID i\n\n", "text/plain", "404 Not Found\n\nNo image found with ID i")] // Glance, plain
    [InlineData("", "text/plain", "Not Found")]
    public async Task Every_services_error_shape_gives_its_status_and_message(string body, string mediaType, string message)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
        response.Headers.Add("x-openstack-request-id", "req-1");

        var error = await OpenStackException.ReadAsync(response, default);

        Assert.Equal(404, error.StatusCode);
        Assert.Equal(message, error.ApiMessage);
        Assert.Equal("req-1", error.RequestId);
        Assert.Equal($"{message} (HTTP 404) (Request-ID: req-1)", error.Message);
    }

    [Fact]
    public void Novas_own_request_id_header_is_read_too()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.Conflict);
        response.Headers.Add("x-compute-request-id", "req-c");
        Assert.Equal("req-c", OpenStackException.From(response, null).RequestId);
    }
}
