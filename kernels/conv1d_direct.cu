// gpuconv: batched direct 1-D convolution.
//
// out[r, t] = sum_i w[r or 0, i] * x_ext[r, start + t * stride - i * dilation],
//            t in [0, out_len)
//
// where x_ext is row r of x (length n) extended past its ends by the boundary
// rule: with stride = dilation = 1, the slice [start, start + out_len) of the
// full convolution. One templated body, instantiated by name expression per
// compute dtype (float, double, gc_complex<float>, gc_complex<double>,
// long long), block size, outputs per thread, unrolled tap count and weight
// memory. Portable CUDA subset (DESIGN.md §4): it also runs on the CPU under
// the host emulator.

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
// Weights in constant memory
// ---------------------------------------------------------------------------
//
// When one kernel serves every row, the host copies it here before the launch
// (`Launch.constants`): every thread of a warp reads the same tap, which the
// constant cache broadcasts, and the fully unrolled loop reads each tap at a
// fixed address. Per-row kernels are staged in shared memory instead. Must
// equal gpuconv.backends._launch.CONSTANT_WEIGHT_BYTES (checked by the tests).
#define GC_CONSTANT_WEIGHT_BYTES 65536

__constant__ __align__(16) unsigned char gc_constant_weights[GC_CONSTANT_WEIGHT_BYTES];

// ---------------------------------------------------------------------------
// Staging the input window
// ---------------------------------------------------------------------------

// One 128-bit copy from global to shared memory. A misaligned one faults on
// a GPU; the host emulator defines its own, which counts them instead.
#ifndef GC_COPY16
#define GC_COPY16(dst, src) (*(dst) = __ldg(src))
#endif

// Samples per 128-bit load: 4 float, 2 double / long long / complex64, 1 complex128.
template <typename T>
__device__ __forceinline__ constexpr int gc_vector_width() {
    return sizeof(T) < 16 ? int(16 / sizeof(T)) : 1;
}

// Stage samples first .. first + span - 1 of a row (boundary applied) into
// shared memory and return where sample `first` landed: s_x + lead, with
// lead < V chosen so that a sample 16-byte aligned in global memory is
// 16-byte aligned in shared memory too. The samples inside the row between
// the first and last aligned ones move as 128-bit loads and stores; the
// halo, the ends and rows not aligned even to sizeof(T) go one by one.
template <typename T, int BLOCK>
__device__ __forceinline__ T* gc_stage(T* s_x, const T* __restrict__ x_row, long long first,
                                       int span, long long n, int boundary, T fill) {
    constexpr int V = gc_vector_width<T>();
    const unsigned long long address = reinterpret_cast<unsigned long long>(x_row);
    int lead = 0, head = span, vectors = 0;
    if (address % sizeof(T) == 0) {
        // x_row + m is 16-byte aligned iff (phase + m) % V == 0.
        const long long phase = (long long)((address / sizeof(T)) % V);
        lead = (int)(((phase + first) % V + V) % V);
        const long long lo = max(first, 0LL), hi = min(first + span, n);
        if (hi > lo) {
            const long long lo_v = lo + (V - (phase + lo) % V) % V;
            const long long hi_v = hi - (phase + hi) % V;
            if (hi_v > lo_v) {
                head = (int)(lo_v - first);
                vectors = (int)((hi_v - lo_v) / V);
            }
        }
    }
    T* s = s_x + lead;
    if (vectors > 0) {
        const uint4* __restrict__ src = reinterpret_cast<const uint4*>(x_row + (first + head));
        uint4* dst = reinterpret_cast<uint4*>(s + head);
#pragma unroll 1
        for (int q = threadIdx.x; q < vectors; q += BLOCK) GC_COPY16(dst + q, src + q);
    }
    // The rest one by one: q < head before the vectors, the others after.
    const int skip = vectors * V;
#pragma unroll 1
    for (int q = threadIdx.x; q < span - skip; q += BLOCK) {
        const int j = q < head ? q : q + skip;
        s[j] = gc_sample(x_row, first + j, n, boundary, fill);
    }
    return s;
}

// One tap for a thread's PER_THREAD outputs: output p reads s_in[offset[p]].
template <typename T, int PER_THREAD>
__device__ __forceinline__ void gc_tap(T (&acc)[PER_THREAD], T w_i, const T* s_in,
                                       const int (&offset)[PER_THREAD]) {
#pragma unroll
    for (int p = 0; p < PER_THREAD; ++p) acc[p] += w_i * s_in[offset[p]];
}

// ---------------------------------------------------------------------------
// The kernel
// ---------------------------------------------------------------------------
//
// out[r, t] = sum_i w[r or 0, i] * x_ext[r, start + t * stride - i * dilation]
//
// Template parameters: T the compute type; BLOCK threads, each computing
// PER_THREAD outputs strided by BLOCK (TILE = BLOCK * PER_THREAD outputs per
// block at most); KT > 0 unrolls the tap loop fully for k <= KT (taps past k
// exit the unrolled loop: no zero taps, so 0 * inf never makes a NaN), KT = 0
// loops over any k; CONST_W reads the weights from gc_constant_weights (one
// kernel for all rows) instead of staging them in shared memory.
//
// Grid: (ceil(out_len / tile), rows). A block computes `tile` <= TILE
// consecutive outputs of one row (tile < TILE only when a large stride or
// dilation would not fit shared memory). Taps go in chunks of at most `chunk`:
// for each chunk the block stages the input span its outputs read,
// span = (tile - 1) * stride + (taps - 1) * dilation + 1 samples (boundary
// applied, 128-bit loads where aligned), and, for shared weights, the chunk's
// taps; then each thread accumulates its outputs in registers. A warp reads
// consecutive shared-memory words at stride 1 (no bank conflicts), and every
// weight read feeds PER_THREAD FMAs. With KT > 0 the host passes chunk >= k.
//
// Dynamic shared memory, in elements of T:
//   (V - 1) + (tile - 1) * stride + (chunk - 1) * dilation + 1  [+ chunk]
//
// Row r of x, w and out starts at r * x_row_stride, r * w_row_stride (0: one
// kernel for all rows) and r * out_row_stride: 64-bit offsets, so a batch may
// pass 2^31 elements.
//
// __launch_bounds__ asks for room for GC_MIN_BLOCKS_PER_SM resident blocks
// (up to 128 registers a thread): with the bare block size ptxas squeezed some
// instantiations into 32 registers and spilled (sm_90, CUDA 13), and four
// blocks of 128 threads already fill a quarter of an SM's threads with every
// block's shared memory (16 KiB at most) resident.
#define GC_MIN_BLOCKS_PER_SM 4

template <typename T, int BLOCK, int PER_THREAD, int KT, bool CONST_W>
__global__ void __launch_bounds__(BLOCK, GC_MIN_BLOCKS_PER_SM)
conv1d_direct(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out,
              const T* __restrict__ cval, long long n, long long out_len, long long start,
              long long x_row_stride, long long w_row_stride, long long out_row_stride,
              int k, int chunk, int tile, int stride, int dilation, int boundary) {
    __align__(16) extern __shared__ unsigned char gc_shared_raw[];
    T* s_x = reinterpret_cast<T*>(gc_shared_raw);
    T* s_w = s_x + (gc_vector_width<T>() - 1) + (tile - 1) * stride + (chunk - 1) * dilation + 1;

    const long long row = blockIdx.y;
    const long long t0 = (long long)blockIdx.x * tile;
    const T* __restrict__ x_row = x + row * x_row_stride;
    const T* __restrict__ w_row = w + row * w_row_stride;
    const T fill = boundary == GC_CONSTANT ? cval[0] : gc_zero<T>();

    // Output t0 + l, l = threadIdx.x + p * BLOCK, reads staged sample
    // l * stride + (taps - 1 - i) * dilation for tap i of a chunk. Outputs
    // past the tile read sample 0 and are never written.
    T acc[PER_THREAD];
    int offset[PER_THREAD];
#pragma unroll
    for (int p = 0; p < PER_THREAD; ++p) {
        const int l = threadIdx.x + p * BLOCK;
        acc[p] = gc_zero<T>();
        offset[p] = (l < tile ? l : 0) * stride;
    }

    for (int c0 = 0; c0 < k; c0 += chunk) {
        const int taps = min(chunk, k - c0);
        const long long first = start + t0 * stride - (long long)(c0 + taps - 1) * dilation;
        const int span = (tile - 1) * stride + (taps - 1) * dilation + 1;
        const T* s = gc_stage<T, BLOCK>(s_x, x_row, first, span, n, boundary, fill);
        if (!CONST_W)
            for (int j = threadIdx.x; j < taps; j += BLOCK) s_w[j] = w_row[c0 + j];
        __syncthreads();

        const T* s_last = s + (taps - 1) * dilation;  // where tap 0 reads
        if (KT > 0) {
            // One chunk (c0 == 0): constant-memory taps sit at fixed addresses.
            const T* w_taps = CONST_W ? reinterpret_cast<const T*>(gc_constant_weights) : s_w;
#pragma unroll
            for (int i = 0; i < KT; ++i) {
                if (i >= taps) break;
                gc_tap<T, PER_THREAD>(acc, w_taps[i], s_last - i * dilation, offset);
            }
        } else {
            const T* w_taps = CONST_W ? reinterpret_cast<const T*>(gc_constant_weights) + c0 : s_w;
            for (int i = 0; i < taps; ++i)
                gc_tap<T, PER_THREAD>(acc, w_taps[i], s_last - i * dilation, offset);
        }
        __syncthreads();  // the next chunk overwrites the staged window
    }

    T* __restrict__ out_row = out + row * out_row_stride;
#pragma unroll
    for (int p = 0; p < PER_THREAD; ++p) {
        const int l = threadIdx.x + p * BLOCK;
        const long long t = t0 + l;
        if (l < tile && t < out_len) out_row[t] = acc[p];
    }
}
