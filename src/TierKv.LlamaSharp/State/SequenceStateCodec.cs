using System.Buffers.Binary;
using TierKv.Keys;

namespace TierKv.LlamaSharp.State;

/// <summary>
/// Converts between llama.cpp's per-sequence state (<c>llama_state_seq_get_data</c>, format in docs/llamacpp.md) and
/// TierKV chunks. A chunk holds the K and V of <see cref="KvLayout.TokensPerChunk"/> consecutive tokens for all
/// layers, token-major: layer 0..L-1 K rows, then layer 0..L-1 V rows (a transposed V is transposed back, so chunks do
/// not depend on whether a context uses flash attention). Anything the codec does not recognize is reported with a
/// reason and never cut or assembled: the caller recomputes.
/// </summary>
public sealed class SequenceStateCodec
{
    /// <summary><c>io_magic</c> that llama.cpp's <c>state_seq_write_data</c> writes first.</summary>
    public const uint IoMagic = 0xAF143CD8;

    /// <summary>GGML type id of q8_0 (blocks of 32 values: an f16 scale and 32 int8), carried as rows of bytes.</summary>
    public const int Q8_0 = 8;

    private const int CellBytes = 12; // pos i32, n_seq_id u32 (= 1), seq_id i32

    /// <summary>Creates a codec for <paramref name="layout"/> whose K and V use GGML type <paramref name="ggmlType"/>.</summary>
    public SequenceStateCodec(KvLayout layout, int ggmlType)
    {
        ArgumentNullException.ThrowIfNull(layout);
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
    public long BlobBytes(int tokens) => 16 + ((long)tokens * CellBytes) + 8 + (2L * Layout.Layers * 12) + (2L * Layout.Layers * tokens * RowBytes);

    /// <summary>
    /// Checks that <paramref name="blob"/> is a state this codec can vouch for: one stream, cells at positions 0..n-1 of
    /// one sequence, this layout's layers, type and row sizes, and sizes that add up to the blob's length exactly.
    /// </summary>
    public bool TryParse(ReadOnlySpan<byte> blob, out ParsedSequenceState? state, out string reason)
    {
        state = null;
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

            state = new ParsedSequenceState(0, false, new long[L], new long[L]);
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
            if (I32(blob, o) != i || U32(blob, o + 4) != 1)
            {
                reason = $"cell {i} has position {I32(blob, o)} and {U32(blob, o + 4)} sequence ids; the codec reads positions 0..n-1 of one sequence";
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

        var k = new long[L];
        var v = new long[L];
        long rows = (long)cells * RowBytes;
        for (int l = 0; l < L; l++)
        {
            if (!Header(blob, ref o, 12, out int type, out ulong row) || type != GgmlType || row != (ulong)RowBytes)
            {
                reason = $"layer {l} K has type {type} and rows of {row} bytes; expected type {GgmlType} with rows of {RowBytes} (KV type changed?)";
                return false;
            }

            k[l] = o;
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

            v[l] = o;
            o += rows;
        }

        if (o != blob.Length)
        {
            reason = $"state sizes add up to {o} bytes but the blob has {blob.Length}";
            return false;
        }

        state = new ParsedSequenceState((int)cells, vTrans == 1, k, v);
        reason = "";
        return true;
    }

    /// <summary>
    /// Copies chunks <c>[firstChunk, firstChunk + count)</c> of a parsed state into <paramref name="destination"/>
    /// (<paramref name="count"/> × chunk bytes, chunk after chunk).
    /// </summary>
    public unsafe void Cut(ReadOnlySpan<byte> blob, ParsedSequenceState state, int firstChunk, int count, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(state);
        int tpc = Layout.TokensPerChunk;
        int cb = Layout.ChunkBytes;
        if (firstChunk < 0 || count < 0 || (long)(firstChunk + count) * tpc > state.Tokens)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Chunks [{firstChunk}, {firstChunk + count}) exceed the state's {state.Tokens} tokens.");
        }

        if (destination.Length < (long)count * cb)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; {count} chunks need {(long)count * cb}.", nameof(destination));
        }

        int L = Layout.Layers, row = RowBytes, span = tpc * row;
        fixed (byte* src = blob)
        fixed (byte* dst = destination)
        {
            for (int c = 0; c < count; c++)
            {
                long t0 = (long)(firstChunk + c) * tpc;
                byte* chunk = dst + ((long)c * cb);
                for (int l = 0; l < L; l++)
                {
                    Buffer.MemoryCopy(src + state.KData[l] + (t0 * row), chunk + ((long)l * span), span, span);
                }

                byte* vOut = chunk + ((long)L * span);
                for (int l = 0; l < L; l++)
                {
                    if (!state.VTransposed)
                    {
                        Buffer.MemoryCopy(src + state.VData[l] + (t0 * row), vOut + ((long)l * span), span, span);
                    }
                    else
                    {
                        // V[j][t] (channel-major) back to rows V[t][j].
                        byte* vIn = src + state.VData[l];
                        byte* o = vOut + ((long)l * span);
                        for (int j = 0; j < Embd; j++)
                        {
                            byte* channel = vIn + ((((long)j * state.Tokens) + t0) * ElementBytes);
                            for (int t = 0; t < tpc; t++)
                            {
                                Buffer.MemoryCopy(channel + ((long)t * ElementBytes), o + ((long)t * row) + ((long)j * ElementBytes), ElementBytes, ElementBytes);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Writes into <paramref name="blob"/> (<see cref="BlobBytes"/> of chunks × tokens per chunk) a state that
    /// <c>llama_state_seq_set_data</c> restores as the first <paramref name="chunks"/>.Length × tokens per chunk
    /// tokens of sequence <paramref name="seqId"/>; chunk i's payload starts at <c>chunks[i]</c>.
    /// <paramref name="vTransposed"/> must match the target context (see <see cref="ParsedSequenceState.VTransposed"/>).
    /// Layers are assembled on up to <paramref name="parallelism"/> threads.
    /// </summary>
    public void Assemble(ReadOnlySpan<nint> chunks, Span<byte> blob, int seqId, bool vTransposed, int parallelism = 1) =>
        AssembleAt(chunks, 0, blob, seqId, vTransposed, parallelism);

    /// <summary>
    /// As <see cref="Assemble"/>, for chunks <paramref name="firstChunk"/>.. of a sequence: the state's cells have
    /// positions from <paramref name="firstChunk"/> × tokens per chunk. llama.cpp restores such a state into an empty
    /// sequence at those positions (a group of a chunked restore, see docs/llamacpp.md). Allocates nothing on one thread.
    /// </summary>
    public void AssembleAt(ReadOnlySpan<nint> chunks, int firstChunk, Span<byte> blob, int seqId, bool vTransposed, int parallelism = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstChunk);
        AssembleTokens(chunks, checked(firstChunk * Layout.TokensPerChunk), chunks.Length * Layout.TokensPerChunk, blob, seqId, vTransposed, parallelism);
    }

    /// <summary>
    /// As <see cref="AssembleAt"/>, for <paramref name="tokens"/> tokens from position <paramref name="position"/>, which
    /// need not be whole chunks: <paramref name="chunks"/>[0] is the chunk that holds <paramref name="position"/> (a group
    /// smaller than a chunk keeps a wide model's blob in the core's cache, docs/llamacpp.md).
    /// </summary>
    public unsafe void AssembleTokens(ReadOnlySpan<nint> chunks, int position, int tokens, Span<byte> blob, int seqId, bool vTransposed, int parallelism = 1)
    {
        int tpc = Layout.TokensPerChunk, L = Layout.Layers;
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        int offset = position % tpc;
        if ((long)chunks.Length * tpc < offset + (long)tokens)
        {
            throw new ArgumentException($"{chunks.Length} chunks hold tokens {position - offset}..{position - offset + (chunks.Length * tpc) - 1}, not {position}..{position + tokens - 1}.", nameof(chunks));
        }

        long size = BlobBytes(tokens);
        if (blob.Length < size)
        {
            throw new ArgumentException($"The blob buffer holds {blob.Length} bytes; {tokens} tokens need {size}.", nameof(blob));
        }

        int pos0 = position;
        BinaryPrimitives.WriteUInt32LittleEndian(blob, IoMagic);
        BinaryPrimitives.WriteInt32LittleEndian(blob[4..], seqId);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[12..], (uint)tokens);
        long o = 16;
        for (int i = 0; i < tokens; i++, o += CellBytes)
        {
            var cell = blob.Slice((int)o, CellBytes);
            BinaryPrimitives.WriteInt32LittleEndian(cell, pos0 + i);
            BinaryPrimitives.WriteUInt32LittleEndian(cell[4..], 1);
            BinaryPrimitives.WriteInt32LittleEndian(cell[8..], seqId);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(blob[(int)o..], vTransposed ? 1u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[(int)(o + 4)..], (uint)L);
        o += 8;

        // Layer l's K data at kBase + l × stride, its V data at kBase + (L + l) × stride; each behind a 12-byte header.
        long stride = 12 + ((long)tokens * RowBytes);
        long kBase = o + 12;
        for (int part = 0; part < 2 * L; part++, o += stride)
        {
            BinaryPrimitives.WriteInt32LittleEndian(blob[(int)o..], GgmlType);
            if (part >= L && vTransposed)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(blob[(int)(o + 4)..], (uint)ElementBytes);
                BinaryPrimitives.WriteUInt32LittleEndian(blob[(int)(o + 8)..], (uint)Embd);
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(blob[(int)(o + 4)..], (ulong)RowBytes);
            }
        }

        fixed (byte* dst = blob)
        {
            if (parallelism > 1 && L > 1)
            {
                var job = new AssembleJob(this, (nint)dst + (nint)kBase, stride, chunks.ToArray(), offset, tokens, vTransposed);
                Parallel.For(0, 2 * L, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, job.Run);
            }
            else
            {
                for (int part = 0; part < 2 * L; part++)
                {
                    CopyPart(chunks, offset, tokens, part, dst + kBase + (part * stride), vTransposed);
                }
            }
        }
    }

    /// <summary>
    /// One layer's K (part &lt; L) or V (part ≥ L) of <paramref name="tokens"/> tokens, the first at row
    /// <paramref name="offset"/> of <paramref name="chunks"/>[0], to <paramref name="dst"/>.
    /// </summary>
    private unsafe void CopyPart(ReadOnlySpan<nint> chunks, int offset, int tokens, int part, byte* dst, bool vTransposed)
    {
        int L = Layout.Layers, tpc = Layout.TokensPerChunk, row = RowBytes, el = ElementBytes;
        bool isV = part >= L;
        long inChunk = part * (long)tpc * row;
        for (int tok = 0, c = 0, t = offset; tok < tokens; c++, t = 0)
        {
            int run = Math.Min(tpc - t, tokens - tok);
            byte* src = (byte*)chunks[c] + inChunk + ((long)t * row);
            if (!isV || !vTransposed)
            {
                long bytes = (long)run * row;
                Buffer.MemoryCopy(src, dst + ((long)tok * row), bytes, bytes);
            }
            else
            {
                for (int i = 0; i < run; i++)
                {
                    for (int j = 0; j < Embd; j++)
                    {
                        Buffer.MemoryCopy(src + ((long)i * row) + ((long)j * el), dst + ((((long)j * tokens) + tok + i) * el), el, el);
                    }
                }
            }

            tok += run;
        }
    }

    /// <summary>The parts of one assembly on several threads; the blob stays fixed while it runs.</summary>
    private sealed unsafe class AssembleJob(SequenceStateCodec codec, nint kBase, long stride, nint[] chunks, int offset, int tokens, bool vTransposed)
    {
        public void Run(int part) => codec.CopyPart(chunks, offset, tokens, part, (byte*)kBase + (part * stride), vTransposed);
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
