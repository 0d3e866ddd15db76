using Ember.Server.Common;

namespace Ember.Server.Volume;

// Volume type encryption (cinder/api/contrib/volume_type_encryption.py). Ember keeps the spec as Cinder's API shows it,
// but has no key manager (Barbican) to hold the keys an encrypted volume needs: a volume of an encrypted type is refused
// with a 400 that says so, rather than made unencrypted under a type that promises encryption.
public sealed partial class VolumeService
{
    public static readonly string[] ControlLocations = ["front-end", "back-end"];

    public static ApiException EncryptionNotFound(string typeId) => ApiException.NotFound($"Volume type encryption for type {typeId} does not exist.");

    public static ApiException NoKeyManager(VolumeTypeRow type) => ApiException.BadRequest(
        $"Invalid volume type: {type.Name} is an encrypted volume type, and Ember has no key manager to create the keys of encrypted volumes.");

    /// <summary>The spec of a visible type, null when it has none.</summary>
    public async Task<EncryptionRow?> EncryptionOfAsync(RequestContext ctx, string typeId)
    {
        var type = await FindVisibleTypeAsync(ctx, typeId);
        return await store.FindEncryptionAsync(type.Id);
    }

    public async Task<EncryptionRow> CreateEncryptionAsync(RequestContext ctx, string typeId, string provider, string controlLocation, string? cipher, int? keySize)
    {
        var type = await FindVisibleTypeAsync(ctx, typeId);
        var row = new EncryptionRow
        {
            VolumeTypeId = type.Id,
            EncryptionId = Ids.NewUuid(),
            Provider = provider,
            ControlLocation = controlLocation,
            Cipher = cipher,
            KeySize = keySize,
            CreatedAt = Ids.Now(),
        };
        return await store.InsertEncryptionAsync(row) switch
        {
            VolumeStore.EncryptionChange.TypeInUse => throw ApiException.BadRequest("Cannot create encryption specs. Volume type in use."),
            VolumeStore.EncryptionChange.Exists => throw ApiException.BadRequest($"Volume type encryption for type {type.Id} already exists."),
            _ => row,
        };
    }

    /// <summary>The fields given replace the spec's; the others stay.</summary>
    public async Task UpdateEncryptionAsync(RequestContext ctx, string typeId, Optional<string> provider, Optional<string> controlLocation,
        Optional<string?> cipher, Optional<int?> keySize)
    {
        var type = await FindVisibleTypeAsync(ctx, typeId);
        var result = await store.UpdateEncryptionAsync(type.Id, current => current with
        {
            Provider = provider.Or(current.Provider),
            ControlLocation = controlLocation.Or(current.ControlLocation),
            Cipher = cipher.Or(current.Cipher),
            KeySize = keySize.Or(current.KeySize),
        });
        switch (result)
        {
            case VolumeStore.EncryptionChange.TypeInUse:
                throw ApiException.BadRequest("Cannot update encryption specs. Volume type in use.");
            case VolumeStore.EncryptionChange.Missing:
                throw EncryptionNotFound(type.Id);
        }
    }

    public async Task DeleteEncryptionAsync(RequestContext ctx, string typeId)
    {
        var type = await FindVisibleTypeAsync(ctx, typeId);
        switch (await store.DeleteEncryptionAsync(type.Id))
        {
            case VolumeStore.EncryptionChange.TypeInUse:
                throw ApiException.BadRequest("Cannot delete encryption specs. Volume type in use.");
            case VolumeStore.EncryptionChange.Missing:
                throw EncryptionNotFound(type.Id);
        }
    }

    /// <summary>
    /// Inserts a new volume's row: refused (400) when its type is encrypted, 413 when over quota. The store checks both
    /// again in the insert itself; a refusal is then told apart by looking once more.
    /// </summary>
    private async Task InsertVolumeAsync(VolumeRow row, VolumeTypeRow type, QuotaLimits limits)
    {
        if (await store.FindEncryptionAsync(type.Id) is not null)
        {
            throw NoKeyManager(type);
        }

        if (!await store.InsertVolumeWithinQuotaAsync(row, limits))
        {
            throw await store.FindEncryptionAsync(type.Id) is not null
                ? NoKeyManager(type)
                : await OverQuotaAsync(row.ProjectId, limits, row.Size, "volumes");
        }
    }
}
