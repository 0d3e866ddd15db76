using Ember.Server.Common;

namespace Ember.Server.Volume;

// QoS specs (cinder/volume/qos_specs.py). Ember keeps them and their associations as Cinder's API shows them; its
// data plane enforces none of the keys (documented in docs/volumes.md).
public sealed partial class VolumeService
{
    /// <summary>Cinder's consumers of QoS specs: the hypervisor (front-end), the storage (back-end) or both.</summary>
    public static readonly string[] QosConsumers = ["front-end", "back-end", "both"];

    public static ApiException QosSpecsNotFound(string id) => ApiException.NotFound($"QoS Specs {id} could not be found.");

    public async Task<QosSpecsRow> CreateQosSpecsAsync(string name, IReadOnlyDictionary<string, string> given)
    {
        var specs = new Dictionary<string, string>(given, StringComparer.Ordinal);
        var consumer = TakeConsumer(specs) ?? "back-end";
        var now = Ids.Now();
        var row = new QosSpecsRow { Id = Ids.NewUuid(), Name = name, Consumer = consumer, Specs = JsonOf(specs), CreatedAt = now, UpdatedAt = now };
        await store.InsertQosSpecsAsync(row);
        return row;
    }

    public async Task<QosSpecsRow> FindQosSpecsAsync(string id) => await store.FindQosSpecsAsync(id) ?? throw QosSpecsNotFound(id);

    public Task<IReadOnlyList<QosSpecsRow>> ListQosSpecsAsync() => store.ListQosSpecsAsync();

    /// <summary>Sets the given keys ("consumer" changes the consumer), keeping the others.</summary>
    public async Task UpdateQosSpecsAsync(string id, IReadOnlyDictionary<string, string> given)
    {
        var specs = new Dictionary<string, string>(given, StringComparer.Ordinal);
        var consumer = TakeConsumer(specs);
        _ = await store.ChangeQosSpecsAsync(id, current =>
        {
            var merged = MapOf(current.Specs);
            foreach (var (k, v) in specs)
            {
                merged[k] = v;
            }

            return current with { Consumer = consumer ?? current.Consumer, Specs = JsonOf(merged) };
        }) ?? throw QosSpecsNotFound(id);
    }

    /// <summary>Removes the keys; one the specs do not have is Cinder's 404 (QoSSpecsKeyNotFound), and nothing is removed.</summary>
    public async Task DeleteQosKeysAsync(string id, IReadOnlyList<string> keys)
    {
        _ = await store.ChangeQosSpecsAsync(id, current =>
        {
            var specs = MapOf(current.Specs);
            foreach (var key in keys)
            {
                if (!specs.Remove(key))
                {
                    throw ApiException.NotFound($"QoS spec {key} not found for QoS specs {id}.");
                }
            }

            return current with { Specs = JsonOf(specs) };
        }) ?? throw QosSpecsNotFound(id);
    }

    /// <summary>Refused (400) while a type is associated unless forced; forced, the associations go first.</summary>
    public async Task DeleteQosSpecsAsync(string id, bool force)
    {
        var (deleted, inUse) = await store.DeleteQosSpecsAsync(id, force);
        if (inUse)
        {
            throw ApiException.BadRequest("Qos specs still in use.");
        }

        if (!deleted)
        {
            throw QosSpecsNotFound(id);
        }
    }

    public async Task<IReadOnlyList<VolumeTypeRow>> QosAssociationsAsync(string id)
    {
        _ = await FindQosSpecsAsync(id);
        return await store.TypesWithQosSpecsAsync(id);
    }

    /// <summary>A type has at most one QoS specs: associating it with others is a 400, with the same ones again nothing.</summary>
    public async Task AssociateQosSpecsAsync(RequestContext ctx, string id, string typeId)
    {
        _ = await FindQosSpecsAsync(id);
        var type = await FindVisibleTypeAsync(ctx, typeId);
        var associated = await store.AssociateQosSpecsAsync(id, type.Id) ?? throw QosSpecsNotFound(id);
        if (associated != id)
        {
            throw ApiException.BadRequest($"Invalid volume type: Type {type.Id} is already associated with another qos specs: {associated}");
        }
    }

    public async Task DisassociateQosSpecsAsync(RequestContext ctx, string id, string? typeId)
    {
        _ = await FindQosSpecsAsync(id);
        var type = typeId is null ? null : await FindVisibleTypeAsync(ctx, typeId);
        await store.DisassociateQosSpecsAsync(id, type?.Id);
    }

    /// <summary>Takes "consumer" out of the keys and checks it is one of Cinder's.</summary>
    private static string? TakeConsumer(Dictionary<string, string> specs)
    {
        if (!specs.Remove("consumer", out var consumer))
        {
            return null;
        }

        return QosConsumers.Contains(consumer, StringComparer.Ordinal)
            ? consumer
            : throw ApiException.BadRequest($"Invalid QoS specs: Valid consumer of QoS specs are: {string.Join(", ", QosConsumers)}");
    }
}
