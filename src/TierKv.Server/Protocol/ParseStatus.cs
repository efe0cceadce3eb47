namespace TierKv.Server.Protocol;

/// <summary>Outcome of parsing one command from the front of the input.</summary>
internal enum ParseStatus
{
    /// <summary>A whole command was parsed (its arguments may be zero for an empty line).</summary>
    Complete,

    /// <summary>More bytes are needed.</summary>
    Incomplete,

    /// <summary>The header and all arguments but the last were parsed; the last (large) argument follows in the stream.</summary>
    LargeTail,

    /// <summary>The input breaks the protocol or a frame limit; reply with the error and close.</summary>
    Error,
}
