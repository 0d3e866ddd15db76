using System.Runtime.InteropServices;

namespace Ember.Server;

/// <summary>
/// The data directory is private to the Unix user running Ember: directories 0700, files 0600, from the moment
/// they are created (umask 077 for the process, an explicit create mode for the files holding passwords).
/// </summary>
public static partial class DataDirectory
{
    public const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The bits a private file or directory must not have.</summary>
    public const UnixFileMode GroupAndOther = (UnixFileMode)0b000_111_111;

    /// <summary>Sets the process umask to 077 so every file, socket and directory anyone creates is owner-only.</summary>
    public static void UsePrivateUmask() => SetUmask(0b000_111_111);

    /// <summary>Sets the process umask; returns the previous one. Tests use it to prove explicit create modes.</summary>
    public static uint SetUmask(uint mask) => OperatingSystem.IsWindows() ? 0 : Umask(mask);

    /// <summary>
    /// Creates <paramref name="dataDir"/> as 0700, then takes group and other bits off everything in it
    /// (a 0755 directory becomes 0700, a 0644 file 0600) without following symbolic links. Returns the paths it changed.
    /// </summary>
    public static IReadOnlyList<string> CreateOrTighten(string dataDir)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(dataDir);
            return [];
        }

        var changed = new List<string>();
        var root = Directory.CreateDirectory(dataDir, PrivateDirectory);
        Tighten(root, changed);
        var walk = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true };
        foreach (var entry in root.EnumerateFileSystemInfos("*", walk))
        {
            // chmod follows a link to wherever it points, maybe outside the data dir: links are left alone,
            // and the walk does not descend into linked directories.
            if (entry.LinkTarget is not null)
            {
                continue;
            }

            Tighten(entry, changed);
        }

        return changed;
    }

    /// <summary>Writes a file that holds a secret: created 0600 (whatever the umask), then renamed into place.</summary>
    public static void WritePrivateFile(string path, string content)
    {
        var temp = path + ".tmp";
        // A leftover temp file keeps its old mode when opened, so it goes first and the new one is created fresh.
        File.Delete(temp);
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = PrivateFile;
        }

        // No byte-order mark: bash would run it as part of an openrc's first line ("\uFEFF#: command not found").
        using (var writer = new StreamWriter(temp, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), create))
        {
            writer.Write(content);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Takes group and other bits off; owner bits stay (a 0755 directory becomes 0700, a 0644 file 0600).</summary>
    private static void Tighten(FileSystemInfo entry, List<string> changed)
    {
        var current = entry.UnixFileMode;
        if ((current & GroupAndOther) != 0)
        {
            File.SetUnixFileMode(entry.FullName, current & ~GroupAndOther);
            changed.Add(entry.FullName);
        }
    }

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}
