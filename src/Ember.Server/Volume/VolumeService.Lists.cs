using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Volume;

// The lists: filtered, sorted and paged in SQL (VolumeStore), within the projects the caller may list.
public sealed partial class VolumeService
{
    /// <summary>Stored statuses the API shows as another (Cinder's managing states).</summary>
    private static readonly string[] s_statusesShownAsOthers = ["managing", "error_managing", "error_managing_deleting"];

    /// <summary>The stored statuses that <see cref="VolumeJson.DisplayStatus"/> shows as <paramref name="shown"/>.</summary>
    public static string[] StatusesShownAs(string shown) =>
        [.. s_statusesShownAsOthers.Where(s => VolumeJson.DisplayStatus(s) == shown), .. s_statusesShownAsOthers.Contains(shown) ? [] : new[] { shown }];

    /// <summary>
    /// The project a list covers: the caller's own; with all_tenants, an admin's lists cover every project, or the
    /// one <paramref name="projectId"/> names. Null is every project.
    /// </summary>
    private static string? ListScope(RequestContext ctx, bool allTenants, string? projectId) =>
        ctx.IsCloudAdmin && allTenants ? projectId : ctx.RequireProject();

    /// <summary>Cinder's MarkerNotFound: a 404.</summary>
    private static ApiException MarkerNotFound(string? marker) => ApiException.NotFound($"Marker {marker} could not be found.");

    public async Task<Page<VolumeRow>> ListVolumesAsync(RequestContext ctx, bool allTenants, VolumeFilter filter, PageRequest page, bool withCount) =>
        await store.ListVolumesAsync(filter with { ProjectId = ListScope(ctx, allTenants, filter.ProjectId) }, page, withCount)
            ?? throw MarkerNotFound(page.Marker);

    public async Task<Page<SnapshotRow>> ListSnapshotsAsync(RequestContext ctx, bool allTenants, SnapshotFilter filter, PageRequest page) =>
        await store.ListSnapshotsAsync(filter with { ProjectId = ListScope(ctx, allTenants, filter.ProjectId) }, page)
            ?? throw MarkerNotFound(page.Marker);

    public async Task<Page<AttachmentRow>> ListAttachmentsAsync(RequestContext ctx, bool allTenants, AttachmentFilter filter, PageRequest page) =>
        await store.ListAttachmentsAsync(filter with { ProjectId = ListScope(ctx, allTenants, filter.ProjectId) }, page)
            ?? throw MarkerNotFound(page.Marker);

    /// <summary>The gigabytes of the backend's one pool that volumes hold (get_pools' allocated_capacity_gb).</summary>
    public Task<long> AllocatedGigabytesAsync() => store.AllocatedGigabytesAsync();

    /// <summary>Type names by id, for volume views.</summary>
    public async Task<Dictionary<string, string>> TypeNamesAsync() =>
        (await store.ListTypesAsync()).ToDictionary(t => t.Id, t => t.Name, StringComparer.Ordinal);

    /// <summary>The name of the volume's type ("" when it is gone).</summary>
    public async Task<string> TypeNameOfAsync(VolumeRow volume) => (await store.FindTypeAsync(volume.VolumeTypeId))?.Name ?? "";

    /// <summary>The attachments of volumes already shown to the caller, for their views.</summary>
    public Task<ILookup<string, AttachmentRow>> AttachmentsOfAsync(IReadOnlyCollection<string> volumeIds) => store.AttachmentsOfAsync(volumeIds);
}
