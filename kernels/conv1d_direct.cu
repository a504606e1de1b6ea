// gpuconv: batched direct 1-D convolution.
//
// out[r, t] = sum_i w[r or 0, i] * x_ext[r, start + t - i],  t in [0, out_len)
//
// where x_ext is row r of x (length n) extended past its ends by the boundary
// rule. One templated body, instantiated by name expression per compute dtype
// (float, double, gc_complex<float>, gc_complex<double>, long long), block size
// and outputs per thread. Portable CUDA subset (DESIGN.md §4): it also runs on
// the CPU under the host emulator.

// ---------------------------------------------------------------------------
// Compute types
// ---------------------------------------------------------------------------

// Complex numbers laid out as NumPy's and CuPy's (real, imaginary), with the
// alignment of thrust::complex so arrays of them match device memory.
template <typename R>
struct __align__(2 * sizeof(R)) gc_complex {
    R re, im;
};

template <typename R>
__device__ __forceinline__ gc_complex<R> operator*(gc_complex<R> a, gc_complex<R> b) {
    gc_complex<R> c;
    c.re = a.re * b.re - a.im * b.im;
    c.im = a.re * b.im + a.im * b.re;
    return c;
}

template <typename R>
__device__ __forceinline__ gc_complex<R>& operator+=(gc_complex<R>& a, gc_complex<R> b) {
    a.re += b.re;
    a.im += b.im;
    return a;
}

template <typename T>
__device__ __forceinline__ T gc_zero() { return T(0); }
template <>
__device__ __forceinline__ gc_complex<float> gc_zero<gc_complex<float> >() { gc_complex<float> z; z.re = 0; z.im = 0; return z; }
template <>
__device__ __forceinline__ gc_complex<double> gc_zero<gc_complex<double> >() { gc_complex<double> z; z.re = 0; z.im = 0; return z; }

// ---------------------------------------------------------------------------
// Boundary rules (the values of gpuconv.backends._launch.BOUNDARY_CODES)
// ---------------------------------------------------------------------------

#define GC_ZERO 0
#define GC_CONSTANT 1
#define GC_REFLECT 2
#define GC_MIRROR 3
#define GC_NEAREST 4
#define GC_WRAP 5

// Signal sample m of a row of length n under `boundary`; periodic formulas,
// so kernels far longer than the signal extend correctly (scipy.ndimage).
template <typename T>
__device__ __forceinline__ T gc_sample(const T* __restrict__ row, long long m, long long n,
                                       int boundary, T cval) {
    if (m >= 0 && m < n) return row[m];
    switch (boundary) {
        case GC_REFLECT: {  // d c b a | a b c d | d c b a
            long long r = m % (2 * n);
            if (r < 0) r += 2 * n;
            return row[r < n ? r : 2 * n - 1 - r];
        }
        case GC_MIRROR: {  // d c b | a b c d | c b a
            if (n == 1) return row[0];
            long long r = m % (2 * n - 2);
            if (r < 0) r += 2 * n - 2;
            return row[r < n ? r : 2 * n - 2 - r];
        }
        case GC_NEAREST:
            return row[m < 0 ? 0 : n - 1];
        case GC_WRAP: {
            long long r = m % n;
            return row[r < 0 ? r + n : r];
        }
        case GC_CONSTANT:
            return cval;
        default:  // GC_ZERO
            return gc_zero<T>();
    }
}

// ---------------------------------------------------------------------------
// The kernel
// ---------------------------------------------------------------------------
//
// Grid: (output tiles, rows). A block computes TILE = BLOCK * PER_THREAD
// consecutive outputs of one row. Taps are processed in chunks of at most
// `chunk` taps: for each chunk the block stages the TILE + chunk - 1 input
// samples it reads (boundary applied here, coalesced) and the chunk's weights
// in shared memory, then each thread accumulates PER_THREAD outputs strided by
// BLOCK in registers, so a warp reads consecutive shared-memory words (no bank
// conflicts) and every weight read from shared memory feeds PER_THREAD FMAs.
//
// Dynamic shared memory: (TILE + chunk - 1 + chunk) * sizeof(T) bytes.
//
// __launch_bounds__ asks for room for GC_MIN_BLOCKS_PER_SM resident blocks
// (up to 128 registers a thread): with the bare block size ptxas squeezed some
// instantiations into 32 registers and spilled (sm_90, CUDA 13), and four
// blocks of 128 threads already fill a quarter of an SM's threads with every
// block's shared memory (16 KiB at most) resident.
#define GC_MIN_BLOCKS_PER_SM 4

template <typename T, int BLOCK, int PER_THREAD>
__global__ void __launch_bounds__(BLOCK, GC_MIN_BLOCKS_PER_SM)
conv1d_direct(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out,
              const T* __restrict__ cval, long long n, long long out_len, long long start,
              int k, int chunk, int kernel_rows, int boundary) {
    extern __shared__ unsigned char gc_shared_raw[];
    const int TILE = BLOCK * PER_THREAD;
    T* s_x = reinterpret_cast<T*>(gc_shared_raw);
    T* s_w = s_x + TILE + chunk - 1;

    const long long row = blockIdx.y;
    const long long t0 = (long long)blockIdx.x * TILE;
    const T* __restrict__ x_row = x + row * n;
    const T* __restrict__ w_row = w + (kernel_rows > 1 ? row * (long long)k : 0LL);
    const T fill = boundary == GC_CONSTANT ? cval[0] : gc_zero<T>();

    T acc[PER_THREAD];
#pragma unroll
    for (int p = 0; p < PER_THREAD; ++p) acc[p] = gc_zero<T>();

    for (int c0 = 0; c0 < k; c0 += chunk) {
        const int taps = min(chunk, k - c0);
        // Output t0 + t reads sample start + t0 + t - c0 - i for i in [0, taps):
        // local index t + (taps - 1) - i of the staged window.
        const long long first = start + t0 - c0 - (taps - 1);
        for (int j = threadIdx.x; j < TILE + taps - 1; j += BLOCK)
            s_x[j] = gc_sample(x_row, first + j, n, boundary, fill);
        for (int j = threadIdx.x; j < taps; j += BLOCK)
            s_w[j] = w_row[c0 + j];
        __syncthreads();

        for (int i = 0; i < taps; ++i) {
            const T w_i = s_w[i];
            const T* s_in = s_x + (taps - 1 - i) + threadIdx.x;
#pragma unroll
            for (int p = 0; p < PER_THREAD; ++p) acc[p] += w_i * s_in[p * BLOCK];
        }
        __syncthreads();  // the next chunk overwrites the staged window
    }

    T* __restrict__ out_row = out + row * out_len;
#pragma unroll
    for (int p = 0; p < PER_THREAD; ++p) {
        const long long t = t0 + threadIdx.x + p * BLOCK;
        if (t < out_len) out_row[t] = acc[p];
    }
}
