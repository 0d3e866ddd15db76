namespace Ember.Nbd.Protocol;

/// <summary>NBD wire constants (big-endian on the wire).</summary>
public static class NbdMagic
{
    public const ulong InitPasswd = 0x4e42444d41474943; // "NBDMAGIC"
}
