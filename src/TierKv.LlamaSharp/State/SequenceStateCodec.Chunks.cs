using System.Buffers.Binary;

namespace TierKv.LlamaSharp.State;

/// <summary>Chunks as llama.cpp states of their own cells: writing them from a sequence's state, and checking them.</summary>
public sealed partial class SequenceStateCodec
{
    /// <summary>
    /// Writes chunks <c>[firstChunk, firstChunk + count)</c> of a parsed state into <paramref name="destination"/>
    /// (<paramref name="count"/> × chunk bytes, chunk after chunk), each as the state of its own cells (positions
    /// from its index × tokens per chunk, sequence id 0, which llama.cpp ignores on reading) in the state's V orientation.
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

        int L = Layout.Layers, row = RowBytes, span = tpc * row, el = ElementBytes;
        long stride = PartHeaderBytes + (long)span;
        fixed (byte* src = blob)
        fixed (byte* dst = destination)
        {
            for (int c = 0; c < count; c++)
            {
                long t0 = (long)(firstChunk + c) * tpc;
                var chunk = destination.Slice(c * cb, cb);
                long data = WriteFrame(chunk, tpc, checked((int)t0), 0, state.VTransposed);
                byte* part = dst + ((long)c * cb) + data;
                for (int l = 0; l < L; l++, part += stride)
                {
                    Buffer.MemoryCopy(src + state.KData[l] + (t0 * row), part, span, span);
                }

                for (int l = 0; l < L; l++, part += stride)
                {
                    if (!state.VTransposed)
                    {
                        Buffer.MemoryCopy(src + state.VData[l] + (t0 * row), part, span, span);
                        continue;
                    }

                    // Channel j's elements of this chunk's tokens, as llama.cpp writes a transposed V for tpc cells.
                    for (int j = 0; j < Embd; j++)
                    {
                        Buffer.MemoryCopy(src + state.VData[l] + ((((long)j * state.Tokens) + t0) * el), part + ((long)j * tpc * el), (long)tpc * el, (long)tpc * el);
                    }
                }
            }
        }
    }

    /// <summary>
    /// How many of the first <paramref name="count"/> chunks (chunk i at <paramref name="chunks"/>[i], index i in the
    /// sequence) are states this codec vouches for, as <see cref="TryParse"/> checks a state: one stream,
    /// the chunk's size, cells at the chunk's positions, types and row sizes. The bytes of the rows are the
    /// store's to verify (checksums below DRAM). The first chunk that is not is described in <paramref name="reason"/>.
    /// </summary>
    public unsafe int CheckChunks(ReadOnlySpan<nint> chunks, int count, out string reason)
    {
        int tpc = Layout.TokensPerChunk;
        reason = "";
        for (int i = 0; i < count; i++)
        {
            var chunk = new ReadOnlySpan<byte>((void*)chunks[i], Layout.ChunkBytes);
            if (!Check(chunk, checked(i * tpc), default, default, out int cells, out _, out string why) || cells != tpc)
            {
                reason = cells != tpc && why.Length == 0 ? $"chunk {i} is a state of {cells} cells, not {tpc}" : $"chunk {i}: {why}";
                return i;
            }
        }

        return count;
    }

    /// <summary>Whether a chunk (checked by <see cref="CheckChunks"/>) holds V transposed.</summary>
    public unsafe bool ChunkVTransposed(nint chunk) =>
        BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>((byte*)chunk + MetaBytes(Layout.TokensPerChunk) - 8, 4)) == 1;

    /// <summary>Offset in a chunk of part <paramref name="part"/>'s data: layer part's K for part &lt; L, layer part - L's V.</summary>
    private long ChunkPartData(int part) =>
        MetaBytes(Layout.TokensPerChunk) + ((long)part * (PartHeaderBytes + ((long)Layout.TokensPerChunk * RowBytes))) + PartHeaderBytes;

    /// <summary>
    /// Writes the headers of a state of <paramref name="tokens"/> cells at positions from <paramref name="position"/>:
    /// the state header, the cells, v_trans, the layer count and each layer's K and V header (the data between them is
    /// the caller's). Returns the offset of layer 0's K data; part p's data lies p × (12 + tokens × row bytes) after it.
    /// </summary>
    private long WriteFrame(Span<byte> blob, int tokens, int position, int seqId, bool vTransposed)
    {
        int L = Layout.Layers;
        BinaryPrimitives.WriteUInt32LittleEndian(blob, IoMagic);
        BinaryPrimitives.WriteInt32LittleEndian(blob[4..], seqId);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[12..], (uint)tokens);
        long o = 16;
        for (int i = 0; i < tokens; i++, o += CellBytes)
        {
            var cell = blob.Slice((int)o, CellBytes);
            BinaryPrimitives.WriteInt32LittleEndian(cell, position + i);
            BinaryPrimitives.WriteUInt32LittleEndian(cell[4..], 1);
            BinaryPrimitives.WriteInt32LittleEndian(cell[8..], seqId);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(blob[(int)o..], vTransposed ? 1u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[(int)(o + 4)..], (uint)L);
        o += 8;
        long stride = PartHeaderBytes + ((long)tokens * RowBytes);
        long first = o + PartHeaderBytes;
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

        return first;
    }
}
