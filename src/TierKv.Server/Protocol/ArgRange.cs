namespace TierKv.Server.Protocol;

/// <summary>Where one argument of a parsed command lies in the parsed span.</summary>
internal readonly record struct ArgRange(int Offset, int Length);
