using System.Buffers.Binary;
using TierKv.Keys;

namespace TierKv.LlamaSharp.State;

/// <summary>
/// Converts between llama.cpp's per-sequence state (<c>llama_state_seq_get_data</c>, format in docs/llamacpp.md) and
/// TierKV chunks. A chunk is itself such a state: the state llama.cpp would write for a sequence holding only that
/// chunk's <see cref="KvLayout.TokensPerChunk"/> cells (header, cells at the chunk's positions, then per layer K rows and
/// V, transposed or not as in the context that stored it), so a restore hands llama.cpp a chunk's bytes where they lie.
/// The layout's <see cref="KvLayout.FrameBytes"/> count the state's headers (<see cref="FrameBytesFor"/>). Anything the
/// codec does not recognize is reported with a reason and never cut or assembled: the caller recomputes.
/// </summary>
public sealed partial class SequenceStateCodec
{
    /// <summary><c>io_magic</c> that llama.cpp's <c>state_seq_write_data</c> writes first.</summary>
    public const uint IoMagic = 0xAF143CD8;

    /// <summary>GGML type id of q8_0 (blocks of 32 values: an f16 scale and 32 int8), carried as rows of bytes.</summary>
    public const int Q8_0 = 8;

    private const int CellBytes = 12; // pos i32, n_seq_id u32 (= 1), seq_id i32
    private const int PartHeaderBytes = 12; // a layer's K or V: type i32 and row bytes u64, or type, element bytes, channels

    /// <summary>Creates a codec for <paramref name="layout"/> whose K and V use GGML type <paramref name="ggmlType"/>.</summary>
    public SequenceStateCodec(KvLayout layout, int ggmlType)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int frame = FrameBytesFor(layout.Layers, layout.TokensPerChunk);
        if (layout.FrameBytes != frame)
        {
            throw new ArgumentException($"Layout {layout} has {layout.FrameBytes} frame bytes a chunk; llama.cpp state chunks have {frame} (create it with SequenceStateCodec.LayoutOf).", nameof(layout));
        }

        Layout = layout;
        GgmlType = ggmlType;
        ElementBytes = KvElementTypes.SizeOf(layout.ElementType);
        Embd = layout.KvHeads * layout.HeadDim;
        RowBytes = Embd * ElementBytes;
    }

    /// <summary>The chunk layout.</summary>
    public KvLayout Layout { get; }

    /// <summary>GGML type id of K and V (0 f32, 1 f16, 30 bf16, 8 q8_0).</summary>
    public int GgmlType { get; }

    /// <summary>Bytes of one element.</summary>
    public int ElementBytes { get; }

    /// <summary>K (and V) values per token and layer: KV heads × head dim.</summary>
    public int Embd { get; }

    /// <summary>Bytes of one token's K (or V) row in one layer.</summary>
    public int RowBytes { get; }

    /// <summary>The GGML type id of a KV element type, or null when the codec cannot carry it.</summary>
    public static int? GgmlTypeOf(KvElementType type) => type switch
    {
        KvElementType.Float32 => 0,
        KvElementType.Float16 => 1,
        KvElementType.BFloat16 => 30,
        _ => null,
    };

    /// <summary>The KV element type of a GGML type id, or null when the codec cannot carry it (q8_0 and other block types).</summary>
    public static KvElementType? ElementTypeOf(int ggmlType) => ggmlType switch
    {
        0 => KvElementType.Float32,
        1 => KvElementType.Float16,
        30 => KvElementType.BFloat16,
        _ => null,
    };

    /// <summary>Bytes of a blob holding <paramref name="tokens"/> tokens.</summary>
    public long BlobBytes(int tokens) => MetaBytes(tokens) + (2L * Layout.Layers * (PartHeaderBytes + ((long)tokens * RowBytes)));

    /// <summary>
    /// Bytes of llama.cpp's state headers around one chunk's KV (<see cref="KvLayout.FrameBytes"/> of a llama.cpp layout):
    /// the state header, the chunk's cells, v_trans and the layer count, and a 12-byte header before each layer's K and V.
    /// </summary>
    public static int FrameBytesFor(int layers, int tokensPerChunk) =>
        checked((int)MetaBytes(tokensPerChunk) + (2 * layers * PartHeaderBytes));

    /// <summary>
    /// The chunk layout of a llama.cpp model's KV: <paramref name="modelId"/>'s shape in <paramref name="elementType"/>,
    /// with the frame of a state of one chunk (<see cref="FrameBytesFor"/>, which is part of the layout's fingerprint, so
    /// chunks of an earlier format are a miss).
    /// </summary>
    public static KvLayout LayoutOf(string modelId, int layers, int kvHeads, int headDim, KvElementType elementType) =>
        new(modelId, layers, kvHeads, headDim, elementType, frameBytes: FrameBytesFor(layers, KvLayout.DefaultTokensPerChunk));

    /// <summary>Bytes of the header, the cells, v_trans and the layer count of a state of <paramref name="tokens"/> cells.</summary>
    private static long MetaBytes(int tokens) => 16 + ((long)tokens * CellBytes) + 8;

    /// <summary>
    /// Checks that <paramref name="blob"/> is a state this codec can vouch for: one stream, cells at positions 0..n-1 of
    /// one sequence, this layout's layers, type and row sizes, and sizes that add up to the blob's length exactly.
    /// </summary>
    public bool TryParse(ReadOnlySpan<byte> blob, out ParsedSequenceState? state, out string reason)
    {
        var k = new long[Layout.Layers];
        var v = new long[Layout.Layers];
        if (!Check(blob, 0, k, v, out int cells, out bool vTrans, out reason))
        {
            state = null;
            return false;
        }

        state = new ParsedSequenceState(cells, vTrans, k, v);
        return true;
    }

    /// <summary>
    /// As <see cref="TryParse"/>, for cells at positions from <paramref name="firstPosition"/>; writes the offsets of the
    /// layers' K and V data to <paramref name="k"/> and <paramref name="v"/> unless they are empty. Allocates nothing
    /// unless it fails.
    /// </summary>
    private bool Check(ReadOnlySpan<byte> blob, int firstPosition, Span<long> k, Span<long> v, out int cellCount, out bool vTransposed, out string reason)
    {
        cellCount = 0;
        vTransposed = false;
        int L = Layout.Layers;
        if (blob.Length < 16)
        {
            reason = $"state of {blob.Length} bytes is shorter than its header";
            return false;
        }

        if (U32(blob, 0) != IoMagic)
        {
            reason = $"state magic 0x{U32(blob, 0):X8} is not llama.cpp's io_magic 0x{IoMagic:X8} (another state version)";
            return false;
        }

        if (U32(blob, 8) != 1)
        {
            reason = $"state has {U32(blob, 8)} streams; the codec reads single-sequence states with one stream";
            return false;
        }

        uint cells = U32(blob, 12);
        long o = 16;
        if (cells == 0)
        {
            if (blob.Length != 16)
            {
                reason = $"empty state has {blob.Length - 16} trailing bytes";
                return false;
            }

            reason = "";
            return true;
        }

        if (cells > int.MaxValue / CellBytes || o + ((long)cells * CellBytes) + 8 > blob.Length)
        {
            reason = $"state announces {cells} cells but holds {blob.Length} bytes";
            return false;
        }

        for (int i = 0; i < cells; i++, o += CellBytes)
        {
            if (I32(blob, o) != firstPosition + i || U32(blob, o + 4) != 1)
            {
                reason = $"cell {i} has position {I32(blob, o)} and {U32(blob, o + 4)} sequence ids; the codec reads positions {firstPosition}..{firstPosition}+n-1 of one sequence";
                return false;
            }
        }

        uint vTrans = U32(blob, o);
        uint layers = U32(blob, o + 4);
        o += 8;
        if (vTrans > 1 || layers != L)
        {
            reason = $"state has v_trans {vTrans} and {layers} layers; the model has {L}";
            return false;
        }

        long rows = (long)cells * RowBytes;
        for (int l = 0; l < L; l++)
        {
            if (!Header(blob, ref o, 12, out int type, out ulong row) || type != GgmlType || row != (ulong)RowBytes)
            {
                reason = $"layer {l} K has type {type} and rows of {row} bytes; expected type {GgmlType} with rows of {RowBytes} (KV type changed?)";
                return false;
            }

            if (!k.IsEmpty)
            {
                k[l] = o;
            }

            o += rows;
        }

        for (int l = 0; l < L; l++)
        {
            if (vTrans == 0)
            {
                if (!Header(blob, ref o, 12, out int type, out ulong row) || type != GgmlType || row != (ulong)RowBytes)
                {
                    reason = $"layer {l} V has type {type} and rows of {row} bytes; expected type {GgmlType} with rows of {RowBytes}";
                    return false;
                }
            }
            else
            {
                if (o + 12 > blob.Length)
                {
                    reason = "state ends inside a V header";
                    return false;
                }

                int type = I32(blob, o);
                uint el = U32(blob, o + 4), embd = U32(blob, o + 8);
                o += 12;
                if (type != GgmlType || el != ElementBytes || embd != Embd)
                {
                    reason = $"layer {l} transposed V has type {type}, {el}-byte elements and {embd} channels; expected {GgmlType}, {ElementBytes}, {Embd}";
                    return false;
                }
            }

            if (!v.IsEmpty)
            {
                v[l] = o;
            }

            o += rows;
        }

        if (o != blob.Length)
        {
            reason = $"state sizes add up to {o} bytes but the blob has {blob.Length}";
            return false;
        }

        cellCount = (int)cells;
        vTransposed = vTrans == 1;
        reason = "";
        return true;
    }

    private static bool Header(ReadOnlySpan<byte> blob, ref long o, int size, out int type, out ulong row)
    {
        if (o + size > blob.Length)
        {
            type = -1;
            row = 0;
            return false;
        }

        type = I32(blob, o);
        row = BinaryPrimitives.ReadUInt64LittleEndian(blob[(int)(o + 4)..]);
        o += size;
        return true;
    }

    private static uint U32(ReadOnlySpan<byte> b, long o) => BinaryPrimitives.ReadUInt32LittleEndian(b[(int)o..]);

    private static int I32(ReadOnlySpan<byte> b, long o) => BinaryPrimitives.ReadInt32LittleEndian(b[(int)o..]);
}
