using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Compute;

/// <summary>
/// The list filters of GET /servers beyond name and status: flavor, image, host (admins), changes-since and (2.66)
/// changes-before, tags (2.26: tags, tags-any, not-tags, not-tags-any) and (2.73) locked.
/// </summary>
internal sealed class ServerListFilter
{
    private string? _flavor;
    private string? _image;
    private string? _host;
    private DateTime? _changesSince;
    private DateTime? _changesBefore;
    private bool? _locked;
    private string[]? _allTags;
    private string[]? _anyTags;
    private string[]? _notAllTags;
    private string[]? _notAnyTags;
    private ILookup<string, string>? _tags;

    public static async Task<ServerListFilter> ParseAsync(IQueryCollection query, RequestContext context, Microversion version, ComputeStore store)
    {
        var filter = new ServerListFilter
        {
            _flavor = Value(query, "flavor"),
            _image = Value(query, "image"),
            // Nova drops host for anyone but an admin.
            _host = context.IsCloudAdmin ? Value(query, "host") : null,
            _changesSince = Time(query, "changes-since"),
            _changesBefore = version.AtLeast(66) ? Time(query, "changes-before") : null,
        };
        if (filter._changesSince is { } since && filter._changesBefore is { } before && since > before)
        {
            throw ApiException.BadRequest($"The value of changes-since must be less than or equal to changes-before.");
        }

        if (version.AtLeast(73) && Value(query, "locked") is { } locked)
        {
            filter._locked = Json.ParseBoolean(locked) ?? throw ApiException.BadRequest($"Invalid input for query parameters locked. Value: {locked}. Unrecognized value '{locked}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'");
        }

        if (version.AtLeast(26))
        {
            filter._allTags = Tags(query, "tags");
            filter._anyTags = Tags(query, "tags-any");
            filter._notAllTags = Tags(query, "not-tags");
            filter._notAnyTags = Tags(query, "not-tags-any");
            if ((filter._allTags ?? filter._anyTags ?? filter._notAllTags ?? filter._notAnyTags) is not null)
            {
                filter._tags = await store.ListAllTagsAsync();
            }
        }

        return filter;
    }

    public bool Matches(ServerRow server)
    {
        if ((_flavor is not null && server.FlavorId != _flavor)
            || (_image is not null && server.ImageId != _image)
            || (_host is not null && server.Host != _host)
            || (_changesSince is { } since && server.UpdatedAt < since)
            || (_changesBefore is { } before && server.UpdatedAt > before)
            || (_locked is { } locked && server.Locked != locked))
        {
            return false;
        }

        if (_tags is null)
        {
            return true;
        }

        var tags = _tags[server.Id].ToHashSet(StringComparer.Ordinal);
        return (_allTags is null || _allTags.All(tags.Contains))
            && (_anyTags is null || _anyTags.Any(tags.Contains))
            && (_notAllTags is null || !_notAllTags.All(tags.Contains))
            && (_notAnyTags is null || !_notAnyTags.Any(tags.Contains));
    }

    private static string? Value(IQueryCollection query, string name) => query[name] is { Count: > 0 } v ? v.ToString() : null;

    private static string[]? Tags(IQueryCollection query, string name) =>
        Value(query, name) is { } text ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;

    private static DateTime? Time(IQueryCollection query, string name) => ComputeApi.ChangesTime(query, name);
}
