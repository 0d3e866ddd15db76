namespace Ember.Nbd;

/// <summary>The NBD server.</summary>
public sealed class NbdServer
{
}
