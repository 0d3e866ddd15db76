using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// This process's certificate for the calls between Ember processes (a controller calling a compute host, both ways
/// of the mutual TLS): self-signed, made at first start in DATA/host-tls (directory 0700, files 0600) and reused
/// after. No CA vouches for it: each process publishes its SHA-256 fingerprint in its service registry rows and the
/// peer pins that, so the database holds no secret, only which public key to expect.
/// </summary>
public sealed class ServiceCertificate : IDisposable
{
    public const string DirectoryName = "host-tls";
    public const string CertificateFile = "cert.pem";
    public const string KeyFile = "key.pem";

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    public ServiceCertificate(IOptions<EmberOptions> options)
        : this(Path.Combine(options.Value.DataDir, DirectoryName), options.Value.HostName)
    {
    }

    internal ServiceCertificate(string directory, string hostName)
    {
        Directory = directory;
        var certPath = Path.Combine(directory, CertificateFile);
        var keyPath = Path.Combine(directory, KeyFile);
        if (!File.Exists(certPath) || !File.Exists(keyPath))
        {
            Create(directory, hostName, certPath, keyPath);
        }

        var certificate = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        if (certificate.NotAfter < DateTime.Now.AddDays(30))
        {
            // A new one, whose fingerprint the next heartbeat publishes; peers pin the new row from then on.
            certificate.Dispose();
            Create(directory, hostName, certPath, keyPath);
            certificate = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        }

        Certificate = certificate;
        Sha256 = FingerprintOf(Certificate);
    }

    public string Directory { get; }

    /// <summary>The certificate with its private key, for the listener and the client alike.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Lower-case hex of the SHA-256 of the certificate's DER: what the registry publishes and peers pin.</summary>
    public string Sha256 { get; }

    public static string FingerprintOf(X509Certificate certificate) => Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));

    public void Dispose() => Certificate.Dispose();

    private static void Create(string directory, string hostName, string certPath, string keyPath)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(directory, DataDirectory.PrivateDirectory);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ember " + hostName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        // One certificate per process: it serves (a compute host's listener) and it calls (a controller).
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuth), new Oid(ClientAuth)], false));
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var certificate = request.CreateSelfSigned(notBefore, notBefore.AddYears(10));
        // Key first: a reader never finds a certificate without its key.
        DataDirectory.WritePrivateFile(keyPath, key.ExportPkcs8PrivateKeyPem());
        DataDirectory.WritePrivateFile(certPath, certificate.ExportCertificatePem());
    }
}
