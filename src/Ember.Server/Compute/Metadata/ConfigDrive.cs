using Ember.Processes;

namespace Ember.Server.Compute.Metadata;

/// <summary>
/// Nova's config drive: the instance's metadata as files on a small read-only disk labelled <c>config-2</c>, for
/// guests that cannot (or should not) reach the metadata service. ISO 9660 with Rock Ridge and Joliet, made by
/// genisoimage with Nova's options, because that is Nova's default format (cloud-init, Ignition and cloudbase-init read
/// it) and it needs no mount or loop device on the host; the guest sees it as a CD-ROM on the IDE bus, so the virtio disk
/// names of volumes (vdb, ...) stay as they would be without it.
/// </summary>
public static class ConfigDrive
{
    /// <summary>The file in the instance directory (Nova's name).</summary>
    public const string FileName = "disk.config";

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Writes <paramref name="instanceDir"/>/disk.config (0600) from the metadata; returns its path.</summary>
    public static async Task<string> BuildAsync(InstanceMetadata metadata, string instanceDir, CancellationToken cancellationToken)
    {
        var path = Path.Combine(instanceDir, FileName);
        var staging = Path.Combine(instanceDir, "config-drive.tmp");
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging, PrivateDirectory);
        try
        {
            foreach (var (name, body) in metadata.ConfigDriveFiles())
            {
                var file = Path.Combine(staging, name);
                Directory.CreateDirectory(Path.GetDirectoryName(file)!, PrivateDirectory);
                await using var stream = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = PrivateFile });
                await stream.WriteAsync(body, cancellationToken);
            }

            var image = path + ".tmp";
            File.Delete(image);
            (await ProcessRunner.RunAsync("genisoimage",
                ["-o", image, "-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-publisher", "Ember", "-quiet", "-J", "-r", "-V", "config-2", staging],
                cancellationToken: cancellationToken)).EnsureSuccess();
            File.SetUnixFileMode(image, PrivateFile);
            File.Move(image, path, overwrite: true);
            return path;
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }
}
