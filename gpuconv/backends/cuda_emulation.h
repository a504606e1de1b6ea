// gpuconv host emulation of the CUDA subset our kernels use (DESIGN.md §4).
//
// A block runs as an OpenMP team of blockDim threads; __syncthreads() is a
// team barrier; dynamic `extern __shared__` memory is one block-shared buffer
// (blocks run one after another), poisoned with 0xFF bytes before each block
// so a read of anything the block did not write shows up as NaN or -1.
// The launcher (gpuconv/backends/_emulator.py) rewrites `extern __shared__`
// to `extern` and `__shared__` to `static` (a static local is shared by the
// team) before compiling. `__constant__` variables are plain globals the
// launcher poisons and fills through ctypes before a launch. The kernel's
// 128-bit copies (GC_COPY16) are counted when misaligned (a GPU would fault;
// x86 would not notice) and the launcher raises.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __syncthreads() _Pragma("omp barrier")
#define __ldg(p) (*(p))

struct alignas(16) uint4 {
    unsigned x, y, z, w;
};

// Misaligned 128-bit copies since the launcher last reset it: the kernel's
// GC_COPY16 counts them (a GPU would fault) and copies bytewise, so the
// launch finishes and the launcher raises.
extern "C" {
int gc_emu_misaligned = 0;
}

namespace gc_emu {
template <typename V>
inline void copy16(V* dst, const V* src) {
    static_assert(sizeof(V) == 16, "GC_COPY16 moves 16 bytes");
    if (reinterpret_cast<std::uintptr_t>(dst) % 16 || reinterpret_cast<std::uintptr_t>(src) % 16)
        __atomic_fetch_add(&gc_emu_misaligned, 1, __ATOMIC_RELAXED);
    std::memcpy(static_cast<void*>(dst), static_cast<const void*>(src), 16);
}
}  // namespace gc_emu

#define GC_COPY16(dst, src) gc_emu::copy16(dst, src)

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

static thread_local dim3 threadIdx;
static thread_local dim3 blockIdx;
static dim3 blockDim;
static dim3 gridDim;

using std::max;
using std::min;

// The dynamic shared memory of the running block: 228 KiB, an H100's most.
// Poisoned up to gc_poison_margin bytes past what the launch asked for, so a
// read past the allocation shows too.
static const std::size_t gc_shared_capacity = 228 * 1024;
static const std::size_t gc_poison_margin = 4096;
alignas(16) unsigned char gc_shared_raw[gc_shared_capacity];

namespace gc_emu {

template <typename... A, std::size_t... I>
void call(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_reference_t<A>*>(args[I])...);
}

// Run `kernel` over the grid: blocks in order, each as a team of threads.
template <typename... A>
void launch(void (*kernel)(A...), dim3 grid, dim3 block, std::size_t shared, void** args) {
    if (shared > gc_shared_capacity) {
        std::fprintf(stderr, "gpuconv emulator: %zu bytes of shared memory requested\n", shared);
        std::abort();
    }
    const int threads = static_cast<int>(block.x * block.y * block.z);
    gridDim = grid;
    blockDim = block;
    omp_set_dynamic(0);
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                const std::size_t poisoned = std::min(gc_shared_capacity, shared + gc_poison_margin);
                std::memset(gc_shared_raw, 0xFF, poisoned);
#pragma omp parallel num_threads(threads)
                {
                    if (omp_get_num_threads() != threads) std::abort();  // a short team deadlocks
                    const unsigned t = static_cast<unsigned>(omp_get_thread_num());
                    threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
                    blockIdx = dim3(bx, by, bz);
                    call(kernel, args, std::index_sequence_for<A...>{});
                }
            }
}

}  // namespace gc_emu
