namespace Ember.Image.Format;

/// <summary>
/// What an inspector found in an image's header regions. <see cref="IsSafe"/> is false when the image
/// refers to anything outside its own bytes (backing file, data file, external extent) or uses a feature
/// Ember refuses (encryption, unknown incompatible features, a header that does not parse).
/// </summary>
/// <param name="Format">The format the bytes are in.</param>
/// <param name="VirtualSize">Guest-visible size in bytes, when the header gives one.</param>
/// <param name="BackingFiles">Backing-file names (qcow2, qed, vmdk parentFileNameHint, vhd/vhdx/vdi parents).</param>
/// <param name="DataFiles">Other files the image's data lives in (qcow2 data_file, vmdk extents).</param>
/// <param name="Problems">Human-readable reasons the image is unsafe, one per finding; empty when safe.</param>
public sealed record ImageInspection(
    ImageFormat Format,
    long? VirtualSize,
    IReadOnlyList<string> BackingFiles,
    IReadOnlyList<string> DataFiles,
    IReadOnlyList<string> Problems)
{
    /// <summary>
    /// A fixed-size VHD keeps its only footer in the last 512 bytes and looks like raw at the start; when such a
    /// footer is there, this is the image seen as a VHD (QEMU's vpc driver reads it that way when told so).
    /// </summary>
    public ImageInspection? AsFixedVhd { get; init; }

    public bool IsSafe => Problems.Count == 0;

    public override string ToString() =>
        $"{Format.Name()} virtual_size={VirtualSize?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}"
        + (IsSafe ? " safe" : " unsafe: " + string.Join("; ", Problems));
}
