using System.Text;
using System.Text.Json.Nodes;

namespace Ember.Server.Tests.Fuzz;

/// <summary>One fuzzed request, complete enough to be printed and replayed by hand.</summary>
public sealed record FuzzRequest(string Method, string Url, IReadOnlyList<(string Name, string Value)> Headers, byte[]? Body, string? ContentType)
{
    public string Describe()
    {
        var text = new StringBuilder($"{Method} {Url}");
        foreach (var (name, value) in Headers)
        {
            text.Append($"\n  {name}: {Truncate(value)}");
        }

        if (Body is not null)
        {
            text.Append($"\n  Content-Type: {ContentType}\n  body ({Body.Length} bytes): {Truncate(Encoding.UTF8.GetString(Body))}");
        }

        return text.ToString();
    }

    private static string Truncate(string text) => text.Length > 600 ? text[..600] + "…" : text;
}

/// <summary>
/// Turns the host's real routes into requests: a valid request of the route (right body, right ids, right token),
/// then a few mutations of its body, query, headers, microversion and ids. Deterministic for a given seed.
/// </summary>
public sealed class RequestGenerator(FuzzWorld world, IReadOnlyList<(string Method, string Pattern)> routes, Random random)
{
    private static readonly string[] s_junkIds =
    [
        "", "0", "-1", "null", "..", "%2e%2e%2f", "%00", "a%2Fb", "00000000-0000-0000-0000-000000000000", "ünïcødé-🔥", "' OR '1'='1",
        new string('x', 300), new string('9', 40), "%E2%80%AE", "%ff%fe", "{id}", "$(reboot)",
    ];

    private static readonly string[] s_queryKeys =
    [
        "limit", "marker", "offset", "sort", "sort_key", "sort_dir", "name", "status", "all_tenants", "project_id", "visibility",
        "is_public", "minRam", "minDisk", "member_status", "tag", "changes-since", "with_count", "nocatalog", "deleted", "flavor", "image",
        "user_id", "domain_id", "enabled", "volume_id", "instance_id", "length", "owner", "os_hidden", "detail", "fields",
    ];

    private static readonly string[] s_queryValues =
    [
        "0", "-1", "1", "2", "abc", "99999999999999999999", "", "(", "[", "(a+)+$", "(a|aa)+b", "\\", "*", "true", "false", "None",
        "2020-13-45T99:99:99Z", "asc", "desc", "name:asc", "id:desc,created_at", "ünï", "%00", "null", "1e309", "0x10", "'",
        new string('a', 5000),
    ];

    private static readonly string[] s_microversions =
    [
        "compute 2.999", "compute latest", "compute 2.1", "compute 2.60", "compute 2.55", "compute 2.19", "compute 02.1", "compute 2.",
        "compute 3.0", "volume 3.999", "volume 3.0", "volume 3.27", "volume 3.54", "volume latest", "volume 3", "garbage", "compute", "",
        "image 2.0", "compute 2.60, volume 3.54", "volume 99999999999.1",
    ];

    private static readonly string[] s_contentTypes =
    [
        "application/json", "text/plain", "application/xml", "application/octet-stream", "application/openstack-images-v2.1-json-patch",
        "multipart/form-data; boundary=x", "application/json; charset=latin1", "", "application/json-patch+json",
    ];

    public FuzzRequest Next()
    {
        var (method, pattern) = routes[random.Next(routes.Count)];
        var caller = random.Next(100) switch
        {
            < 60 => Caller.Demo,
            < 85 => Caller.Admin,
            < 93 => Caller.None,
            _ => Caller.Junk,
        };
        var path = FillRoute(pattern, caller);
        var (body, contentType) = BaseBody(method, Normalize(pattern));
        var headers = new List<(string, string)>();
        switch (caller)
        {
            case Caller.Demo:
                headers.Add(("X-Auth-Token", world.DemoToken));
                break;
            case Caller.Admin:
                headers.Add(("X-Auth-Token", world.AdminToken));
                break;
            case Caller.Junk:
                headers.Add(("X-Auth-Token", Pick(["x", new string('t', 9000), "ünï", world.DemoToken + "x", " "])));
                break;
        }

        if (pattern.StartsWith("/volume", StringComparison.Ordinal) && random.Next(2) == 0)
        {
            headers.Add(("OpenStack-API-Version", "volume 3.54"));
        }
        else if (pattern.StartsWith("/compute", StringComparison.Ordinal) && random.Next(2) == 0)
        {
            headers.Add(("OpenStack-API-Version", "compute 2.60"));
        }

        var query = new List<string>();
        var mutations = random.Next(4); // 0: the valid request itself
        for (var i = 0; i < mutations; i++)
        {
            switch (random.Next(10))
            {
                case 0 or 1 or 2:
                    if (body is not null && contentType is not null && contentType.Contains("json", StringComparison.Ordinal))
                    {
                        body = MutateJson(body);
                    }
                    else
                    {
                        query.Add(RandomQuery());
                    }

                    break;
                case 3:
                    (body, contentType) = (RawBody(), Pick(s_contentTypes));
                    break;
                case 4 or 5:
                    query.Add(RandomQuery());
                    break;
                case 6:
                    headers.RemoveAll(h => h.Item1 == "OpenStack-API-Version");
                    headers.Add((random.Next(4) == 0 ? "X-OpenStack-Nova-API-Version" : "OpenStack-API-Version", Pick(s_microversions)));
                    break;
                case 7:
                    contentType = Pick(s_contentTypes);
                    break;
                case 8:
                    headers.Add(Pick<(string, string)>(
                    [
                        ("Host", "evil.example:6666"), ("X-Forwarded-Host", "evil.example"), ("Accept", "application/xml"),
                        ("Accept", "*/*;q=garbage"), ("X-Subject-Token", "nope"), ("X-Subject-Token", ""),
                        ("Range", "bytes=999999999-"), ("Content-MD5", "zz"), ("x-image-meta-size", "-5"), ("Expect", "100-continue"),
                    ]));
                    break;
                default:
                    path = FillRoute(pattern, caller, hostile: true);
                    break;
            }
        }

        var url = query.Count == 0 ? path : path + "?" + string.Join('&', query);
        byte[]? bytes = body switch
        {
            null => null,
            JsonValue value when value.TryGetValue(out string? text) && text.StartsWith(RawMarker, StringComparison.Ordinal) =>
                Encoding.UTF8.GetBytes(text[RawMarker.Length..]),
            _ => Encoding.UTF8.GetBytes(body.ToJsonString()),
        };
        return new FuzzRequest(method, url, headers, bytes, contentType);
    }

    /// <summary>A string node with this prefix stands for raw bytes, not JSON.</summary>
    private const string RawMarker = "\u0001raw:";

    private enum Caller
    {
        Demo,
        Admin,
        None,
        Junk,
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>"/volume/v3/{project_id}/volumes" and "/volume/v3/volumes" get the same bodies.</summary>
    private static string Normalize(string pattern) => pattern.Replace("/{project_id}", "", StringComparison.Ordinal);

    private string FillRoute(string pattern, Caller caller, bool hostile = false)
    {
        var segments = pattern.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (!segments[i].StartsWith('{'))
            {
                continue;
            }

            var name = segments[i].Trim('{', '}', '*');
            var collection = i > 0 ? segments[i - 1] : "";
            string? value = hostile && random.Next(2) == 0
                ? Uri.EscapeDataString(Pick(s_junkIds)).Replace("%25", "%", StringComparison.Ordinal)
                : IdFor(collection, name, caller);
            segments[i] = value ?? Guid.NewGuid().ToString();
        }

        return string.Join('/', segments);
    }

    private string? IdFor(string collection, string name, Caller caller)
    {
        if (random.Next(20) == 0)
        {
            return Guid.NewGuid().ToString(random.Next(2) == 0 ? "N" : "D");
        }

        return (collection, name) switch
        {
            (_, "project_id") or ("os-quota-sets", _) => random.Next(5) switch
            {
                0 => caller == Caller.Admin ? world.DemoProject : world.AdminProject,
                _ => caller == Caller.Admin ? world.AdminProject : world.DemoProject,
            },
            (_, "projectId") => random.Next(2) == 0 ? world.Pick("projects", random) : world.DemoProject,
            (_, "userId") => world.Pick("users", random),
            (_, "roleId") => world.Pick("roles", random),
            (_, "volumeId") => world.Pick("volumes", random),
            (_, "key") => Pick(["k", "k2", "hw:cpu_policy", "missing", "ünï"]),
            (_, "tag") => Pick(["t1", "t2", "ünï", new string('t', 300)]),
            ("os-volume_attachments", _) => world.Pick("volumes", random),
            _ => world.Pick(collection, random),
        };
    }

    private string Unique(string prefix) => $"{prefix}-{random.Next():x}";

    private (JsonNode? Body, string? ContentType) BaseBody(string method, string pattern)
    {
        const string Json = "application/json";
        var volume = world.Pick("volumes", random);
        var server = world.Pick("servers", random);
        var image = world.Pick("images", random);
        JsonObject Connector() => new() { ["host"] = Unique("host"), ["ip"] = "127.0.0.1", ["platform"] = "x86_64", ["os_type"] = "linux", ["multipath"] = false };
        JsonNode? body = (method, pattern) switch
        {
            ("POST", "/identity/v3/auth/tokens") => AuthBody(),
            ("POST", "/identity/v3/projects") => new JsonObject { ["project"] = new JsonObject { ["name"] = Unique("p"), ["domain_id"] = "default", ["description"] = "d" } },
            ("PATCH", "/identity/v3/projects/{id}") => new JsonObject { ["project"] = new JsonObject { ["description"] = Unique("d"), ["enabled"] = true } },
            ("POST", "/identity/v3/users") => new JsonObject { ["user"] = new JsonObject { ["name"] = Unique("u"), ["password"] = "pw", ["domain_id"] = "default" } },
            ("PATCH", "/identity/v3/users/{id}") => new JsonObject { ["user"] = new JsonObject { ["description"] = Unique("d"), ["enabled"] = true } },
            ("POST", "/identity/v3/roles") => new JsonObject { ["role"] = new JsonObject { ["name"] = Unique("r") } },
            ("POST", "/image/v2/images") => new JsonObject
            {
                ["name"] = Unique("i"),
                ["disk_format"] = Pick(["raw", "qcow2", "vmdk", "iso"]),
                ["container_format"] = "bare",
                ["visibility"] = Pick(["private", "shared", "community", "public"]),
                ["tags"] = new JsonArray("a", "b"),
                ["min_disk"] = 0,
                ["custom_property"] = "v",
            },
            ("PATCH", "/image/v2/images/{id}") => new JsonArray(
                new JsonObject { ["op"] = "replace", ["path"] = "/name", ["value"] = Unique("n") },
                new JsonObject { ["op"] = Pick(["add", "remove", "replace"]), ["path"] = Pick(["/custom_property", "/tags", "/min_ram", "/visibility"]), ["value"] = "v" }),
            ("PUT", "/image/v2/images/{id}/file") => JsonValue.Create(RawMarker + new string('\0', random.Next(4096))),
            ("POST", "/compute/v2.1/flavors") => new JsonObject
            {
                ["flavor"] = new JsonObject { ["name"] = Unique("f"), ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 1, ["os-flavor-access:is_public"] = random.Next(2) == 0 },
            },
            ("PUT", "/compute/v2.1/flavors/{id}") => new JsonObject { ["flavor"] = new JsonObject { ["description"] = "d" } },
            ("POST", "/compute/v2.1/flavors/{id}/os-extra_specs") => new JsonObject { ["extra_specs"] = new JsonObject { ["k"] = "v", ["hw:cpu_policy"] = "shared" } },
            ("PUT", "/compute/v2.1/flavors/{id}/os-extra_specs/{key}") => new JsonObject { ["k"] = "v" },
            ("POST", "/compute/v2.1/servers") => new JsonObject
            {
                ["server"] = new JsonObject
                {
                    ["name"] = Unique("s"),
                    ["imageRef"] = image,
                    ["flavorRef"] = world.Pick("flavors", random),
                    ["metadata"] = new JsonObject { ["k"] = "v" },
                    ["block_device_mapping_v2"] = random.Next(3) == 0
                        ? new JsonArray(new JsonObject { ["uuid"] = volume, ["source_type"] = "volume", ["destination_type"] = "volume", ["boot_index"] = -1 })
                        : null,
                },
            },
            ("PUT", "/compute/v2.1/servers/{id}") => new JsonObject { ["server"] = new JsonObject { ["name"] = Unique("s"), ["description"] = "d" } },
            ("POST", "/compute/v2.1/servers/{id}/action") => Pick<Func<JsonNode>>(
            [
                () => new JsonObject { ["os-stop"] = null },
                () => new JsonObject { ["os-start"] = null },
                () => new JsonObject { ["reboot"] = new JsonObject { ["type"] = Pick(["SOFT", "HARD"]) } },
                () => new JsonObject { ["os-getConsoleOutput"] = new JsonObject { ["length"] = 10 } },
                () => new JsonObject { ["changePassword"] = new JsonObject { ["adminPass"] = "pw" } },
                () => new JsonObject { ["os-getSerialConsole"] = new JsonObject { ["type"] = "serial" } },
                () => new JsonObject { ["ember-exec"] = new JsonObject { ["command"] = new JsonArray("true"), ["timeout"] = 1 } },
            ])(),
            ("POST", "/compute/v2.1/servers/{id}/os-volume_attachments") => new JsonObject
            {
                ["volumeAttachment"] = new JsonObject { ["volumeId"] = volume, ["device"] = "/dev/vdb" },
            },
            ("POST", "/compute/v2.1/servers/{id}/remote-consoles") => new JsonObject
            {
                ["remote_console"] = new JsonObject { ["protocol"] = "serial", ["type"] = "serial" },
            },
            ("POST", "/volume/v3/volumes") => new JsonObject
            {
                ["volume"] = new JsonObject
                {
                    ["size"] = 1,
                    ["name"] = Unique("v"),
                    ["metadata"] = new JsonObject { ["k"] = "v" },
                    ["multiattach"] = random.Next(2) == 0,
                    ["imageRef"] = random.Next(4) == 0 ? image : null,
                    ["snapshot_id"] = random.Next(4) == 0 ? world.Pick("snapshots", random) : null,
                    ["volume_type"] = random.Next(4) == 0 ? world.Pick("types", random) : null,
                },
            },
            ("PUT", "/volume/v3/volumes/{id}") => new JsonObject { ["volume"] = new JsonObject { ["name"] = Unique("v"), ["description"] = "d" } },
            ("POST", "/volume/v3/volumes/{id}/action") => Pick<Func<JsonNode>>(
            [
                () => new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = 2 } },
                () => new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "available" } },
                () => new JsonObject { ["os-set_bootable"] = new JsonObject { ["bootable"] = true } },
                () => new JsonObject { ["os-update_readonly_flag"] = new JsonObject { ["readonly"] = false } },
                () => new JsonObject { ["os-reserve"] = null },
                () => new JsonObject { ["os-unreserve"] = null },
                () => new JsonObject { ["os-begin_detaching"] = null },
                () => new JsonObject { ["os-roll_detaching"] = null },
                () => new JsonObject { ["os-attach"] = new JsonObject { ["instance_uuid"] = server, ["mountpoint"] = "/dev/vdb", ["mode"] = "rw" } },
                () => new JsonObject { ["os-detach"] = new JsonObject { ["attachment_id"] = world.Pick("attachments", random) } },
                () => new JsonObject { ["os-force_detach"] = new JsonObject { ["attachment_id"] = world.Pick("attachments", random) } },
                () => new JsonObject { ["os-initialize_connection"] = new JsonObject { ["connector"] = Connector() } },
                () => new JsonObject { ["os-terminate_connection"] = new JsonObject { ["connector"] = Connector() } },
                () => new JsonObject { ["os-force_delete"] = new JsonObject() },
            ])(),
            ("POST" or "PUT", "/volume/v3/volumes/{id}/metadata") => new JsonObject { ["metadata"] = new JsonObject { ["k"] = "v", ["k2"] = "v2" } },
            ("PUT", "/volume/v3/volumes/{id}/metadata/{key}") => new JsonObject { ["meta"] = new JsonObject { ["k"] = "v" } },
            ("POST", "/volume/v3/types") => new JsonObject
            {
                ["volume_type"] = new JsonObject { ["name"] = Unique("t"), ["extra_specs"] = new JsonObject { ["multiattach"] = "<is> True" } },
            },
            ("PUT", "/volume/v3/types/{id}") => new JsonObject { ["volume_type"] = new JsonObject { ["description"] = "d", ["is_public"] = true } },
            ("POST", "/volume/v3/types/{id}/extra_specs") => new JsonObject { ["extra_specs"] = new JsonObject { ["k"] = "v" } },
            ("PUT", "/volume/v3/types/{id}/extra_specs/{key}") => new JsonObject { ["k"] = "v" },
            ("POST", "/volume/v3/attachments") => new JsonObject
            {
                ["attachment"] = new JsonObject { ["volume_uuid"] = volume, ["instance_uuid"] = server, ["connector"] = random.Next(2) == 0 ? Connector() : null },
            },
            ("PUT", "/volume/v3/attachments/{id}") => new JsonObject { ["attachment"] = new JsonObject { ["connector"] = Connector() } },
            ("POST", "/volume/v3/attachments/{id}/action") => new JsonObject { ["os-complete"] = null },
            ("POST", "/volume/v3/snapshots") => new JsonObject
            {
                ["snapshot"] = new JsonObject { ["volume_id"] = volume, ["name"] = Unique("sn"), ["force"] = random.Next(2) == 0, ["metadata"] = new JsonObject { ["k"] = "v" } },
            },
            ("PUT", "/volume/v3/snapshots/{id}") => new JsonObject { ["snapshot"] = new JsonObject { ["name"] = Unique("sn"), ["description"] = "d" } },
            ("POST" or "PUT", "/volume/v3/snapshots/{id}/metadata") => new JsonObject { ["metadata"] = new JsonObject { ["k"] = "v" } },
            ("PUT", "/volume/v3/os-quota-sets/{target}") => new JsonObject
            {
                ["quota_set"] = new JsonObject { ["volumes"] = 100, ["gigabytes"] = 1000, ["snapshots"] = 100 },
            },
            ("POST" or "PUT" or "PATCH", _) => new JsonObject(),
            _ => null,
        };
        var contentType = body is null ? null
            : pattern == "/image/v2/images/{id}/file" ? "application/octet-stream"
            : pattern == "/image/v2/images/{id}" ? "application/openstack-images-v2.1-json-patch"
            : Json;
        return (body, contentType);
    }

    private JsonObject AuthBody()
    {
        JsonObject identity = random.Next(2) == 0
            ? new JsonObject { ["methods"] = new JsonArray("token"), ["token"] = new JsonObject { ["id"] = world.DemoToken } }
            : new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["password"] = new JsonObject
                {
                    ["user"] = new JsonObject { ["name"] = "fuzz-user", ["domain"] = new JsonObject { ["id"] = "default" }, ["password"] = "fuzz-password" },
                },
            };
        var auth = new JsonObject { ["identity"] = identity };
        if (random.Next(2) == 0)
        {
            auth["scope"] = new JsonObject { ["project"] = new JsonObject { ["id"] = random.Next(2) == 0 ? world.DemoProject : world.AdminProject } };
        }

        return new JsonObject { ["auth"] = auth };
    }

    private string RandomQuery()
    {
        var key = random.Next(10) == 0 ? Uri.EscapeDataString(Pick(s_junkIds)) : Pick(s_queryKeys);
        var value = random.Next(4) == 0 ? world.Pick(Pick(["volumes", "servers", "images", "snapshots", "flavors"]), random) ?? "x" : Pick(s_queryValues);
        return $"{key}={Uri.EscapeDataString(value)}";
    }

    /// <summary>A body that is not the JSON the route wants: truncated, empty, binary, huge or deep.</summary>
    private JsonNode RawBody() => JsonValue.Create(RawMarker + random.Next(11) switch
    {
        0 => "",
        1 => "{",
        2 => "[]",
        3 => "null",
        4 => "\"text\"",
        5 => "{\"a\":" + new string('[', 100_000),
        6 => new string('[', 200) + new string(']', 200),
        7 => "{\"x\":\"" + new string('a', 1_200_000) + "\"}",
        8 => "\uFEFF{}",
        9 => "{\"a\":1,\"a\":2}",
        _ => Encoding.Latin1.GetString(Enumerable.Range(0, 64).Select(_ => (byte)random.Next(256)).ToArray()),
    })!;

    /// <summary>Replaces, removes or adds one node somewhere in the tree.</summary>
    private JsonNode? MutateJson(JsonNode body)
    {
        var nodes = new List<JsonNode>();
        Collect(body, nodes);
        var target = nodes[random.Next(nodes.Count)];
        var replacement = RandomValue(depth: 0);
        if (target.Parent is JsonObject parent)
        {
            var key = target.GetPropertyName();
            switch (random.Next(4))
            {
                case 0:
                    parent.Remove(key);
                    break;
                case 1:
                    parent[Pick(["name", "id", "metadata", "size", "status", "project_id", "ünï", "", "os-extend", "tags"])] = replacement;
                    break;
                default:
                    parent[key] = replacement;
                    break;
            }

            return body;
        }

        if (target.Parent is JsonArray array)
        {
            array[target.GetElementIndex()] = replacement;
            return body;
        }

        return random.Next(2) == 0 ? replacement : body;
    }

    private static void Collect(JsonNode? node, List<JsonNode> nodes)
    {
        if (node is null)
        {
            return;
        }

        nodes.Add(node);
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    Collect(child, nodes);
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    Collect(child, nodes);
                }

                break;
        }
    }

    private JsonNode? RandomValue(int depth) => random.Next(depth > 2 ? 14 : 18) switch
    {
        0 => null,
        1 => true,
        2 => 0,
        3 => -1,
        4 => long.MaxValue,
        5 => 1e308,
        6 => -0.5,
        7 => "",
        8 => Pick(["ünïcødé", "🔥🔥", "\u202Eevil", "\0", "a\nb", "<script>", "%s%s%n", "../../etc/passwd", "True", "1", "null"]),
        9 => new string('x', Pick([255, 256, 65_536, 300_000])),
        10 => world.Pick(Pick(["volumes", "servers", "images", "snapshots", "attachments", "flavors", "types"]), random),
        11 => Nest(Pick([31, 33, 64, 500])),
        12 => new JsonArray(),
        13 => new JsonObject(),
        14 => new JsonArray(RandomValue(depth + 1), RandomValue(depth + 1)),
        15 => new JsonObject { ["k"] = RandomValue(depth + 1), [new string('k', 300)] = "v" },
        16 => Wide(),
        _ => new JsonObject { ["name"] = RandomValue(depth + 1) },
    };

    private static JsonNode Nest(int depth)
    {
        JsonNode node = new JsonArray();
        for (var i = 0; i < depth; i++)
        {
            node = new JsonObject { ["a"] = node };
        }

        return node;
    }

    /// <summary>An object with many keys, for metadata and extra-spec counts.</summary>
    private JsonObject Wide()
    {
        var wide = new JsonObject();
        for (var i = 0; i < Pick([129, 1000]); i++)
        {
            wide[$"k{i}"] = "v";
        }

        return wide;
    }
}
