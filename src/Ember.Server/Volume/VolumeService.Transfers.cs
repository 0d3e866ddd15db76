using System.Security.Cryptography;
using System.Text;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Volume;

// Volume transfers (cinder/transfer/api.py): a project offers an available volume; whoever holds the auth_key accepts
// it into their own project. The key is shown once, at create; only a salted sha256 of it is kept.
public sealed partial class VolumeService
{
    /// <summary>Cinder's volume_transfer_key_length.</summary>
    private const int AuthKeyLength = 16;

    /// <summary>Letters and digits without the ones easily misread (as Cinder's generate_password leaves them out).</summary>
    private const string AuthKeyAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    public static ApiException TransferNotFound(string id) => ApiException.NotFound($"Transfer {id} could not be found.");

    /// <summary>Offers an available volume; returns the transfer and its auth_key (never stored, never shown again).</summary>
    public async Task<(TransferRow Transfer, string AuthKey)> CreateTransferAsync(RequestContext ctx, string volumeId, string? name, bool noSnapshots)
    {
        var volume = await FindVisibleAsync(ctx, volumeId);
        var authKey = RandomNumberGenerator.GetString(AuthKeyAlphabet, AuthKeyLength);
        var salt = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var now = Ids.Now();
        var row = new TransferRow
        {
            Id = Ids.NewUuid(),
            VolumeId = volume.Id,
            ProjectId = volume.ProjectId,
            UserId = ctx.UserId,
            Name = name,
            Salt = salt,
            KeyHash = KeyHash(salt, authKey),
            NoSnapshots = noSnapshots,
            CreatedAt = now,
            UpdatedAt = now,
        };
        switch (await store.BeginTransferAsync(row))
        {
            case TransferStart.VolumeNotAvailable:
                throw InvalidVolume("status must be available");
            case TransferStart.SnapshotsNotAvailable:
                throw ApiException.BadRequest("Invalid snapshot: All snapshots of the volume must be available to transfer it with its snapshots.");
        }

        LogTransferOffered(logger, row.Id, volume.Id);
        return (row, authKey);
    }

    /// <summary>The transfers of the caller's project (every project's for an admin's all_tenants).</summary>
    public async Task<Page<TransferRow>> ListTransfersAsync(RequestContext ctx, bool allTenants, string? name, PageRequest page) =>
        await store.ListTransfersAsync(ListScope(ctx, allTenants, null), name, page) ?? throw MarkerNotFound(page.Marker);

    /// <summary>A transfer the caller's project offered (any, for an admin).</summary>
    public async Task<TransferRow> FindVisibleTransferAsync(RequestContext ctx, string id)
    {
        var row = await store.FindTransferAsync(id);
        return row is not null && CanSee(ctx, row.ProjectId) ? row : throw TransferNotFound(id);
    }

    /// <summary>Withdraws an offer: the volume is available again.</summary>
    public async Task DeleteTransferAsync(RequestContext ctx, string id)
    {
        var transfer = await FindVisibleTransferAsync(ctx, id);
        if (!await store.DeleteTransferAsync(transfer))
        {
            throw TransferNotFound(id);
        }
    }

    /// <summary>
    /// Takes the volume into the caller's project with the right key (any project may accept: holding the key is the
    /// permission); the receiving project's volume quotas must have room for it (and its snapshots, when they move).
    /// </summary>
    public async Task<TransferRow> AcceptTransferAsync(RequestContext ctx, string id, string authKey)
    {
        var projectId = ctx.RequireProject();
        var transfer = await store.FindTransferAsync(id) ?? throw TransferNotFound(id);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(KeyHash(transfer.Salt, authKey)), Encoding.ASCII.GetBytes(transfer.KeyHash)))
        {
            throw ApiException.BadRequest($"Invalid auth key: Attempt to transfer {id} with invalid auth key.");
        }

        var limits = await store.LimitsOfAsync(projectId);
        var size = (await store.FindVolumeAsync(transfer.VolumeId))?.Size ?? 0;
        switch (await store.AcceptTransferAsync(transfer, projectId, ctx.UserId, limits))
        {
            case TransferAccept.Gone:
                throw TransferNotFound(id);
            case TransferAccept.VolumeNotAwaiting:
                throw InvalidVolume("status must be awaiting-transfer");
            case TransferAccept.OverVolumes:
                throw await OverQuotaAsync(projectId, limits, size, "volumes");
            case TransferAccept.OverSnapshots:
                throw await OverQuotaAsync(projectId, limits, size, "snapshots");
            case TransferAccept.OverGigabytes:
                throw await OverQuotaAsync(projectId, limits, size, "gigabytes");
        }

        LogTransferAccepted(logger, id, transfer.VolumeId, transfer.ProjectId, projectId);
        return transfer;
    }

    /// <summary>A salted sha256 of the key: enough for a random 16-character key that lives until the transfer is accepted.</summary>
    private static string KeyHash(string salt, string authKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(salt + authKey)));

    [LoggerMessage(Level = LogLevel.Information, Message = "Transfer {TransferId} offers volume {VolumeId}")]
    private static partial void LogTransferOffered(ILogger logger, string transferId, string volumeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transfer {TransferId} accepted: volume {VolumeId} moved from project {From} to {To}")]
    private static partial void LogTransferAccepted(ILogger logger, string transferId, string volumeId, string from, string to);
}
