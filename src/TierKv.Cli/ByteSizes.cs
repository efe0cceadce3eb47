using System.Globalization;

namespace TierKv.Cli;

/// <summary>
/// Sizes on the command line (<c>4194304</c>, <c>512k</c>, <c>4m</c>, <c>4MiB</c>, <c>2g</c>, <c>1t</c>: binary multiples),
/// and the check that memory asked for fits this machine: a tier larger than physical memory is refused with a message
/// before anything is allocated, rather than failing later with an out-of-memory crash or swapping the host to a halt.
/// </summary>
internal static class ByteSizes
{
    /// <summary>Parses <paramref name="text"/>; false when it is not a positive size that fits a long.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var t = text.Trim().ToLowerInvariant().Replace("ib", "", StringComparison.Ordinal).TrimEnd('b');
        long mult = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            mult = t[^1] switch
            {
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                _ => 0,
            };
            t = t[..^1];
        }

        if (mult == 0 || !double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v <= 0 || v * mult >= long.MaxValue)
        {
            return false;
        }

        bytes = (long)(v * mult);
        return bytes > 0;
    }

    /// <summary>Parses <paramref name="text"/> given to <paramref name="flag"/>; throws naming the flag.</summary>
    public static long Parse(string text, string flag) =>
        TryParse(text, out long bytes) ? bytes : throw new ArgumentException(NotASize(flag, text));

    /// <summary>
    /// Validates an optional size flag: it parses, is at most <paramref name="max"/>, and with <paramref name="inMemory"/>
    /// fits this machine's physical memory.
    /// </summary>
    public static ValidationResult Validate(string? text, string flag, bool inMemory, long max = long.MaxValue)
    {
        if (text is null)
        {
            return ValidationResult.Success();
        }

        if (!TryParse(text, out long bytes))
        {
            return ValidationResult.Error(NotASize(flag, text));
        }

        if (bytes > max)
        {
            return ValidationResult.Error($"{flag} {text} is more than the largest allowed, {Format(max)}.");
        }

        return inMemory ? FitsMemory(bytes, $"{flag} {text}") : ValidationResult.Success();
    }

    /// <summary>Error unless <paramref name="bytes"/>, asked for by <paramref name="what"/> (the flags and values), fit physical memory.</summary>
    public static ValidationResult FitsMemory(long bytes, string what)
    {
        long total = PhysicalMemory;
        return total > 0 && bytes > total
            ? ValidationResult.Error($"{what} needs {Format(bytes)} of memory, more than this machine has ({Format(total)}).")
            : ValidationResult.Success();
    }

    /// <summary>Memory this process may use: physical memory, or the container's limit where lower (0 if unknown).</summary>
    public static long PhysicalMemory => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary><paramref name="bytes"/> in the largest binary unit that keeps a digit before the point.</summary>
    public static string Format(long bytes) =>
        bytes >= 1L << 40 ? Unit(bytes, 40, "TiB") : bytes >= 1L << 30 ? Unit(bytes, 30, "GiB") : bytes >= 1L << 20 ? Unit(bytes, 20, "MiB") : bytes >= 1L << 10 ? Unit(bytes, 10, "KiB") : $"{bytes} bytes";

    private static string Unit(long bytes, int shift, string unit) => (bytes / (double)(1L << shift)).ToString("0.#", CultureInfo.InvariantCulture) + " " + unit;

    private static string NotASize(string flag, string text) => $"{flag} '{text}' is not a size (expected bytes or a number with k, m, g or t, e.g. 4194304, 512m, 4g).";
}
