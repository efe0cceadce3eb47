namespace TierKv.LlamaSharp.State;

/// <summary>Assembling a state of any token range from chunks, in the target context's V orientation.</summary>
public sealed partial class SequenceStateCodec
{
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

        long kBase = WriteFrame(blob, tokens, position, seqId, vTransposed);
        long stride = PartHeaderBytes + ((long)tokens * RowBytes);
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
    /// <paramref name="offset"/> of <paramref name="chunks"/>[0], to <paramref name="dst"/>, in the orientation
    /// <paramref name="vTransposed"/> whatever the orientation each chunk holds.
    /// </summary>
    private unsafe void CopyPart(ReadOnlySpan<nint> chunks, int offset, int tokens, int part, byte* dst, bool vTransposed)
    {
        int L = Layout.Layers, tpc = Layout.TokensPerChunk, row = RowBytes, el = ElementBytes;
        bool isV = part >= L;
        long inChunk = ChunkPartData(part);
        for (int tok = 0, c = 0, t = offset; tok < tokens; c++, t = 0)
        {
            int run = Math.Min(tpc - t, tokens - tok);
            byte* data = (byte*)chunks[c] + inChunk;
            bool fromColumns = isV && ChunkVTransposed(chunks[c]);
            if (!isV || (!fromColumns && !vTransposed))
            {
                long bytes = (long)run * row;
                Buffer.MemoryCopy(data + ((long)t * row), dst + ((long)tok * row), bytes, bytes);
            }
            else if (fromColumns && vTransposed)
            {
                for (int j = 0; j < Embd; j++)
                {
                    Buffer.MemoryCopy(data + ((((long)j * tpc) + t) * el), dst + ((((long)j * tokens) + tok) * el), (long)run * el, (long)run * el);
                }
            }
            else
            {
                // Rows to channels or channels to rows, element by element (contexts with and without flash attention).
                for (int i = 0; i < run; i++)
                {
                    for (int j = 0; j < Embd; j++)
                    {
                        long inRows = ((long)(t + i) * row) + ((long)j * el), inColumns = (((long)j * tpc) + t + i) * el;
                        long outRows = ((long)(tok + i) * row) + ((long)j * el), outColumns = (((long)j * tokens) + tok + i) * el;
                        Buffer.MemoryCopy(data + (fromColumns ? inColumns : inRows), dst + (vTransposed ? outColumns : outRows), el, el);
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

}
