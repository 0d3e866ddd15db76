using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ember.Nbd;

/// <summary>
/// The x509 credentials of the TCP listener: a small CA of Ember's own, the server's certificate, and one client
/// certificate, as PEM files in QEMU's <c>tls-creds-x509</c> layout. Clients must present a certificate issued by
/// this CA (nothing else is trusted, not even the system's roots).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class NbdTlsCredentials : IDisposable
{
    public const string CaCertFile = "ca-cert.pem";
    public const string CaKeyFile = "ca-key.pem";
    public const string ServerCertFile = "server-cert.pem";
    public const string ServerKeyFile = "server-key.pem";
    public const string ClientCertFile = "client-cert.pem";
    public const string ClientKeyFile = "client-key.pem";

    /// <summary>Subdirectory with what a client needs (ca-cert.pem, client-cert.pem, client-key.pem).</summary>
    public const string ClientDirectoryName = "client";

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";
    private const UnixFileMode PrivateDir = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private NbdTlsCredentials(string directory, X509Certificate2 authority, X509Certificate2 server)
    {
        Directory = directory;
        CertificateAuthority = authority;
        ServerCertificate = server;
        ServerOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(server, additionalCertificates: null, offline: true),
            ClientCertificateRequired = true,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => IsIssuedClient(certificate),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13, // the NBD spec's minimum is 1.2
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
    }

    /// <summary>The directory holding the CA, server and (under <see cref="ClientDirectoryName"/>) client files.</summary>
    public string Directory { get; }

    /// <summary>What QEMU's <c>tls-creds-x509,endpoint=client,dir=...</c> or libnbd's <c>tls-certificates=</c> wants.</summary>
    public string ClientDirectory => Path.Combine(Directory, ClientDirectoryName);

    public X509Certificate2 CertificateAuthority { get; }

    public X509Certificate2 ServerCertificate { get; }

    internal SslServerAuthenticationOptions ServerOptions { get; }

    /// <summary>
    /// Loads the credentials in <paramref name="directory"/>, creating the CA, the server certificate (valid for
    /// <paramref name="serverNames"/>: DNS names or IP addresses) and a client certificate on first use. A server
    /// certificate that does not cover a requested name is re-issued by the same CA; client certificates stay valid.
    /// Directories are 0700 and keys 0600 from creation.
    /// </summary>
    public static NbdTlsCredentials LoadOrCreate(string directory, IEnumerable<string> serverNames)
    {
        directory = Path.GetFullPath(directory);
        var names = serverNames.Where(n => !string.IsNullOrWhiteSpace(n)).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        if (!File.Exists(Path.Combine(directory, CaKeyFile)) || !File.Exists(Path.Combine(directory, ClientDirectoryName, ClientKeyFile)))
            CreateAll(directory, names);
        using var caKey = LoadKey(Path.Combine(directory, CaKeyFile));
        var ca = LoadCertificate(Path.Combine(directory, CaCertFile));
        var server = X509Certificate2.CreateFromPemFile(Path.Combine(directory, ServerCertFile), Path.Combine(directory, ServerKeyFile));
        if (!Covers(server, names) || server.NotAfter < DateTime.Now.AddDays(30))
        {
            server.Dispose();
            using var caWithKey = ca.CopyWithPrivateKey(caKey);
            WriteLeaf(caWithKey, "CN=ember-nbd-server", ServerAuth, names, directory, ServerCertFile, ServerKeyFile);
            server = X509Certificate2.CreateFromPemFile(Path.Combine(directory, ServerCertFile), Path.Combine(directory, ServerKeyFile));
        }
        return new NbdTlsCredentials(directory, ca, server);
    }

    /// <summary>
    /// Issues another client certificate from the CA in <paramref name="caDirectory"/> into <paramref name="clientDirectory"/>
    /// (with a copy of ca-cert.pem): for a second compute host.
    /// </summary>
    public static void IssueClient(string caDirectory, string clientDirectory, string commonName)
    {
        using var caKey = LoadKey(Path.Combine(caDirectory, CaKeyFile));
        using var caCert = LoadCertificate(Path.Combine(caDirectory, CaCertFile));
        using var ca = caCert.CopyWithPrivateKey(caKey);
        System.IO.Directory.CreateDirectory(clientDirectory, PrivateDir);
        WriteFile(Path.Combine(clientDirectory, CaCertFile), ca.ExportCertificatePem());
        WriteLeaf(ca, "CN=" + commonName, ClientAuth, [], clientDirectory, ClientCertFile, ClientKeyFile);
    }

    /// <summary>True for a client certificate that chains to our CA (and only to it) and allows client authentication.</summary>
    public bool IsIssuedClient(X509Certificate? certificate)
    {
        if (certificate is not X509Certificate2 cert)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(CertificateAuthority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuth));
        return chain.Build(cert);
    }

    public void Dispose()
    {
        ServerCertificate.Dispose();
        CertificateAuthority.Dispose();
    }

    private static void CreateAll(string directory, string[] serverNames)
    {
        // Built aside and renamed into place: a crash half-way never leaves a CA without its client files.
        var parent = Path.GetDirectoryName(directory)!;
        System.IO.Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, Path.GetFileName(directory) + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(staging, PrivateDir);
        try
        {
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=Ember NBD CA", caKey, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
            using var ca = request.CreateSelfSigned(notBefore, notBefore.AddYears(10));
            WriteFile(Path.Combine(staging, CaKeyFile), caKey.ExportPkcs8PrivateKeyPem());
            WriteFile(Path.Combine(staging, CaCertFile), ca.ExportCertificatePem());
            WriteLeaf(ca, "CN=ember-nbd-server", ServerAuth, serverNames, staging, ServerCertFile, ServerKeyFile);
            var client = Path.Combine(staging, ClientDirectoryName);
            System.IO.Directory.CreateDirectory(client, PrivateDir);
            WriteFile(Path.Combine(client, CaCertFile), ca.ExportCertificatePem());
            WriteLeaf(ca, "CN=ember-compute", ClientAuth, [], client, ClientCertFile, ClientKeyFile);
            if (System.IO.Directory.Exists(directory))
                System.IO.Directory.Delete(directory, recursive: true); // an incomplete set from an older crash
            System.IO.Directory.Move(staging, directory);
        }
        catch
        {
            System.IO.Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    private static void WriteLeaf(X509Certificate2 ca, string subject, string usage, string[] names, string directory, string certFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        // QEMU's tls-creds-x509 checks refuse a leaf whose critical key usage lacks key encipherment.
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (names.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var ip))
                    san.AddIpAddress(ip);
                else
                    san.AddDnsName(name);
            }
            request.CertificateExtensions.Add(san.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        var notAfter = notBefore.AddYears(2);
        if (notAfter > ca.NotAfter)
            notAfter = ca.NotAfter;
        using var cert = request.Create(ca, notBefore, notAfter, serial);
        // Key first, certificate second: a reader never finds a certificate without its key.
        WriteFile(Path.Combine(directory, keyFile), key.ExportPkcs8PrivateKeyPem());
        WriteFile(Path.Combine(directory, certFile), cert.ExportCertificatePem());
    }

    private static bool Covers(X509Certificate2 certificate, string[] names)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
            return names.Length == 0;
        var dns = san.EnumerateDnsNames().ToHashSet(StringComparer.OrdinalIgnoreCase);
        var ips = san.EnumerateIPAddresses().ToHashSet();
        return names.All(n => IPAddress.TryParse(n, out var ip) ? ips.Contains(ip) : dns.Contains(n));
    }

    private static X509Certificate2 LoadCertificate(string path) => X509Certificate2.CreateFromPem(File.ReadAllText(path));

    private static ECDsa LoadKey(string path)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(path));
        return key;
    }

    private static void WriteFile(string path, string text)
    {
        // Created 0600 (no chmod window), written aside and renamed so a reader never sees half a key.
        var temp = path + ".tmp";
        File.Delete(temp);
        using (var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = PrivateFile,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
        }
        File.Move(temp, path, overwrite: true);
    }
}
