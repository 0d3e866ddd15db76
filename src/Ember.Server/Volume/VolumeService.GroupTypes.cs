using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Volume;

// Group types and their group specs (cinder/volume/group_types.py). Only admins see private ones: Cinder has no API
// to give a project access to a private group type.
public sealed partial class VolumeService
{
    public static ApiException GroupTypeNotFound(string id) => ApiException.NotFound($"Group type with id {id} could not be found.");

    /// <summary>The group types' columns a list may sort on.</summary>
    private static readonly Dictionary<string, Func<GroupTypeRow, IComparable?>> s_groupTypeSortKeys = new(StringComparer.Ordinal)
    {
        ["id"] = t => t.Id,
        ["name"] = t => t.Name,
        ["description"] = t => t.Description,
        ["is_public"] = t => t.IsPublic,
        ["created_at"] = t => t.CreatedAt,
        ["updated_at"] = t => t.UpdatedAt,
    };

    /// <summary>
    /// The group types the caller may see, filtered by visibility (null: public and private, which only an admin may
    /// ask), sorted (default created_at desc, then id) and paged with marker, offset and limit.
    /// </summary>
    public async Task<IReadOnlyList<GroupTypeRow>> ListGroupTypesAsync(RequestContext ctx, bool? isPublic, PageRequest page)
    {
        IEnumerable<GroupTypeRow> types = await store.ListGroupTypesAsync();
        var visibility = ctx.IsCloudAdmin ? isPublic : true;
        if (visibility is { } wanted)
        {
            types = types.Where(t => t.IsPublic == wanted);
        }

        var keys = page.Sort.Count > 0 ? page.Sort : [new SortKey("created_at", true)];
        IOrderedEnumerable<GroupTypeRow>? sorted = null;
        foreach (var key in keys.Append(new SortKey("id", keys[^1].Descending)))
        {
            var by = s_groupTypeSortKeys.GetValueOrDefault(key.Key) ?? throw ApiException.BadRequest($"Invalid input received: Invalid sort key {key.Key}.");
            sorted = (sorted, key.Descending) switch
            {
                (null, false) => types.OrderBy(by),
                (null, true) => types.OrderByDescending(by),
                (_, false) => sorted.ThenBy(by),
                (_, true) => sorted.ThenByDescending(by),
            };
        }

        var list = sorted!.ToList();
        var start = 0;
        if (page.Marker is { } marker)
        {
            var at = list.FindIndex(t => t.Id == marker);
            start = at >= 0 ? at + 1 : throw ApiException.NotFound($"Marker {marker} could not be found.");
        }

        return [.. list.Skip(start + page.Offset).Take(page.Limit ?? int.MaxValue)];
    }

    /// <summary>A group type the caller may see; a private one is the admin's alone.</summary>
    public async Task<GroupTypeRow> FindGroupTypeAsync(RequestContext ctx, string id)
    {
        var type = await store.FindGroupTypeAsync(id);
        return type is not null && (type.IsPublic || ctx.IsCloudAdmin) ? type : throw GroupTypeNotFound(id);
    }

    public async Task<GroupTypeRow> CreateGroupTypeAsync(string name, string? description, bool isPublic, IReadOnlyDictionary<string, string> specs)
    {
        var now = Ids.Now();
        var row = new GroupTypeRow
        {
            Id = Ids.NewUuid(),
            Name = name,
            Description = description,
            IsPublic = isPublic,
            GroupSpecs = JsonOf(specs),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await store.InsertGroupTypeAsync(row);
        return row;
    }

    /// <summary>Name, description and visibility; what is not given stays.</summary>
    public async Task<GroupTypeRow> UpdateGroupTypeAsync(RequestContext ctx, string id, string? name, Optional<string?> description, bool? isPublic)
    {
        var type = await FindGroupTypeAsync(ctx, id);
        return await store.ChangeGroupTypeAsync(type.Id, current => current with
        {
            Name = name ?? current.Name,
            Description = description.Or(current.Description),
            IsPublic = isPublic ?? current.IsPublic,
        }) ?? throw GroupTypeNotFound(id);
    }

    /// <summary>Refused (400) while a group or group snapshot has the type, as Cinder's GroupTypeInUse.</summary>
    public async Task DeleteGroupTypeAsync(RequestContext ctx, string id)
    {
        var type = await FindGroupTypeAsync(ctx, id);
        var (deleted, inUse) = await store.DeleteGroupTypeAsync(type.Id);
        if (inUse)
        {
            throw ApiException.BadRequest($"Group Type {type.Id} deletion is not allowed with groups present with the type.");
        }

        if (!deleted)
        {
            throw GroupTypeNotFound(id);
        }
    }

    /// <summary>Sets the given group specs, keeping the others.</summary>
    public async Task SetGroupSpecsAsync(RequestContext ctx, string id, IReadOnlyDictionary<string, string> given)
    {
        var type = await FindGroupTypeAsync(ctx, id);
        _ = await store.ChangeGroupTypeAsync(type.Id, current =>
        {
            var specs = MapOf(current.GroupSpecs);
            foreach (var (key, value) in given)
            {
                specs[key] = value;
            }

            return current with { GroupSpecs = JsonOf(specs) };
        }) ?? throw GroupTypeNotFound(id);
    }

    /// <summary>Removes one group spec; one the type lacks is Cinder's 404.</summary>
    public async Task DeleteGroupSpecAsync(RequestContext ctx, string id, string key)
    {
        var type = await FindGroupTypeAsync(ctx, id);
        _ = await store.ChangeGroupTypeAsync(type.Id, current =>
        {
            var specs = MapOf(current.GroupSpecs);
            return specs.Remove(key) ? current with { GroupSpecs = JsonOf(specs) } : throw GroupSpecNotFound(type.Id, key);
        }) ?? throw GroupTypeNotFound(id);
    }

    public static ApiException GroupSpecNotFound(string id, string key) => ApiException.NotFound($"Group Type {id} has no specs with key {key}.");
}
