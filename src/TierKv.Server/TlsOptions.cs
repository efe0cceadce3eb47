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
    }
}
