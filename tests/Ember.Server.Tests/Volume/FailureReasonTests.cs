using Ember.Processes;
using Ember.Server.Volume;
using Ember.Server.Volume.Rbd;

namespace Ember.Server.Tests.Volume;

/// <summary>
/// The reason a user message gives, from failures the system really raises: /dev/full refuses every write with ENOSPC,
/// a missing file is ENOENT, cp fails on both with its strerror text. The exception's own text never comes through.
/// </summary>
public sealed class FailureReasonTests
{
    [Fact]
    public async Task A_write_to_a_full_device_is_out_of_space_whether_dotnet_or_cp_writes_it()
    {
        var direct = await Assert.ThrowsAnyAsync<IOException>(() => File.WriteAllBytesAsync("/dev/full", new byte[4096]));
        Assert.Equal(FailureReasons.PoolFull, FailureReasons.Of(direct));

        var source = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(source, new byte[4096]);
            var copy = await Assert.ThrowsAsync<ProcessFailedException>(async () => (await ProcessRunner.RunAsync("cp", [source, "/dev/full"])).EnsureSuccess());
            Assert.Equal(FailureReasons.PoolFull, FailureReasons.Of(copy));
        }
        finally
        {
            File.Delete(source);
        }
    }

    [Fact]
    public async Task Missing_data_is_named_as_such_and_unknown_failures_give_no_reason()
    {
        var missing = "/nonexistent-" + Guid.NewGuid().ToString("N");
        var open = Assert.ThrowsAny<IOException>(() => new FileStream(missing, FileMode.Open).Dispose());
        Assert.Equal(FailureReasons.DataMissing, FailureReasons.Of(open));
        var copy = await Assert.ThrowsAsync<ProcessFailedException>(async () => (await ProcessRunner.RunAsync("cp", [missing, missing + ".copy"])).EnsureSuccess());
        Assert.Equal(FailureReasons.DataMissing, FailureReasons.Of(copy));

        Assert.Equal(FailureReasons.PoolQuota, FailureReasons.Of(new RbdException("creating volume-x", RbdException.QuotaExceeded)));
        Assert.Equal(FailureReasons.ClusterTimeout, FailureReasons.Of(new RbdException("resizing volume-x", 110)));
        Assert.Null(FailureReasons.Of(new RbdException("resizing volume-x", RbdException.InvalidArgument)));
        Assert.Null(FailureReasons.Of(new InvalidOperationException("secret text")));
    }
}
