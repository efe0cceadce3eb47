namespace TierKv.Engine.Planning;

/// <summary>What the planner decided for one request.</summary>
/// <param name="LoadChunks">Leading chunks to load from TierKV; the rest of the prompt is recomputed.</param>
/// <param name="LoadTokens">Leading tokens to load.</param>
/// <param name="PredictedLoadSeconds">Predicted time to load them.</param>
/// <param name="PredictedSavedSeconds">Predicted prefill time they save.</param>
/// <param name="Reason">Why, in a few words (for logs and the demo).</param>
public sealed record LoadPlan(int LoadChunks, int LoadTokens, double PredictedLoadSeconds, double PredictedSavedSeconds, string Reason);
