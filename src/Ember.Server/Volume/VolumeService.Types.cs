using Ember.Server.Common;

namespace Ember.Server.Volume;

// Volume types and their extra specs (types_manage.py, types_extra_specs.py); quotas (contrib/quotas.py).
public sealed partial class VolumeService
{
    public static ApiException TypeNotFound(string id) => ApiException.NotFound($"Volume type {id} could not be found.");

    /// <summary>The types the caller may see: public ones, private ones its project was given access to, and all for admins.</summary>
    public async Task<IEnumerable<VolumeTypeRow>> ListTypesAsync(RequestContext ctx)
    {
        var types = await store.ListTypesAsync();
        if (ctx.IsCloudAdmin)
        {
            return types;
        }

        var granted = ctx.ProjectId is { } project ? await store.TypesAccessibleToAsync(project) : new HashSet<string>();
        return types.Where(t => t.IsPublic || granted.Contains(t.Id));
    }

    /// <summary>A visible type by id or name; "default" is the default type.</summary>
    public async Task<VolumeTypeRow> FindVisibleTypeAsync(RequestContext ctx, string id)
    {
        if (id == "default")
        {
            return await DefaultTypeAsync(ctx.ProjectId);
        }

        var type = await store.FindTypeAsync(id);
        return type is not null && await MayUseAsync(ctx, type) ? type : throw TypeNotFound(id);
    }

    /// <summary>Public types are everyone's; a private one is the cloud admin's and the projects given access to it.</summary>
    private async Task<bool> MayUseAsync(RequestContext ctx, VolumeTypeRow type) =>
        type.IsPublic || ctx.IsCloudAdmin || ctx.ProjectId is { } project && (await store.TypesAccessibleToAsync(project)).Contains(type.Id);

    /// <summary>The projects given access to a private type (os-volume-type-access); a public type has no list (Cinder's 404).</summary>
    public async Task<(string TypeId, IReadOnlyList<string> Projects)> ListTypeAccessAsync(RequestContext ctx, string id)
    {
        var type = await FindVisibleTypeAsync(ctx, id);
        return type.IsPublic
            ? throw ApiException.NotFound("Access list not available for public volume types.")
            : (type.Id, await store.ListTypeAccessAsync(type.Id));
    }

    /// <summary>addProjectAccess: a private type only; twice is Cinder's 409.</summary>
    public async Task AddTypeAccessAsync(RequestContext ctx, string id, string project)
    {
        var type = await PrivateTypeAsync(ctx, id);
        if (!await store.AddTypeAccessAsync(type.Id, project))
        {
            throw ApiException.Conflict($"Volume type access for {type.Id} / {project} combination already exists.");
        }
    }

    /// <summary>removeProjectAccess: access that was never given is Cinder's 404.</summary>
    public async Task RemoveTypeAccessAsync(RequestContext ctx, string id, string project)
    {
        var type = await PrivateTypeAsync(ctx, id);
        if (!await store.RemoveTypeAccessAsync(type.Id, project))
        {
            throw ApiException.NotFound($"Volume type access not found for {type.Id} / {project} combination.");
        }
    }

    private async Task<VolumeTypeRow> PrivateTypeAsync(RequestContext ctx, string id)
    {
        var type = await FindVisibleTypeAsync(ctx, id);
        return type.IsPublic
            ? throw ApiException.BadRequest("Invalid volume type: Type access modification is not applicable to public volume type.")
            : type;
    }

    public async Task<VolumeTypeRow> CreateTypeAsync(string name, string? description, bool isPublic, IReadOnlyDictionary<string, string> specs)
    {
        ValidateSpecs(specs);
        var now = Ids.Now();
        var row = new VolumeTypeRow
        {
            Id = Ids.NewUuid(),
            Name = name,
            Description = description,
            IsPublic = isPublic,
            ExtraSpecs = JsonOf(specs),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await store.InsertTypeAsync(row);
        return row;
    }

    /// <summary>Name, description and visibility of a type; what is not given stays. The default type keeps its name.</summary>
    public async Task<VolumeTypeRow> UpdateTypeAsync(RequestContext ctx, string id, Optional<string> name, Optional<string?> description, bool? isPublic)
    {
        var type = await FindVisibleTypeAsync(ctx, id);
        return await store.ChangeTypeAsync(type.Id, current =>
        {
            if (current.Name == DefaultTypeName && name.IsGiven && name.Value != current.Name)
            {
                throw ApiException.BadRequest($"The name of the default volume type {DefaultTypeName} cannot be changed.");
            }

            return current with { Name = name.Or(current.Name), Description = description.Or(current.Description), IsPublic = isPublic ?? current.IsPublic };
        }) ?? throw TypeNotFound(id);
    }

    /// <summary>Refused for the default type and for a type still in use.</summary>
    public async Task DeleteTypeAsync(RequestContext ctx, string id)
    {
        var type = await FindVisibleTypeAsync(ctx, id);
        if (type.Name == DefaultTypeName)
        {
            throw ApiException.BadRequest("Default volume type can not be deleted.");
        }

        if ((await store.ListDefaultTypesAsync(type.Id)).Count > 0)
        {
            throw ApiException.BadRequest($"The volume type {type.Id} is the default volume type of a project and cannot be deleted.");
        }

        if (!await store.DeleteTypeAsync(type.Id))
        {
            throw ApiException.BadRequest("Target volume type is still in use.");
        }
    }

    /// <summary>Sets the given extra specs, keeping the others; read, changed and written in one transaction.</summary>
    public async Task SetExtraSpecsAsync(RequestContext ctx, string id, IReadOnlyDictionary<string, string> given)
    {
        ValidateSpecs(given);
        await ChangeExtraSpecsAsync(ctx, id, (_, specs) =>
        {
            foreach (var (k, v) in given)
            {
                specs[k] = v;
            }
        });
    }

    public Task DeleteExtraSpecAsync(RequestContext ctx, string id, string key) =>
        ChangeExtraSpecsAsync(ctx, id, (type, specs) =>
        {
            if (!specs.Remove(key))
            {
                throw ApiException.NotFound($"Volume Type {type.Id} has no extra specs with key {key}.");
            }
        });

    private async Task ChangeExtraSpecsAsync(RequestContext ctx, string id, Action<VolumeTypeRow, Dictionary<string, string>> change)
    {
        var type = await FindVisibleTypeAsync(ctx, id);
        _ = await store.ChangeTypeAsync(type.Id, current =>
        {
            var specs = SpecsOf(current);
            change(current, specs);
            return current with { ExtraSpecs = JsonOf(specs) };
        }) ?? throw TypeNotFound(id);
    }

    /// <summary>The Ember extension spec must be a positive integer; a typo would otherwise silently mean "no cap".</summary>
    private static void ValidateSpecs(IReadOnlyDictionary<string, string> specs)
    {
        if (specs.TryGetValue(MaxAttachmentsSpec, out var max) && !(int.TryParse(max, out var n) && n > 0))
        {
            throw ApiException.BadRequest($"Invalid input received: {MaxAttachmentsSpec} must be a positive integer, got '{max}'.");
        }
    }

    // ---- quotas ----

    /// <summary>A project's limits, with its usage when asked; only admins see other projects'.</summary>
    public async Task<(QuotaLimits Limits, QuotaUsage? Usage)> QuotaOfAsync(RequestContext ctx, string projectId, bool withUsage)
    {
        if (!ctx.IsCloudAdmin && projectId != ctx.ProjectId)
        {
            throw ApiException.Forbidden("Policy doesn't allow volume_extension:quotas:show to be performed.");
        }

        return (await store.LimitsOfAsync(projectId), withUsage ? await store.UsageOfAsync(projectId) : null);
    }

    /// <summary>Sets the given limits together (-1 is unlimited) and returns all of the project's.</summary>
    public async Task<QuotaLimits> SetQuotasAsync(string projectId, IReadOnlyDictionary<string, int> limits)
    {
        await store.SetLimitsAsync(projectId, limits);
        return await store.LimitsOfAsync(projectId);
    }

    /// <summary>The limits a project has where it sets none: the default quota class's.</summary>
    public Task<QuotaLimits> DefaultLimitsAsync() => store.ClassLimitsAsync(QuotaLimits.DefaultClass);

    public Task<QuotaLimits> ClassLimitsAsync(string className) => store.ClassLimitsAsync(className);

    /// <summary>Sets a quota class's limits (-1 is unlimited) and returns all of them.</summary>
    public async Task<QuotaLimits> SetClassLimitsAsync(string className, IReadOnlyDictionary<string, int> limits)
    {
        await store.SetClassLimitsAsync(className, limits);
        return await store.ClassLimitsAsync(className);
    }

    /// <summary>Back to the defaults.</summary>
    public Task DeleteQuotasAsync(string projectId) => store.DeleteLimitsAsync(projectId);

    /// <summary>The caller's project's limits and usage, for GET /limits.</summary>
    public async Task<(QuotaLimits Limits, QuotaUsage Usage)> OwnLimitsAsync(RequestContext ctx)
    {
        var projectId = ctx.RequireProject();
        return (await store.LimitsOfAsync(projectId), await store.UsageOfAsync(projectId));
    }
}
