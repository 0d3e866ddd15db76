using Ember.Server.Common;

namespace Ember.Server.Volume;

// Default volume types per project (Cinder 3.62, cinder/api/v3/default_types.py).
public sealed partial class VolumeService
{
    private static ApiException DefaultTypeNotFound(string projectId) =>
        ApiException.NotFound($"Default type for project {projectId} could not be found.");

    /// <summary>The type a volume gets when none is asked for: the project's own default, else __DEFAULT__.</summary>
    public async Task<VolumeTypeRow> DefaultTypeAsync(string? projectId)
    {
        if (projectId is not null && await store.FindDefaultTypeAsync(projectId) is { } own && await store.FindTypeAsync(own.VolumeTypeId) is { } type)
        {
            return type;
        }

        return await DefaultTypeAsync();
    }

    public async Task<DefaultTypeRow> SetDefaultTypeAsync(RequestContext ctx, string projectId, string typeIdOrName)
    {
        var type = await FindUsableTypeAsync(ctx, typeIdOrName);
        await store.SetDefaultTypeAsync(projectId, type.Id);
        return new DefaultTypeRow(projectId, type.Id);
    }

    public async Task<DefaultTypeRow> GetDefaultTypeAsync(string projectId) =>
        await store.FindDefaultTypeAsync(projectId) ?? throw DefaultTypeNotFound(projectId);

    public Task<IReadOnlyList<DefaultTypeRow>> ListDefaultTypesAsync() => store.ListDefaultTypesAsync();

    public async Task UnsetDefaultTypeAsync(string projectId)
    {
        if (!await store.DeleteDefaultTypeAsync(projectId))
        {
            throw DefaultTypeNotFound(projectId);
        }
    }
}
