using System.Diagnostics;
using System.Reflection;
using TierKv.Tiers;

namespace TierKv.Core.Tests;

/// <summary>
/// Whether TierKv.Core was compiled with optimizations. Zero-allocation guarantees are made for optimized (Release)
/// builds: .NET's JIT keeps small objects that do not escape (boxes, closures) on the stack only when it optimizes, so a
/// Debug build allocates where Release does not.
/// </summary>
internal static class OptimizedBuild
{
    public static bool Core { get; } =
        typeof(HostMemoryTier).Assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };

    public const string SkipReason = "allocation guarantees are for optimized builds (dotnet test -c Release, as CI runs); this is a Debug build";
}
