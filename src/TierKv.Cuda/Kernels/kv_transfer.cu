// TierKV: gather and scatter between an engine's paged KV memory and TierKV's layer-major chunks.
//
// Paged side (vLLM), one tensor per layer: [2][num_blocks][block_size][kv_heads][head_dim]. One "page" is
// block_size * kv_heads * head_dim elements of K (or of V) and is contiguous; the V half starts paged_kv_stride
// bytes after the K half (num_blocks * page_bytes).
//
// Chunk side, one chunk of tokens_per_chunk tokens: [layers][2][tokens_per_chunk][kv_heads][head_dim]. Page p of a
// chunk, half kv, layer l starts at chunk + layer_offset + kv * chunk_kv_stride + p * page_bytes.
//
// Request page q (tokens q*block_size ..) lives in block page_table[q] and in chunk q / pages_per_chunk.
// Chunk c starts at chunk_ptrs[c] when chunk_ptrs is given (chunks in arbitrary pinned slots, read or written
// through mapped host memory), else at chunk_base + c * chunk_stride (a staging buffer).
//
// One thread block copies one (page, kv) piece with 16-byte accesses, several loads in flight before the stores.
// Requirements checked on the host: page_bytes % 16 == 0 and every base 16-byte aligned.

typedef unsigned long long u64;

struct alignas(16) tkv_vec16
{
    unsigned int a, b, c, d;
};

#define TKV_UNROLL 4

__device__ __forceinline__ void tkv_copy_piece(const tkv_vec16* __restrict__ src, tkv_vec16* __restrict__ dst, long long n)
{
    const int step = blockDim.x * TKV_UNROLL;
    for (long long i = threadIdx.x; i < n; i += step)
    {
        tkv_vec16 v[TKV_UNROLL];
#pragma unroll
        for (int k = 0; k < TKV_UNROLL; k++)
        {
            long long j = i + (long long)k * blockDim.x;
            if (j < n)
            {
                v[k] = src[j];
            }
        }
#pragma unroll
        for (int k = 0; k < TKV_UNROLL; k++)
        {
            long long j = i + (long long)k * blockDim.x;
            if (j < n)
            {
                dst[j] = v[k];
            }
        }
    }
}

__device__ __forceinline__ void tkv_addresses(
    unsigned char* paged, long long paged_kv_stride, const int* __restrict__ page_table, int pages_per_chunk,
    unsigned char* chunk_base, const u64* __restrict__ chunk_ptrs, long long chunk_stride, long long layer_offset,
    long long chunk_kv_stride, long long page_bytes, unsigned char** page_addr, unsigned char** chunk_addr)
{
    const int q = blockIdx.x >> 1;
    const int kv = blockIdx.x & 1;
    const int block = page_table[q];
    const int c = q / pages_per_chunk;
    const int p = q - c * pages_per_chunk;
    unsigned char* chunk = chunk_ptrs != nullptr ? (unsigned char*)chunk_ptrs[c] : chunk_base + (long long)c * chunk_stride;
    *page_addr = paged + kv * paged_kv_stride + (long long)block * page_bytes;
    *chunk_addr = chunk + layer_offset + kv * chunk_kv_stride + (long long)p * page_bytes;
}

// Pages of one layer -> chunk pieces. grid.x = 2 * pages.
extern "C" __global__ void __launch_bounds__(256) tierkv_gather(
    unsigned char* paged, long long paged_kv_stride, const int* __restrict__ page_table, int pages_per_chunk,
    unsigned char* chunk_base, const u64* __restrict__ chunk_ptrs, long long chunk_stride, long long layer_offset,
    long long chunk_kv_stride, long long page_bytes)
{
    unsigned char* page;
    unsigned char* chunk;
    tkv_addresses(paged, paged_kv_stride, page_table, pages_per_chunk, chunk_base, chunk_ptrs, chunk_stride,
                  layer_offset, chunk_kv_stride, page_bytes, &page, &chunk);
    tkv_copy_piece((const tkv_vec16*)page, (tkv_vec16*)chunk, page_bytes >> 4);
}

// Chunk pieces -> pages of one layer. grid.x = 2 * pages.
extern "C" __global__ void __launch_bounds__(256) tierkv_scatter(
    unsigned char* paged, long long paged_kv_stride, const int* __restrict__ page_table, int pages_per_chunk,
    unsigned char* chunk_base, const u64* __restrict__ chunk_ptrs, long long chunk_stride, long long layer_offset,
    long long chunk_kv_stride, long long page_bytes)
{
    unsigned char* page;
    unsigned char* chunk;
    tkv_addresses(paged, paged_kv_stride, page_table, pages_per_chunk, chunk_base, chunk_ptrs, chunk_stride,
                  layer_offset, chunk_kv_stride, page_bytes, &page, &chunk);
    tkv_copy_piece((const tkv_vec16*)chunk, (tkv_vec16*)page, page_bytes >> 4);
}
