namespace TierKv.Cli.Flags;

/// <summary>
/// A settings class's checks as a list: each rule is a condition that fails and the message naming the flag and what
/// it expects; the first failing rule is the error. Keeps <c>Validate()</c> a table of rules rather than a ladder of
/// ifs, with the order (and so which message wins) as written.
/// </summary>
internal static class SettingsRules
{
    /// <summary>The first rule that fails, as an error with its message; null when every rule holds.</summary>
    public static ValidationResult? FirstFailure(params ReadOnlySpan<(bool Fails, string Message)> rules)
    {
        foreach (var (fails, message) in rules)
        {
            if (fails)
            {
                return ValidationResult.Error(message);
            }
        }

        return null;
    }

    /// <summary>The first rule that fails, as an error with its message; success when every rule holds.</summary>
    public static ValidationResult Check(params ReadOnlySpan<(bool Fails, string Message)> rules) => FirstFailure(rules) ?? ValidationResult.Success();
}
