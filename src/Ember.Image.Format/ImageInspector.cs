namespace Ember.Image.Format;

/// <summary>
/// Inspects a disk image from its bytes, without I/O: the caller feeds bytes at their offsets (in stream order
/// during an upload, or the ranges <see cref="NextWanted"/> asks for when reading a stored file), then tells the
/// length and takes <see cref="Inspect"/>. Only the header regions a format needs are kept: the first
/// <see cref="HeadSize"/> bytes, then what the header points at (a qcow2 header cluster and backing name, a VMDK
/// descriptor, VHDX region and metadata tables, a VHD footer in the last 512 bytes), at most
/// <see cref="MaxCapturedBytes"/> in all. Bytes outside those regions are looked at and dropped.
/// </summary>
public sealed partial class ImageInspector
{
    /// <summary>The first bytes every detection looks at: ISO 9660's volume descriptor ends at 34 KiB, GPT at 1 KiB.</summary>
    public const int HeadSize = 64 * 1024;

    /// <summary>The most bytes kept for one image: a qcow2 header cluster at its largest (2 MiB) plus small tables.</summary>
    public const int MaxCapturedBytes = 4 * 1024 * 1024;

    private const int TailSize = 512;

    private readonly List<Region> _regions = [];

    // The last bytes fed in stream order, so a VHD footer at the end of an upload needs no second read.
    private readonly byte[] _tail = new byte[TailSize];
    private long _tailEnd;
    private int _tailCount;

    private long? _length;
    private int _captured;
    private bool _overBudget;
    private bool _dirty = true;
    private ImageFormat? _format;
    private ImageInspection? _result;

    /// <summary>The format, once the first <see cref="HeadSize"/> bytes (or the whole image, if shorter) are in; else null.</summary>
    public ImageFormat? Format
    {
        get
        {
            Analyze();
            return _format;
        }
    }

    /// <summary>The image's length, once <see cref="SetLength"/> told it.</summary>
    public long? Length => _length;

    /// <summary>Bytes held for header regions so far (the stream's bound: never above <see cref="MaxCapturedBytes"/>).</summary>
    public int CapturedBytes => _captured;

    /// <summary>
    /// The first range the inspector still needs, or null when it has all it needs. Before <see cref="SetLength"/>
    /// a range may reach past the end of the image; afterwards ranges are clipped to it.
    /// </summary>
    public ByteRange? NextWanted
    {
        get
        {
            Analyze();
            if (_result is not null && _length is not null)
            {
                return null;
            }

            ByteRange? first = null;
            foreach (var region in _regions)
            {
                if (region.FirstGap(_length) is { } gap && (first is null || gap.Offset < first.Value.Offset))
                {
                    first = gap;
                }
            }

            return first;
        }
    }

    /// <summary>Gives the inspector the image's bytes at <paramref name="offset"/>; it keeps those it needs.</summary>
    public void Feed(long offset, ReadOnlySpan<byte> data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (data.IsEmpty)
        {
            return;
        }

        KeepTail(offset, data);
        if (_result is null)
        {
            _dirty = true;
        }

        // Parsing a region can ask for another that this same chunk holds: capture until nothing new is asked.
        var count = -1;
        while (count != _regions.Count)
        {
            count = _regions.Count;
            foreach (var region in _regions)
            {
                if (region.Fill(offset, data))
                {
                    _dirty = true;
                }
            }

            Analyze();
        }
    }

    /// <summary>Tells the image's total length (the end of the upload, or the stored file's size).</summary>
    public void SetLength(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _length = length;
        _result = null;
        _dirty = true;
        Analyze();
    }

    /// <summary>
    /// The verdict. Call after <see cref="SetLength"/> and after feeding every <see cref="NextWanted"/> range;
    /// a range left out makes the image unsafe (the inspector cannot vouch for bytes it did not see).
    /// </summary>
    public ImageInspection Inspect()
    {
        if (_length is null)
        {
            throw new InvalidOperationException("SetLength must be called before Inspect.");
        }

        Analyze();
        if (_result is not null)
        {
            return _result;
        }

        var missing = NextWanted;
        var what = missing is { } m ? $"bytes {m.Offset}..{m.End - 1}" : "a header region";
        return new Findings(_format ?? ImageFormat.Raw).Problem($"{what} of the image were not inspected").Build();
    }

    private void Analyze()
    {
        if (!_dirty)
        {
            return;
        }

        _dirty = false;
        _result = Run();
        if (_result is null && _overBudget)
        {
            _result = new Findings(_format ?? ImageFormat.Raw).Problem($"its header regions exceed {MaxCapturedBytes} bytes").Build();
        }
    }

    private ImageInspection? Run()
    {
        if (!Need(0, HeadSize, out var head))
        {
            return null;
        }

        _format = Detect(head);
        return _format switch
        {
            ImageFormat.Qcow2 or ImageFormat.Qcow => InspectQcow(head),
            ImageFormat.Qed => InspectQed(head),
            ImageFormat.Vmdk => InspectVmdk(head),
            ImageFormat.Vhd => InspectVhd(head),
            ImageFormat.Vhdx => InspectVhdx(),
            ImageFormat.Vdi => InspectVdi(head),
            ImageFormat.Luks => new Findings(ImageFormat.Luks).Problem("luks encrypted images are not supported").Build(),
            ImageFormat.Parallels => InspectParallels(head),
            _ => InspectRaw(_format.Value),
        };
    }

    /// <summary>
    /// The bytes [offset, offset+length), clipped to the image's end once known. False while they are not all
    /// in yet; the range is then remembered and shows up in <see cref="NextWanted"/>.
    /// </summary>
    private bool Need(long offset, int length, out ReadOnlySpan<byte> data)
    {
        data = default;
        if (_length is { } total)
        {
            length = (int)Math.Clamp(total - offset, 0, length);
        }

        if (length == 0)
        {
            return true;
        }

        var tailStart = _tailEnd - _tailCount;
        if (offset >= tailStart && offset + length <= _tailEnd)
        {
            data = _tail.AsSpan(TailSize - _tailCount + (int)(offset - tailStart), length);
            return true;
        }

        foreach (var region in _regions)
        {
            if (region.Contains(offset, length))
            {
                if (!region.Covers(offset, length))
                {
                    return false;
                }

                data = region.Slice(offset, length);
                return true;
            }
        }

        if (_captured + length > MaxCapturedBytes)
        {
            _overBudget = true;
            return false;
        }

        _captured += length;
        _regions.Add(new Region(offset, length));
        return false;
    }

    private void KeepTail(long offset, ReadOnlySpan<byte> data)
    {
        var end = offset + data.Length;
        if (end < _tailEnd)
        {
            return;
        }

        if (data.Length >= TailSize)
        {
            data[^TailSize..].CopyTo(_tail);
            _tailCount = TailSize;
        }
        else if (offset == _tailEnd)
        {
            var keep = Math.Min(_tailCount, TailSize - data.Length);
            _tail.AsSpan(TailSize - keep, keep).CopyTo(_tail.AsSpan(TailSize - keep - data.Length));
            data.CopyTo(_tail.AsSpan(TailSize - data.Length));
            _tailCount = keep + data.Length;
        }
        else
        {
            data.CopyTo(_tail.AsSpan(TailSize - data.Length));
            _tailCount = data.Length;
        }

        _tailEnd = end;
    }

    /// <summary>One wanted range and the parts of it seen so far.</summary>
    private sealed class Region(long offset, int length)
    {
        private readonly byte[] _data = new byte[length];

        // Filled sub-ranges, sorted and merged, relative to the region's start.
        private readonly List<(int Start, int End)> _filled = [];

        public long Offset { get; } = offset;

        public long End => Offset + _data.Length;

        public bool Contains(long offset, int length) => offset >= Offset && offset + length <= End;

        public bool Covers(long offset, int length)
        {
            var start = (int)(offset - Offset);
            return _filled.Exists(f => f.Start <= start && f.End >= start + length);
        }

        public ReadOnlySpan<byte> Slice(long offset, int length) => _data.AsSpan((int)(offset - Offset), length);

        /// <summary>Copies the overlap of the fed bytes; true when that added bytes not seen before.</summary>
        public bool Fill(long offset, ReadOnlySpan<byte> data)
        {
            var start = Math.Max(offset, Offset);
            var end = Math.Min(offset + data.Length, End);
            if (start >= end)
            {
                return false;
            }

            var relStart = (int)(start - Offset);
            var relEnd = (int)(end - Offset);
            if (_filled.Exists(f => f.Start <= relStart && f.End >= relEnd))
            {
                return false;
            }

            data.Slice((int)(start - offset), relEnd - relStart).CopyTo(_data.AsSpan(relStart));
            Add(relStart, relEnd);
            return true;
        }

        /// <summary>The first part not seen yet, up to the image's end when known.</summary>
        public ByteRange? FirstGap(long? imageLength)
        {
            var limit = imageLength is { } total ? (int)Math.Clamp(total - Offset, 0, _data.Length) : _data.Length;
            var position = 0;
            foreach (var (start, end) in _filled)
            {
                if (start > position)
                {
                    break;
                }

                position = Math.Max(position, end);
            }

            return position >= limit ? null : new ByteRange(Offset + position, NextStart(position, limit) - position);
        }

        private int NextStart(int position, int limit)
        {
            foreach (var (start, _) in _filled)
            {
                if (start > position)
                {
                    return Math.Min(start, limit);
                }
            }

            return limit;
        }

        private void Add(int start, int end)
        {
            var merged = (Start: start, End: end);
            for (var i = _filled.Count - 1; i >= 0; i--)
            {
                var f = _filled[i];
                if (f.End >= merged.Start && f.Start <= merged.End)
                {
                    merged = (Math.Min(f.Start, merged.Start), Math.Max(f.End, merged.End));
                    _filled.RemoveAt(i);
                }
            }

            var at = _filled.FindIndex(f => f.Start > merged.Start);
            _filled.Insert(at < 0 ? _filled.Count : at, merged);
        }
    }
}
