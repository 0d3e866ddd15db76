namespace Ember.Server.Common;

/// <summary>A field of a partial update (PATCH/PUT): left out, so what is there stays, or given, possibly as null.</summary>
public readonly record struct Optional<T>(T Value)
{
    public bool IsGiven { get; } = true;

    public T Or(T current) => IsGiven ? Value : current;
}
