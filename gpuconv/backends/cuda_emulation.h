// gpuconv host emulation of the CUDA subset our kernels use (DESIGN.md §4).
//
// A block runs as an OpenMP team of blockDim threads; __syncthreads() is a
// team barrier; dynamic `extern __shared__` memory is one block-shared buffer
// (blocks run one after another), poisoned with 0xFF bytes before each block
// so a read of anything the block did not write shows up as NaN or -1.
// The launcher (gpuconv/backends/_emulator.py) rewrites `extern __shared__`
// to `extern` and `__shared__` to `static` (a static local is shared by the
// team) before compiling.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __syncthreads() _Pragma("omp barrier")
#define __ldg(p) (*(p))

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
static const std::size_t gc_shared_capacity = 228 * 1024;
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
                std::memset(gc_shared_raw, 0xFF, shared);
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
