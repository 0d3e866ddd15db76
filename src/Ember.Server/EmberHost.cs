namespace Ember.Server;

/// <summary>Builds and runs the all-in-one control plane.</summary>
public static class EmberHost
{
}
