using System.Text.Json.Nodes;

namespace Ember.Client;

/// <summary>Look-ups by name or id and waits on status, shared by the `ember` commands and the 2015 personalities.</summary>
public sealed class CloudApi(OpenStackSession session, CliContext context)
{
    public OpenStackSession Session { get; } = session;

    public Task<JsonObject> FindVolumeAsync(string nameOrId, CancellationToken ct) =>
        FindAsync("volume", "volume", "/volumes/", "/volumes/detail?name=" + Uri.EscapeDataString(nameOrId), "volumes", nameOrId, ct);

    public Task<JsonObject> FindSnapshotAsync(string nameOrId, CancellationToken ct) =>
        FindAsync("volume", "snapshot", "/snapshots/", "/snapshots/detail?name=" + Uri.EscapeDataString(nameOrId), "snapshots", nameOrId, ct);

    public Task<JsonObject> FindVolumeTypeAsync(string nameOrId, CancellationToken ct) =>
        FindAsync("volume", "volume_type", "/types/", "/types?is_public=None", "volume_types", nameOrId, ct);

    public Task<JsonObject> FindServerAsync(string nameOrId, CancellationToken ct) =>
        FindAsync("compute", "server", "/servers/", "/servers/detail?name=" + Uri.EscapeDataString("^" + System.Text.RegularExpressions.Regex.Escape(nameOrId) + "$"), "servers", nameOrId, ct);

    public Task<JsonObject> FindFlavorAsync(string nameOrId, CancellationToken ct) =>
        FindAsync("compute", "flavor", "/flavors/", "/flavors/detail?is_public=None", "flavors", nameOrId, ct);

    /// <summary>Glance v2 returns images unwrapped.</summary>
    public async Task<JsonObject> FindImageAsync(string nameOrId, CancellationToken ct)
    {
        if (LooksLikeUuid(nameOrId))
        {
            try
            {
                return (JsonObject)(await Session.GetAsync("image", "/images/" + nameOrId, ct))!;
            }
            catch (ApiException e) when (e.StatusCode == 404)
            {
            }
        }

        var list = await Session.GetAsync("image", "/images?name=" + Uri.EscapeDataString(nameOrId), ct);
        var matches = (list?["images"] as JsonArray ?? []).OfType<JsonObject>().Where(i => (string?)i["name"] == nameOrId || (string?)i["id"] == nameOrId).ToList();
        return Single(matches, "image", nameOrId);
    }

    /// <summary>GET by id first (ids may look like anything for flavors and types), then a name match in the list.</summary>
    public async Task<JsonObject> FindAsync(string service, string singular, string itemPath, string listPath, string listKey, string nameOrId, CancellationToken ct)
    {
        try
        {
            if (await Session.GetAsync(service, itemPath + Uri.EscapeDataString(nameOrId), ct) is JsonObject found && found[singular] is JsonObject item)
            {
                return item;
            }
        }
        catch (ApiException e) when (e.StatusCode is 404 or 400)
        {
        }

        var list = await Session.GetAsync(service, listPath, ct);
        var matches = (list?[listKey] as JsonArray ?? []).OfType<JsonObject>().Where(i => (string?)i["name"] == nameOrId).ToList();
        return Single(matches, singular.Replace('_', ' '), nameOrId);
    }

    public static bool LooksLikeUuid(string text) => Guid.TryParse(text, out _);

    /// <summary>Polls <paramref name="path"/> until the resource reaches one of <paramref name="done"/>; fails on an error status.</summary>
    public async Task<JsonObject> WaitForStatusAsync(string service, string path, string key, string what, string[] done, CancellationToken ct,
        string statusField = "status")
    {
        var progress = new StatusProgress(context, what);
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var item = (await Session.GetAsync(service, path, ct))?[key] as JsonObject ?? throw new CliException($"{what}: empty reply");
            var status = ((string?)item[statusField] ?? "").ToLowerInvariant();
            progress.Report(status, item["progress"]?.ToString());
            if (done.Contains(status, StringComparer.OrdinalIgnoreCase))
            {
                progress.Finish();
                return item;
            }

            if (status.StartsWith("error", StringComparison.Ordinal) || status == "killed")
            {
                progress.Finish();
                var fault = item["fault"]?["message"] is { } message ? $": {message}" : "";
                throw new CliException($"{what} went to status {status}{fault}");
            }

            await Task.Delay(delay, ct);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
        }
    }

    /// <summary>Polls until GET answers 404.</summary>
    public async Task WaitForDeleteAsync(string service, string path, string key, string what, CancellationToken ct)
    {
        var progress = new StatusProgress(context, what);
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                var item = (await Session.GetAsync(service, path, ct))?[key];
                var status = ((string?)item?["status"] ?? "").ToLowerInvariant();
                progress.Report(status, null);
                if (status is "deleted" or "soft_deleted")
                {
                    break;
                }

                if (status.StartsWith("error", StringComparison.Ordinal))
                {
                    progress.Finish();
                    throw new CliException($"{what} went to status {status}");
                }
            }
            catch (ApiException e) when (e.StatusCode == 404)
            {
                break;
            }

            await Task.Delay(delay, ct);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
        }

        progress.Report("deleted", null);
        progress.Finish();
    }

    private static JsonObject Single(List<JsonObject> matches, string resource, string nameOrId) => matches.Count switch
    {
        1 => matches[0],
        0 => throw new CliException($"No {resource} with a name or ID of '{nameOrId}' exists."),
        _ => throw new CliException($"More than one {resource} exists with the name '{nameOrId}'."),
    };

    /// <summary>"Waiting for X: creating ... available": redrawn in place on a terminal, one line per change otherwise.</summary>
    private sealed class StatusProgress(CliContext context, string what)
    {
        private string? _last;
        private bool _started;

        public void Report(string status, string? percent)
        {
            var text = string.IsNullOrEmpty(percent) || percent == "0" ? status : $"{status} {percent}%";
            if (text == _last)
            {
                if (context.ErrIsTerminal)
                {
                    context.Err.Write('.');
                }

                return;
            }

            if (context.ErrIsTerminal)
            {
                context.Err.Write((_started ? "\n" : "") + $"{what}: {text}");
            }
            else
            {
                context.Err.WriteLine($"{what}: {text}");
            }

            _started = true;
            _last = text;
        }

        public void Finish()
        {
            if (context.ErrIsTerminal && _started)
            {
                context.Err.WriteLine();
            }
        }
    }
}
