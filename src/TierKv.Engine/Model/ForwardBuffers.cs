using System.Runtime.InteropServices;

namespace TierKv.Engine.Model;

/// <summary>Activation buffers of one forward pass, native and 64-byte aligned, freed together.</summary>
internal sealed unsafe class ForwardBuffers : IDisposable
{
    private readonly List<nint> _blocks = [];

    public ForwardBuffers(int rows, int hidden, int qkvStride, int qDim, int outStride, int gateUpStride, int intermediate)
    {
        X = Alloc((long)rows * hidden);
        H = Alloc((long)rows * hidden);
        Qkv = Alloc((long)rows * qkvStride);
        Att = Alloc((long)rows * qDim);
        Tmp = Alloc((long)rows * outStride);
        GateUp = Alloc((long)rows * gateUpStride);
        Act = Alloc((long)rows * intermediate);
    }

    public float* X { get; }

    public float* H { get; }

    public float* Qkv { get; }

    public float* Att { get; }

    public float* Tmp { get; }

    public float* GateUp { get; }

    public float* Act { get; }

    private float* Alloc(long floats)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(System.Math.Max(floats, 16) * sizeof(float)), 64);
        _blocks.Add((nint)p);
        return p;
    }

    public void Dispose()
    {
        foreach (var p in _blocks)
        {
            NativeMemory.AlignedFree((void*)p);
        }

        _blocks.Clear();
    }
}
