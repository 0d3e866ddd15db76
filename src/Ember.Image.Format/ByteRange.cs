namespace Ember.Image.Format;

/// <summary>A range of the image's bytes that the inspector wants to see.</summary>
public readonly record struct ByteRange(long Offset, int Length)
{
    public long End => Offset + Length;
}
