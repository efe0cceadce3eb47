namespace TierKv.Engine.Model;

/// <summary>
/// Per-layer callbacks of a forward pass, the worker side of a KV connector: <see cref="WaitForLayer"/> before a
/// layer's attention reads cached positions (a pipelined load may still be filling them), <see cref="SaveLayer"/>
/// once a layer's new K and V are written to the pages (an asynchronous save may start copying them out).
/// </summary>
public interface IKvLayerHooks
{
    /// <summary>Blocks until the cached positions of <paramref name="layer"/> are in the pages.</summary>
    void WaitForLayer(int layer);

    /// <summary>Called when <paramref name="layer"/>'s K and V for every position of the pass are in the pages.</summary>
    void SaveLayer(int layer);
}
