namespace TierKv.Cli.Flags;

/// <summary>
/// <c>--model</c> as a named model shape (<see cref="ModelShapes"/>): its KV layout sizes the chunks a command moves
/// and its prefill cost prices the tokens a cache saves. The demos and <c>generate</c> take other models (synthetic
/// transformers, model files) and declare their own <c>--model</c>.
/// </summary>
internal abstract class ModelSettings : JsonSettings
{
    /// <summary>The shape's name.</summary>
    [CommandOption("--model")]
    [Description("Model shape: its KV layout sizes the chunks, its prefill cost prices saved tokens (llama3.2-1b, llama3-8b, llama3-70b).")]
    [DefaultValue("llama3-8b")]
    public string Model { get; init; } = "llama3-8b";

    /// <summary>The named shape; an unknown name is an <see cref="ArgumentException"/> that lists the known ones.</summary>
    public ModelShapes.Shape Shape() => ModelShapes.Get(Model);
}
