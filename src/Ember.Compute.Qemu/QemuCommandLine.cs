using System.Text.Json.Nodes;

namespace Ember.Compute.Qemu;

/// <summary>Builds the QEMU argument list and the block/device descriptions shared by the command line and QMP hot-plug.</summary>
internal static class QemuCommandLine
{
    public const string QmpSocketName = "qmp.sock";
    public const string AgentSocketName = "qga.sock";
    public const string ConsoleSocketName = "console.sock";
    public const string ConsoleLogName = "console.log";
    public const string PidFileName = "qemu.pid";
    public const string AgentPortName = "org.qemu.guest_agent.0";

    /// <summary>sun_path is 108 bytes including the terminating NUL.</summary>
    public const int MaxUnixSocketPath = 107;

    /// <summary>
    /// Seconds the nbd driver holds guest I/O while reconnecting to a restarted NBD server: long enough for a controller
    /// restart (an upgrade, a crash and its supervisor), short enough that a guest whose server is gone gets EIO before
    /// its kernel reports hung tasks (120 s).
    /// </summary>
    public const int NbdReconnectDelaySeconds = 30;

    public static List<string> Build(QemuMachineSpec spec, string accelerator)
    {
        var dir = spec.InstanceDir;
        var args = new List<string>
        {
            "-name", "guest=" + Escape(spec.Id) + ",debug-threads=on",
            "-machine", "pc",
            "-accel", accelerator,
        };
        if (Guid.TryParse(spec.Id, out var uuid))
        {
            args.AddRange(["-uuid", uuid.ToString()]);
        }

        if (accelerator == "kvm")
        {
            args.AddRange(["-cpu", "host"]);
        }

        args.AddRange(
        [
            "-m", spec.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-smp", spec.Vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-display", "none",
            "-boot", "strict=on",
            "-rtc", "base=utc",
            "-msg", "timestamp=on",
            "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            "-pidfile", Path.Combine(dir, PidFileName),
            "-chardev", $"socket,id=qmp,path={Escape(Path.Combine(dir, QmpSocketName))},server=on,wait=off",
            "-mon", "chardev=qmp,mode=control",
            "-chardev", $"socket,id=console,path={Escape(Path.Combine(dir, ConsoleSocketName))},server=on,wait=off,"
                + $"logfile={Escape(Path.Combine(dir, ConsoleLogName))},logappend=on",
            "-serial", "chardev:console",
            "-chardev", $"socket,id=qga0,path={Escape(Path.Combine(dir, AgentSocketName))},server=on,wait=off",
            "-device", "virtio-serial-pci,id=virtio-serial0",
            "-device", $"virtserialport,bus=virtio-serial0.0,chardev=qga0,name={AgentPortName}",
            "-object", "rng-random,id=rng0,filename=/dev/urandom",
            "-device", "virtio-rng-pci,rng=rng0",
        ]);

        // PCI slots are handed out in order (command line, then device_add) and Linux probes virtio-blk in slot
        // order, so the root disk is vda and the boot-time volumes follow as vdb, vdc, ... NBD disks are not
        // here: their export names are credentials and /proc/PID/cmdline is readable by every local user. The
        // driver adds them over QMP before the CPUs start (QemuMachine.AddBootDisksAsync).
        if (spec.Kernel is { } kernel)
        {
            args.AddRange(["-kernel", Path.GetFullPath(kernel.KernelPath), "-append", kernel.CommandLine]);
            if (kernel.RamdiskPath is { } ramdisk)
            {
                args.AddRange(["-initrd", Path.GetFullPath(ramdisk)]);
            }
        }

        // With a kernel to boot the root disk is no boot device: the firmware runs QEMU's kernel loader (bootindex 0).
        if (spec.RootDisk is FileDisk)
        {
            args.AddRange(["-blockdev", Blockdev(spec.RootDisk).ToJsonString(),
                "-device", Device(spec.RootDisk, bootIndex: spec.Kernel is null ? 0 : null).ToJsonString()]);
        }

        if (spec.RescuedRoot is { } rescued)
        {
            args.AddRange(["-blockdev", Blockdev(rescued).ToJsonString(), "-device", Device(rescued, bootIndex: null).ToJsonString()]);
        }

        // The PIIX IDE controller is part of the pc machine; a CD-ROM there leaves the virtio disk names alone.
        if (spec.ConfigDrive is { } configDrive)
        {
            var blockdev = new JsonObject
            {
                ["driver"] = "raw",
                ["node-name"] = "node-config",
                ["read-only"] = true,
                ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = Path.GetFullPath(configDrive), ["read-only"] = true },
            };
            args.AddRange(["-blockdev", blockdev.ToJsonString(), "-device", "ide-cd,bus=ide.1,unit=0,drive=node-config,id=config-drive"]);
        }

        foreach (var nic in spec.Nics ?? [])
        {
            args.AddRange(["-netdev", Netdev(nic), "-device", NicDevice(nic).ToJsonString()]);
        }

        // Paused until the driver has connected QMP, added the NBD disks and sent "cont": no event is missed.
        args.Add("-S");
        return args;
    }

    /// <summary>The <c>-blockdev</c> / <c>blockdev-add</c> description of a disk.</summary>
    public static JsonObject Blockdev(QemuDisk disk) => disk switch
    {
        FileDisk file => WithBacking(new JsonObject
        {
            ["driver"] = ImageFiles.QemuFormat(file.Format),
            ["node-name"] = file.NodeName,
            ["discard"] = "unmap",
            ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = Path.GetFullPath(file.Path) },
        }, file.Backing),
        NbdDisk nbd => WithTls(nbd, new JsonObject
        {
            ["driver"] = "nbd",
            ["node-name"] = nbd.NodeName,
            ["server"] = nbd.UnixSocketPath is { } socket
                ? new JsonObject { ["type"] = "unix", ["path"] = socket }
                : new JsonObject
                {
                    ["type"] = "inet",
                    ["host"] = nbd.Host ?? throw new QemuException($"disk {nbd.DeviceName}: NBD needs a unix socket path or a host"),
                    ["port"] = nbd.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), // QAPI InetSocketAddress.port is a string
                },
            ["export"] = nbd.ExportName,
            ["read-only"] = nbd.ReadOnly,
            ["discard"] = "unmap",
            ["reconnect-delay"] = NbdReconnectDelaySeconds,
            // Host page cache off for shared disks, as libvirt does for <shareable/>. It changes nothing on the
            // NBD wire (reference nbd.md §4); the device's write-cache=off below is what makes writes FUA.
            ["cache"] = new JsonObject { ["direct"] = nbd.Shareable },
        }),
        RbdDisk rbd => new JsonObject
        {
            ["driver"] = "rbd",
            ["node-name"] = rbd.NodeName,
            ["pool"] = rbd.Pool,
            ["image"] = rbd.Image,
            ["server"] = new JsonArray([.. rbd.Monitors.Select(Monitor)]),
            ["user"] = rbd.User,
            ["auth-client-required"] = new JsonArray("cephx"),
            ["key-secret"] = rbd.KeyObjectId,
            ["read-only"] = rbd.ReadOnly,
            ["discard"] = "unmap",
            // As for NBD: no host cache for a disk another host writes too (Cinder's rbd multi-attach asks the same).
            ["cache"] = new JsonObject { ["direct"] = rbd.Shareable },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(disk)),
    };

    /// <summary>A monitor <c>host:port</c> (or <c>[v6]:port</c>) as QAPI's InetSocketAddressBase.</summary>
    private static JsonObject Monitor(string monitor)
    {
        var colon = monitor.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(monitor.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            throw new QemuException($"a Ceph monitor must be host:port, not '{monitor}'");
        }

        return new JsonObject { ["host"] = monitor[..colon].Trim('[', ']'), ["port"] = monitor[(colon + 1)..] };
    }

    /// <summary>
    /// The <c>object-add</c> arguments of what opens a network disk, or null: the TLS client credentials of an NBD
    /// disk over TCP, the cephx key of an RBD disk (as QMP data over QEMU's private socket, never in argv or a file).
    /// </summary>
    public static JsonObject? CredentialObject(NetworkDisk disk) => disk switch
    {
        NbdDisk { UsesTls: true } nbd => new JsonObject
        {
            ["qom-type"] = "tls-creds-x509",
            ["id"] = nbd.TlsObjectId,
            ["dir"] = Path.GetFullPath(nbd.TlsCredentialsDir!),
            ["endpoint"] = "client",
            ["verify-peer"] = true,
        },
        RbdDisk rbd => new JsonObject
        {
            ["qom-type"] = "secret",
            ["id"] = rbd.KeyObjectId,
            ["data"] = rbd.Key.Base64,
            ["format"] = "base64",
        },
        _ => null,
    };

    // Block drivers with a "backing" option (BlockdevOptionsGenericCOWFormat in QAPI).
    private static readonly string[] s_backingDrivers = ["qcow2", "qed", "vmdk"];

    /// <summary>
    /// Names the overlay's base explicitly: its file and format, and no backing of its own, so a chain named
    /// in an image header is never followed (the image inspector refuses such images; this is the second wall).
    /// </summary>
    private static JsonObject WithBacking(JsonObject node, ImageBase? backing)
    {
        if (backing is null)
        {
            return node;
        }

        var driver = ImageFiles.QemuFormat(backing.Format);
        var baseNode = new JsonObject
        {
            ["driver"] = driver,
            ["read-only"] = true,
            ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = Path.GetFullPath(backing.Path), ["read-only"] = true },
        };
        if (s_backingDrivers.Contains(driver))
        {
            baseNode["backing"] = null;
        }

        node["backing"] = baseNode;
        return node;
    }

    private static JsonObject WithTls(NbdDisk disk, JsonObject blockdev)
    {
        if (disk.UsesTls)
        {
            // tls-hostname defaults to server.host, which the server's certificate must name.
            blockdev["tls-creds"] = disk.TlsObjectId;
        }

        return blockdev;
    }

    /// <summary>
    /// The <c>-netdev</c> of a NIC: the existing tap by name, no up/down scripts (the host's network plane owns the
    /// tap and its bridge), no vhost (it needs KVM's ioeventfd; under TCG QEMU's own virtio-net is what works).
    /// </summary>
    public static string Netdev(QemuNic nic) =>
        $"tap,id={nic.NetdevId},ifname={Escape(nic.TapName)},script=no,downscript=no,vhost=off";

    /// <summary>The <c>-device</c> / <c>device_add</c> description of a NIC.</summary>
    public static JsonObject NicDevice(QemuNic nic)
    {
        var device = new JsonObject
        {
            ["driver"] = "virtio-net-pci",
            ["id"] = nic.DeviceId,
            ["netdev"] = nic.NetdevId,
            ["mac"] = nic.MacAddress,
        };
        if (nic.Mtu is { } mtu)
        {
            device["host_mtu"] = mtu;
        }

        return device;
    }

    /// <summary>The <c>-device</c> / <c>device_add</c> description of a disk.</summary>
    public static JsonObject Device(QemuDisk disk, int? bootIndex)
    {
        var device = new JsonObject
        {
            ["driver"] = "virtio-blk-pci",
            ["id"] = disk.DeviceId,
            ["drive"] = disk.NodeName,
        };
        if (disk.TruncatedSerial is { } serial)
        {
            device["serial"] = serial;
        }

        if (bootIndex is { } index)
        {
            device["bootindex"] = index;
        }

        if (disk is NetworkDisk { Shareable: true })
        {
            // Two guests write the same volume: allow it, and turn the guest-visible write cache off so
            // every acknowledged write is durable on the server (FUA) before the guest sees completion.
            device["share-rw"] = true;
            device["write-cache"] = "off";
        }

        return device;
    }

    /// <summary>The arguments as one line for the log, quoted where a shell would split them (never run as a shell line).</summary>
    public static string ForLog(IEnumerable<string> arguments) =>
        string.Join(' ', arguments.Select(argument => argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '{' or '$')
            ? "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'"
            : argument));

    /// <summary>QEMU's key=value option syntax escapes a comma by doubling it.</summary>
    public static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    public static void ValidateSocketPath(string path)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(path) > MaxUnixSocketPath)
        {
            throw new QemuException($"unix socket path too long ({path.Length} > {MaxUnixSocketPath} bytes): {path}; use a shorter instance directory");
        }
    }
}
