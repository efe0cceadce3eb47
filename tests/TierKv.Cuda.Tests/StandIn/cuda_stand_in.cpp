// A CPU stand-in for libcuda.so.1 and libnvrtc, for tests on machines without a GPU (CI). It is NOT a GPU and
// measures nothing: copies run synchronously with memcpy, events carry a fake clock, and a kernel launch runs
// TierKV's real kernel source (Kernels/kv_transfer.cu, compiled here as C++) block by block and thread by thread.
// What it checks: the C# orchestration (streams, staging ring, page-table upload, strided copies, kernel arguments)
// and the kernels' index arithmetic, against the CPU reference.
// Build: g++ -O2 -shared -fPIC -std=c++17 -w -I<src/TierKv.Cuda/Kernels> -o libcuda_stand_in.so cuda_stand_in.cpp
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <map>
#include <mutex>

struct dim3 { unsigned x, y, z; };
static thread_local dim3 blockIdx, threadIdx, blockDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __restrict__ __restrict
#include "kv_transfer.cu"

typedef int CUresult;
static std::mutex lock_;
static std::map<uintptr_t, size_t> pinned_;
static float clock_ms_ = 0;

static bool is_pinned(uintptr_t p)
{
    std::lock_guard<std::mutex> g(lock_);
    auto it = pinned_.upper_bound(p);
    if (it == pinned_.begin()) return false;
    --it;
    return p < it->first + it->second;
}

extern "C" {
CUresult cuInit(unsigned) { return 0; }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return 0; }
CUresult cuDeviceGetCount(int* c) { *c = 1; return 0; }
CUresult cuDeviceGet(int* d, int o) { *d = o; return 0; }
CUresult cuDeviceGetName(char* n, int len, int) { snprintf(n, len, "CPU stand-in (not a GPU)"); return 0; }
CUresult cuDeviceGetAttribute(int* v, int a, int) { *v = a == 75 ? 9 : a == 76 ? 0 : a == 16 ? 1 : 1; return 0; }
CUresult cuDeviceTotalMem_v2(size_t* b, int) { *b = (size_t)1 << 34; return 0; }
CUresult cuDevicePrimaryCtxRetain(void** c, int) { *c = (void*)0x1234; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int) { return 0; }
CUresult cuCtxSetCurrent(void*) { return 0; }
CUresult cuCtxSynchronize() { return 0; }
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) { *f = *t = (size_t)1 << 34; return 0; }
CUresult cuMemAlloc_v2(unsigned long long* p, size_t b)
{
    if (b > ((size_t)1 << 40)) return 2;
    void* m = aligned_alloc(256, (b + 255) / 256 * 256);
    if (!m) return 2;
    *p = (uintptr_t)m;
    return 0;
}
CUresult cuMemFree_v2(unsigned long long p) { free((void*)p); return 0; }
CUresult cuMemHostAlloc(void** p, size_t b, unsigned)
{
    *p = aligned_alloc(4096, (b + 4095) / 4096 * 4096);
    if (!*p) return 2;
    std::lock_guard<std::mutex> g(lock_);
    pinned_[(uintptr_t)*p] = b;
    return 0;
}
CUresult cuMemFreeHost(void* p) { { std::lock_guard<std::mutex> g(lock_); pinned_.erase((uintptr_t)p); } free(p); return 0; }
CUresult cuMemHostRegister_v2(void* p, size_t b, unsigned) { std::lock_guard<std::mutex> g(lock_); pinned_[(uintptr_t)p] = b; return 0; }
CUresult cuMemHostUnregister(void* p) { std::lock_guard<std::mutex> g(lock_); pinned_.erase((uintptr_t)p); return 0; }
CUresult cuMemHostGetDevicePointer_v2(unsigned long long* d, void* p, unsigned) { *d = (uintptr_t)p; return 0; }
CUresult cuMemHostGetFlags(unsigned* f, void* p) { std::lock_guard<std::mutex> g(lock_); if (pinned_.count((uintptr_t)p)) { *f = 3; return 0; } return 1; }
CUresult cuPointerGetAttribute(void* data, int attr, unsigned long long p) { if (attr == 2 && is_pinned(p)) { *(unsigned*)data = 1; return 0; } return 1; }
CUresult cuMemcpyHtoDAsync_v2(unsigned long long d, const void* s, size_t n, void*) { memcpy((void*)d, s, n); return 0; }
CUresult cuMemcpyDtoHAsync_v2(void* d, unsigned long long s, size_t n, void*) { memcpy(d, (void*)s, n); return 0; }
CUresult cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void*) { memcpy((void*)d, (void*)s, n); return 0; }

// CUDA_MEMCPY2D as cuda.h lays it out (128 bytes on x86-64).
struct Memcpy2D { size_t sx, sy; unsigned smt; const void* sh; unsigned long long sd; void* sa; size_t sp; size_t dx, dy; unsigned dmt; void* dh; unsigned long long dd; void* da; size_t dp; size_t w, h; };
static_assert(sizeof(Memcpy2D) == 128, "CUDA_MEMCPY2D layout");
CUresult cuMemcpy2DAsync_v2(const Memcpy2D* c, void*)
{
    if (c->smt < 1 || c->smt > 2 || c->dmt < 1 || c->dmt > 2 || c->w > c->sp || c->w > c->dp || c->sx || c->sy || c->dx || c->dy) return 1;
    const char* s = c->smt == 1 ? (const char*)c->sh : (const char*)c->sd;
    char* d = c->dmt == 1 ? (char*)c->dh : (char*)c->dd;
    // Host sides must be pinned, as on the real path.
    if ((c->smt == 1 && !is_pinned((uintptr_t)s)) || (c->dmt == 1 && !is_pinned((uintptr_t)d))) return 1;
    for (size_t r = 0; r < c->h; r++) memcpy(d + r * c->dp, s + r * c->sp, c->w);
    return 0;
}
CUresult cuMemsetD8Async(unsigned long long d, unsigned char v, size_t n, void*) { memset((void*)d, v, n); return 0; }
CUresult cuStreamCreate(void** s, unsigned) { *s = malloc(1); return 0; }
CUresult cuStreamDestroy_v2(void* s) { free(s); return 0; }
CUresult cuStreamSynchronize(void*) { return 0; }
CUresult cuStreamWaitEvent(void*, void*, unsigned) { return 0; }
CUresult cuEventCreate(void** e, unsigned) { *e = calloc(1, sizeof(float)); return 0; }
CUresult cuEventDestroy_v2(void* e) { free(e); return 0; }
CUresult cuEventRecord(void* e, void*) { std::lock_guard<std::mutex> g(lock_); clock_ms_ += 0.5f; *(float*)e = clock_ms_; return 0; }
CUresult cuEventSynchronize(void*) { return 0; }
CUresult cuEventQuery(void*) { return 0; }
CUresult cuEventElapsedTime(float* ms, void* a, void* b) { *ms = *(float*)b - *(float*)a; return 0; }
CUresult cuModuleLoadData(void** m, const void*) { *m = (void*)0x42; return 0; }
CUresult cuModuleUnload(void*) { return 0; }
CUresult cuModuleGetFunction(void** f, void*, const char* n)
{
    if (!strcmp(n, "tierkv_gather")) *f = (void*)&tierkv_gather;
    else if (!strcmp(n, "tierkv_scatter")) *f = (void*)&tierkv_scatter;
    else return 500;
    return 0;
}
typedef void (*Kernel)(unsigned char*, long long, const int*, int, unsigned char*, const u64*, long long, long long, long long, long long);
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned, void*, void** a, void**)
{
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || bx == 0 || bx > 1024 || !a) return 1;
    Kernel k = (Kernel)f;
    blockDim = {bx, 1, 1};
    for (unsigned b = 0; b < gx; b++)
    {
        blockIdx = {b, 0, 0};
        for (unsigned t = 0; t < bx; t++)
        {
            threadIdx = {t, 0, 0};
            k(*(unsigned char**)a[0], *(long long*)a[1], *(const int**)a[2], *(int*)a[3], *(unsigned char**)a[4], *(const u64**)a[5],
              *(long long*)a[6], *(long long*)a[7], *(long long*)a[8], *(long long*)a[9]);
        }
    }
    return 0;
}
CUresult cuGetErrorName(int s, const char** p) { *p = s == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_STAND_IN"; return 0; }
CUresult cuGetErrorString(int s, const char** p) { *p = s == 2 ? "out of memory" : "stand-in driver error"; return 0; }

// NVRTC: "compiles" to a placeholder image that cuModuleLoadData above ignores.
static const char image_[] = "stand-in cubin";
int nvrtcVersion(int* major, int* minor) { *major = 0; *minor = 0; return 0; }
int nvrtcGetNumSupportedArchs(int* n) { *n = 1; return 0; }
int nvrtcGetSupportedArchs(int* a) { a[0] = 90; return 0; }
int nvrtcCreateProgram(void** p, const char* src, const char*, int, const char* const*, const char* const*) { *p = (void*)0x77; return src ? 0 : 1; }
int nvrtcCompileProgram(void*, int, const char* const*) { return 0; }
int nvrtcGetProgramLogSize(void*, size_t* n) { *n = 1; return 0; }
int nvrtcGetProgramLog(void*, char* log) { log[0] = 0; return 0; }
int nvrtcGetCUBINSize(void*, size_t* n) { *n = sizeof(image_); return 0; }
int nvrtcGetCUBIN(void*, char* out) { memcpy(out, image_, sizeof(image_)); return 0; }
int nvrtcGetPTXSize(void*, size_t* n) { *n = sizeof(image_); return 0; }
int nvrtcGetPTX(void*, char* out) { memcpy(out, image_, sizeof(image_)); return 0; }
int nvrtcDestroyProgram(void** p) { *p = 0; return 0; }
const char* nvrtcGetErrorString(int) { return "NVRTC_STAND_IN_ERROR"; }
}
