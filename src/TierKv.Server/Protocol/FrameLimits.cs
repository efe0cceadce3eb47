namespace TierKv.Server.Protocol;

/// <summary>Frame limits the parser enforces (see <see cref="ServerOptions"/>).</summary>
/// <param name="MaxArrayLength">Most arguments in one command.</param>
/// <param name="MaxBulkBytes">Largest bulk string (a value).</param>
/// <param name="MaxLineBytes">Longest inline command.</param>
/// <param name="LargeArgBytes">Arguments longer than this must be the command's last one; they are streamed, not buffered.</param>
/// <param name="MaxCommandBytes">Most bytes of a command's buffered part (everything but a large last argument).</param>
internal readonly record struct FrameLimits(int MaxArrayLength, long MaxBulkBytes, int MaxLineBytes, int LargeArgBytes, int MaxCommandBytes);
