using System.Runtime.InteropServices;

namespace TierKv.Engine.Math;

/// <summary>
/// A weight matrix packed for <see cref="Gemm"/>: the logical product is <c>y = x · W</c> with <c>W</c> of
/// <see cref="K"/> rows (inputs) and <see cref="N"/> columns (outputs), stored as panels of
/// <see cref="Gemm.PanelWidth"/> columns, each panel row-major over k so the microkernel streams it contiguously.
/// Columns past <see cref="N"/> in the last panel are zero. Memory is native and 64-byte aligned.
/// </summary>
public sealed unsafe class PackedMatrix : IDisposable
{
    private float* _data;

    /// <summary>Allocates a zeroed packed matrix.</summary>
    public PackedMatrix(int k, int n)
    {
        if (k <= 0 || n <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(k), $"A matrix needs positive dimensions, got {k} x {n}.");
        }

        K = k;
        N = n;
        Panels = (n + Gemm.PanelWidth - 1) / Gemm.PanelWidth;
        long count = (long)Panels * Gemm.PanelWidth * k;
        _data = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        NativeMemory.Clear(_data, (nuint)(count * sizeof(float)));
    }

    /// <summary>Input dimension (rows of W).</summary>
    public int K { get; }

    /// <summary>Output dimension (columns of W).</summary>
    public int N { get; }

    /// <summary>Number of column panels.</summary>
    public int Panels { get; }

    /// <summary><see cref="N"/> rounded up to whole panels: the row stride the output of a product needs.</summary>
    public int PaddedN => Panels * Gemm.PanelWidth;

    /// <summary>Parameters (K × N).</summary>
    public long Parameters => (long)K * N;

    /// <summary>Start of the packed data.</summary>
    public float* Data => _data;

    /// <summary>Start of panel <paramref name="panel"/>.</summary>
    public float* Panel(int panel) => _data + ((long)panel * Gemm.PanelWidth * K);

    /// <summary>
    /// Packs from the Hugging Face layout <c>[out, in]</c> (row <c>o</c> holds the weights of output <c>o</c>):
    /// <paramref name="rows"/> has <see cref="N"/> rows of <see cref="K"/> floats. <paramref name="rowOffset"/>
    /// places the rows at output columns <c>[rowOffset, rowOffset + rows/K)</c> so fused matrices (QKV) pack piecewise.
    /// </summary>
    public void PackFromOutIn(ReadOnlySpan<float> rows, int rowOffset = 0)
    {
        if (rows.Length % K != 0)
        {
            throw new ArgumentException($"The source holds {rows.Length} floats, not a whole number of rows of {K}.", nameof(rows));
        }

        int outRows = rows.Length / K;
        if (rowOffset < 0 || rowOffset + outRows > N)
        {
            throw new ArgumentException($"Rows [{rowOffset}, {rowOffset + outRows}) do not fit a matrix of {N} outputs.", nameof(rowOffset));
        }

        const int w = Gemm.PanelWidth;
        for (int o = 0; o < outRows; o++)
        {
            int col = rowOffset + o;
            float* panel = Panel(col / w) + (col % w);
            ReadOnlySpan<float> src = rows.Slice(o * K, K);
            for (int k = 0; k < K; k++)
            {
                panel[(long)k * w] = src[k];
            }
        }
    }

    /// <summary>Reads back W[k, n] (tests and diagnostics).</summary>
    public float this[int k, int n] => Panel(n / Gemm.PanelWidth)[((long)k * Gemm.PanelWidth) + (n % Gemm.PanelWidth)];

    /// <inheritdoc />
    public void Dispose()
    {
        if (_data != null)
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
        }
    }
}
