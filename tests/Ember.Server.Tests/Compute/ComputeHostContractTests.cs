using System.Text.Json;
using Ember.Server.Compute;
using Ember.Server.Volume;

namespace Ember.Server.Tests.Compute;

/// <summary>The compute host contract's messages survive System.Text.Json, so a transport can carry them as they are.</summary>
public class ComputeHostContractTests
{
    private static readonly VolumeDisk s_disk = new("bdm-1", "vol-1", "att-1", "vdb", null);

    public static TheoryData<object> Messages() =>
    [
        new SpawnServer("req-1", "srv-1", new FlavorSpec(512, 1, 1), new ImageSpec("img-1"), [s_disk, s_disk with { BdmId = "bdm-0", DeviceName = "vda", BootIndex = 0 }], "s3cret"),
        new SpawnServer("req-2", "srv-2", new FlavorSpec(256, 2, 0), null, [], null),
        new AttachVolume("req-3", "srv-1", s_disk),
        new DetachVolume("req-4", "srv-1", s_disk),
        new PowerAction("req-5", "srv-1", PowerActionKind.HardReboot),
        new DeleteServer("req-6", "srv-1"),
        new ConsoleOutputRequest("req-7", "srv-1", 50),
        new ConsoleOutputReply("line 1\nline 2"),
        new ExecRequest("req-8", "srv-1", ["sh", "-c", "echo hi"], "input", 60),
        new ExecReply(0, "hi\n", "", TimedOut: false),
        new SetPasswordRequest("req-9", "srv-1", "N3w-pass"),
        new SerialConsoleRequest("req-10", "srv-1"),
        new AttachInterface("req-11", "srv-1", "port-1"),
        new DetachInterface("req-12", "srv-1", "port-1"),
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void Each_message_round_trips_through_the_source_generated_context(object message)
    {
        var type = message.GetType();
        var json = JsonSerializer.Serialize(message, type, ComputeHostJson.Default);
        var back = JsonSerializer.Deserialize(json, type, ComputeHostJson.Default);

        Assert.NotNull(back);
        Assert.Equal(json, JsonSerializer.Serialize(back, type, ComputeHostJson.Default));
        // Records with lists compare lists by reference; the JSON above compares them by content, the rest compares here.
        if (message is not (SpawnServer or ExecRequest))
        {
            Assert.Equal(message, back);
        }
    }

    [Fact]
    public void A_spawn_keeps_its_volumes_in_order_and_the_power_action_is_a_name()
    {
        var spawn = new SpawnServer("req-1", "srv-1", new FlavorSpec(512, 1, 1), new ImageSpec("img-1"), [s_disk, s_disk with { DeviceName = "vdc" }], "s3cret");
        var back = JsonSerializer.Deserialize(JsonSerializer.Serialize(spawn, ComputeHostJson.Default.SpawnServer), ComputeHostJson.Default.SpawnServer)!;
        Assert.Equal(spawn.Volumes, back.Volumes);
        Assert.Equal(spawn.Flavor, back.Flavor);
        Assert.Equal("s3cret", back.AdminPass);

        var power = JsonSerializer.Serialize(new PowerAction("r", "s", PowerActionKind.SoftReboot), ComputeHostJson.Default.PowerAction);
        Assert.Contains("\"action\":\"SoftReboot\"", power, StringComparison.Ordinal);
    }

    [Fact]
    public void A_volume_connection_keeps_its_transport_through_json()
    {
        VolumeConnection[] connections =
        [
            new NbdUnixConnection("exp-1", "/data/nbd.sock", ReadOnly: false, Multiattach: true),
            new NbdTcpConnection("exp-2", "192.0.2.7", 10809, Tls: true, ReadOnly: true, Multiattach: false),
        ];
        foreach (var connection in connections)
        {
            var json = JsonSerializer.Serialize(connection, ComputeHostJson.Default.VolumeConnection);
            Assert.Equal(connection, JsonSerializer.Deserialize(json, ComputeHostJson.Default.VolumeConnection));
        }

        Assert.Contains("\"transport\":\"nbd-unix\"", JsonSerializer.Serialize(connections[0], ComputeHostJson.Default.VolumeConnection), StringComparison.Ordinal);
        // A mapping written before connections carried a transport tag is not readable as one: the host asks again.
        Assert.ThrowsAny<Exception>(() => JsonSerializer.Deserialize("{\"ExportName\":\"e\",\"UnixSocket\":\"/s\"}", ComputeHostJson.Default.VolumeConnection));
    }

    [Fact]
    public void Messages_with_a_secret_do_not_print_it()
    {
        Assert.DoesNotContain("N3w-pass", new SetPasswordRequest("r", "s", "N3w-pass").ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", new SpawnServer("r", "s", new FlavorSpec(1, 1, 1), null, [], "s3cret").ToString(), StringComparison.Ordinal);
    }
}
