using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TierKv.Server;

/// <summary>TLS on the RESP listener: a PKCS#12 file, or a PEM certificate and key.</summary>
public sealed record TlsOptions
{
    /// <summary>Certificate file (.pfx/.p12, or PEM with <see cref="KeyPath"/>); TLS is off when empty.</summary>
    public string? CertificatePath { get; init; }

    /// <summary>PEM private key file (with a PEM certificate).</summary>
    public string? KeyPath { get; init; }

    /// <summary>Password of a PKCS#12 file.</summary>
    public string? Password { get; init; }

    /// <summary>Whether TLS is on.</summary>
    public bool Enabled => !string.IsNullOrEmpty(CertificatePath);

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (Enabled && !File.Exists(CertificatePath))
        {
            throw new ArgumentException($"Server:Tls:CertificatePath '{CertificatePath}' does not exist.");
        }

        if (!string.IsNullOrEmpty(KeyPath) && !File.Exists(KeyPath))
        {
            throw new ArgumentException($"Server:Tls:KeyPath '{KeyPath}' does not exist.");
        }

        // A file of the wrong kind fails here, at start, with its name, not later as a crash of the listener.
        using var certificate = Load();
    }

    /// <summary>The certificate (null when TLS is off); throws <see cref="ArgumentException"/> naming the file that does not load.</summary>
    public X509Certificate2? Load()
    {
        if (!Enabled)
        {
            return null;
        }

        try
        {
            return string.IsNullOrEmpty(KeyPath)
                ? X509CertificateLoader.LoadPkcs12FromFile(CertificatePath!, Password)
                : X509Certificate2.CreateFromPemFile(CertificatePath!, KeyPath);
        }
        catch (CryptographicException ex)
        {
            string expected = string.IsNullOrEmpty(KeyPath)
                ? "is not a PKCS#12 (.pfx/.p12) certificate with its key, or the password is wrong (a PEM certificate needs Server:Tls:KeyPath)"
                : $"and Server:Tls:KeyPath '{KeyPath}' are not a PEM certificate and its private key";
            throw new ArgumentException($"Server:Tls:CertificatePath '{CertificatePath}' {expected}: {ex.Message}", ex);
        }
    }
}
