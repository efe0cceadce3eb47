using System.Diagnostics;
using System.Reflection;

namespace TierKv.Tests;

/// <summary>
/// Whether an assembly was compiled with optimizations. Zero-allocation guarantees are made for optimized (Release)
/// builds: .NET's JIT keeps small objects that do not escape (boxes, closures) on the stack only when it optimizes, so a
/// Debug build allocates where Release does not. Linked into the test projects that measure allocations.
/// </summary>
internal static class OptimizedBuild
{
    /// <summary>True when the assembly that defines <paramref name="type"/> was built with the JIT optimizer on.</summary>
    public static bool Of(Type type) =>
        type.Assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };

    public const string SkipReason = "allocation guarantees are for optimized builds (dotnet test -c Release, as CI runs); this is a Debug build";
}
