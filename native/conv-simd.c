/*
 * opulab's stride-1 convolution kernels for the tfjs wasm backend (docs/architecture.md §1).
 *
 * Compiled to a small WebAssembly module (scripts/build-wasm.sh) that imports the tfjs-backend-wasm linear
 * memory, so every pointer below is an offset into the same heap the tfjs tensors live in: no copies.
 * Two builds exist: one with the relaxed-SIMD fused multiply-add (f32x4.relaxed_madd; V8 lowers it to
 * vfmadd231ps on x86-64 with FMA3, twice the multiply-add throughput of separate mul + add, which is all that
 * stock wasm SIMD and therefore tfjs's XNNPACK build can use), and a plain SIMD128 fallback.
 *
 * Every GEMM here uses one register tile (the TILE_* macros: 6 rows x 8 columns of accumulators, the shape
 * XNNPACK uses for wasm SIMD). 3x3 convolutions go through Winograd (the sections further down: transforms,
 * then GEMMs over the transformed planes); other stride-1 kernels use an "implicit GEMM" that reads the
 * zero-padded NHWC input in place,
 * without an im2col buffer, because for a stride-1 conv on a padded input the tap (kh, kw) of output pixel
 * (n, oh, ow) sits at a constant offset (kh*Wp + kw)*C from that pixel's base.
 *
 * - forward / input gradient: out[m, j] = sum_t sum_k xp[base(m) + toff(t) + k] * W[t, k, j]
 *   (the input gradient is the forward conv of the padded dy with the filter flipped in space and its
 *   channels swapped; see src/backend/kernels/conv2d-backprop-input.ts);
 * - filter gradient: dW[t, k, j] = sum_m xp[base(m) + toff(t) + k] * dy[m, j].
 *
 * The file ends with the training-mode BatchNorm+ReLU loops, which share the module.
 *
 * The functions must not use the C shadow stack (the imported memory's low addresses belong to tfjs), so
 * everything is scalar or v128 locals; scripts/build-wasm.sh checks the module never touches
 * __stack_pointer.
 */
#include <wasm_simd128.h>

#ifdef OPULAB_FMA
#define MADD(a, b, c) ((v128_t)__builtin_wasm_relaxed_madd_f32x4((__f32x4)(a), (__f32x4)(b), (__f32x4)(c)))
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#endif

#define NR 8 /* output channels per panel (two v128) */
#define MR 6 /* rows per register tile */

/*
 * The one register tile every GEMM below uses: accumulators c<row><half> for MR = 6 rows of NR = 8 columns
 * (two v128 each). Macros rather than functions keep all twelve in wasm locals (a function would pass them
 * through memory, and the kernels must not use the C stack).
 */
#define TILE_INIT(v0, v1)                                                            \
  v128_t c00 = (v0), c01 = (v1), c10 = (v0), c11 = (v1), c20 = (v0), c21 = (v1);    \
  v128_t c30 = (v0), c31 = (v1), c40 = (v0), c41 = (v1), c50 = (v0), c51 = (v1)

/* c<i> += splat(*p<i>) * (y0, y1) for the six rows. */
#define TILE_STEP(p0, p1, p2, p3, p4, p5, y0, y1)                                     \
  do {                                                                               \
    v128_t x_;                                                                       \
    x_ = wasm_v128_load32_splat(p0); c00 = MADD(x_, y0, c00); c01 = MADD(x_, y1, c01); \
    x_ = wasm_v128_load32_splat(p1); c10 = MADD(x_, y0, c10); c11 = MADD(x_, y1, c11); \
    x_ = wasm_v128_load32_splat(p2); c20 = MADD(x_, y0, c20); c21 = MADD(x_, y1, c21); \
    x_ = wasm_v128_load32_splat(p3); c30 = MADD(x_, y0, c30); c31 = MADD(x_, y1, c31); \
    x_ = wasm_v128_load32_splat(p4); c40 = MADD(x_, y0, c40); c41 = MADD(x_, y1, c41); \
    x_ = wasm_v128_load32_splat(p5); c50 = MADD(x_, y0, c50); c51 = MADD(x_, y1, c51); \
  } while (0)

/* Load the first `rows` rows of the tile from g (row stride ld); the others keep their value. */
#define TILE_LOAD(g, ld, rows)                                                                   \
  do {                                                                                           \
    c00 = wasm_v128_load(g); c01 = wasm_v128_load((g) + 4);                                      \
    if ((rows) > 1) { c10 = wasm_v128_load((g) + (ld)); c11 = wasm_v128_load((g) + (ld) + 4); }    \
    if ((rows) > 2) { c20 = wasm_v128_load((g) + 2 * (ld)); c21 = wasm_v128_load((g) + 2 * (ld) + 4); } \
    if ((rows) > 3) { c30 = wasm_v128_load((g) + 3 * (ld)); c31 = wasm_v128_load((g) + 3 * (ld) + 4); } \
    if ((rows) > 4) { c40 = wasm_v128_load((g) + 4 * (ld)); c41 = wasm_v128_load((g) + 4 * (ld) + 4); } \
    if ((rows) > 5) { c50 = wasm_v128_load((g) + 5 * (ld)); c51 = wasm_v128_load((g) + 5 * (ld) + 4); } \
  } while (0)

/* Store the first `rows` rows of the tile to g (row stride ld). */
#define TILE_STORE(g, ld, rows)                                                                  \
  do {                                                                                           \
    wasm_v128_store(g, c00); wasm_v128_store((g) + 4, c01);                                      \
    if ((rows) > 1) { wasm_v128_store((g) + (ld), c10); wasm_v128_store((g) + (ld) + 4, c11); }    \
    if ((rows) > 2) { wasm_v128_store((g) + 2 * (ld), c20); wasm_v128_store((g) + 2 * (ld) + 4, c21); } \
    if ((rows) > 3) { wasm_v128_store((g) + 3 * (ld), c30); wasm_v128_store((g) + 3 * (ld) + 4, c31); } \
    if ((rows) > 4) { wasm_v128_store((g) + 4 * (ld), c40); wasm_v128_store((g) + 4 * (ld) + 4, c41); } \
    if ((rows) > 5) { wasm_v128_store((g) + 5 * (ld), c50); wasm_v128_store((g) + 5 * (ld) + 4, c51); } \
  } while (0)

/* c = max(c, 0) over the tile. */
#define TILE_RELU(zero)                                                                          \
  do {                                                                                           \
    c00 = wasm_f32x4_max(c00, zero); c01 = wasm_f32x4_max(c01, zero);                            \
    c10 = wasm_f32x4_max(c10, zero); c11 = wasm_f32x4_max(c11, zero);                            \
    c20 = wasm_f32x4_max(c20, zero); c21 = wasm_f32x4_max(c21, zero);                            \
    c30 = wasm_f32x4_max(c30, zero); c31 = wasm_f32x4_max(c31, zero);                            \
    c40 = wasm_f32x4_max(c40, zero); c41 = wasm_f32x4_max(c41, zero);                            \
    c50 = wasm_f32x4_max(c50, zero); c51 = wasm_f32x4_max(c51, zero);                            \
  } while (0)

/* Zero-pad x [N,H,W,C] into xp [N, H+pt+pb, W+pl+pr, C]. */
void pad_nhwc(const float *x, float *xp, int N, int H, int W, int C, int pt, int pb, int pl, int pr) {
  const int Hp = H + pt + pb, Wp = W + pl + pr;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int n = 0; n < N; n++) {
    for (int h = 0; h < Hp; h++) {
      float *dst = xp + ((long)(n * Hp + h) * Wp) * C;
      const int ih = h - pt;
      if (ih < 0 || ih >= H) {
        int i = 0;
        for (; i + 4 <= Wp * C; i += 4) wasm_v128_store(dst + i, zero);
        for (; i < Wp * C; i++) dst[i] = 0.0f;
        continue;
      }
      int i = 0;
      for (; i < pl * C; i++) dst[i] = 0.0f;
      const float *src = x + ((long)(n * H + ih) * W) * C;
      int j = 0;
      for (; j + 4 <= W * C; j += 4) wasm_v128_store(dst + i + j, wasm_v128_load(src + j));
      for (; j < W * C; j++) dst[i + j] = src[j];
      i += W * C;
      for (; i < Wp * C; i++) dst[i] = 0.0f;
    }
  }
}

/*
 * Pack a filter into NR-wide panels: wp[((jt*T + t)*K + k)*NR + jj] = W(t, k, jt*NR + jj), zero past J.
 * flip_swap = 0: W(t, k, j) = w[(t*K + k)*J + j]             (forward filter [KH,KW,K,J]);
 * flip_swap = 1: W(t, k, j) = w[((T-1-t)*J + j)*K + k]       (input gradient: w is the forward filter
 *                [KH,KW,J,K], flipped in space with its channels swapped).
 */
void pack_filter(const float *w, float *wp, int T, int K, int J, int flip_swap) {
  const int JT = (J + NR - 1) / NR;
  for (int jt = 0; jt < JT; jt++) {
    for (int t = 0; t < T; t++) {
      for (int k = 0; k < K; k++) {
        float *dst = wp + (((long)jt * T + t) * K + k) * NR;
        for (int jj = 0; jj < NR; jj++) {
          const int j = jt * NR + jj;
          float v = 0.0f;
          if (j < J) v = flip_swap ? w[((long)(T - 1 - t) * J + j) * K + k] : w[((long)t * K + k) * J + j];
          dst[jj] = v;
        }
      }
    }
  }
}

/* Base offset (in floats) of output pixel m's window in the padded input. */
static inline long pixel_base(int m, int OH, int OW, int Hp, int Wp, int K) {
  const int ow = m % OW;
  const int r = m / OW;
  const int oh = r % OH;
  const int n = r / OH;
  return ((long)(n * Hp + oh) * Wp + ow) * K;
}

/*
 * Forward stride-1 conv on a padded input (J a multiple of NR):
 * out[m, j] = act(bias[j] + sum_{kh,kw,k} xp[base(m) + (kh*Wp + kw)*K + k] * W[kh,kw,k,j]), act = relu if
 * relu != 0; bias may be 0 (null). wp is pack_filter's output.
 */
void conv_s1_forward(const float *xp, const float *wp, const float *bias, float *out, int N, int OH, int OW,
                     int Hp, int Wp, int K, int J, int KH, int KW, int relu) {
  const int M = N * OH * OW;
  const int T = KH * KW;
  const int JT = J / NR;
  const long panel = (long)T * K * NR;
  /* a group of panels small enough to stay in L2 while every pixel tile streams past it */
  int group = (int)(262144 / (panel > 0 ? panel : 1));
  if (group < 1) group = 1;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int jg = 0; jg < JT; jg += group) {
    const int jg_end = jg + group < JT ? jg + group : JT;
    for (int m0 = 0; m0 < M; m0 += MR) {
      const int rows = M - m0 < MR ? M - m0 : MR;
      const float *a0 = xp + pixel_base(m0, OH, OW, Hp, Wp, K);
      const float *a1 = rows > 1 ? xp + pixel_base(m0 + 1, OH, OW, Hp, Wp, K) : a0;
      const float *a2 = rows > 2 ? xp + pixel_base(m0 + 2, OH, OW, Hp, Wp, K) : a1;
      const float *a3 = rows > 3 ? xp + pixel_base(m0 + 3, OH, OW, Hp, Wp, K) : a2;
      const float *a4 = rows > 4 ? xp + pixel_base(m0 + 4, OH, OW, Hp, Wp, K) : a3;
      const float *a5 = rows > 5 ? xp + pixel_base(m0 + 5, OH, OW, Hp, Wp, K) : a4;
      for (int jt = jg; jt < jg_end; jt++) {
        v128_t b0 = zero, b1 = zero;
        if (bias) {
          b0 = wasm_v128_load(bias + jt * NR);
          b1 = wasm_v128_load(bias + jt * NR + 4);
        }
        TILE_INIT(b0, b1);
        const float *w = wp + jt * panel;
        for (int kh = 0; kh < KH; kh++) {
          for (int kw = 0; kw < KW; kw++) {
            const long off = ((long)kh * Wp + kw) * K;
            const float *p0 = a0 + off, *p1 = a1 + off, *p2 = a2 + off;
            const float *p3 = a3 + off, *p4 = a4 + off, *p5 = a5 + off;
            for (int k = 0; k < K; k++) {
              const v128_t w0 = wasm_v128_load(w);
              const v128_t w1 = wasm_v128_load(w + 4);
              w += NR;
              TILE_STEP(p0 + k, p1 + k, p2 + k, p3 + k, p4 + k, p5 + k, w0, w1);
            }
          }
        }
        if (relu) TILE_RELU(zero);
        float *o = out + (long)m0 * J + jt * NR;
        TILE_STORE(o, J, rows);
      }
    }
  }
}

/*
 * Filter gradient of a stride-1 conv on a padded input (J a multiple of NR):
 * dw[(t*K + k)*J + j] = sum_m xp[base(m) + toff(t) + k] * dy[m*J + j], t = kh*KW + kw.
 * The pixel sum is blocked by output rows so a block of x and dy stays in cache while every (t, k, j)
 * tile runs over it; partial sums accumulate in dw (zeroed first).
 */
void conv_s1_filter_grad(const float *xp, const float *dy, float *dw, int N, int OH, int OW, int Hp, int Wp,
                         int K, int J, int KH, int KW) {
  const int T = KH * KW;
  const int JT = J / NR;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (long i = 0; i < (long)T * K * J; i += 4) wasm_v128_store(dw + i, zero);
  const int rows_total = N * OH;
  int block_rows = 256 / OW;
  if (block_rows < 1) block_rows = 1;
  for (int r0 = 0; r0 < rows_total; r0 += block_rows) {
    const int r1 = r0 + block_rows < rows_total ? r0 + block_rows : rows_total;
    for (int k0 = 0; k0 < K; k0 += MR) {
      const int kr = K - k0 < MR ? K - k0 : MR;
      /* lanes past K re-read the last channel and are not stored */
      const int d1 = kr > 1 ? 1 : 0, d2 = kr > 2 ? 2 : kr - 1, d3 = kr > 3 ? 3 : kr - 1;
      const int d4 = kr > 4 ? 4 : kr - 1, d5 = kr > 5 ? 5 : kr - 1;
      for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
          const int t = kh * KW + kw;
          const long off = ((long)kh * Wp + kw) * K + k0;
          for (int jt = 0; jt < JT; jt++) {
            float *g = dw + ((long)t * K + k0) * J + jt * NR;
            TILE_INIT(zero, zero);
            TILE_LOAD(g, J, kr);
            for (int r = r0; r < r1; r++) {
              const int oh = r % OH, n = r / OH;
              const float *a = xp + ((long)(n * Hp + oh) * Wp) * K + off;
              const float *d = dy + (long)r * OW * J + jt * NR;
              for (int ow = 0; ow < OW; ow++) {
                const v128_t y0 = wasm_v128_load(d);
                const v128_t y1 = wasm_v128_load(d + 4);
                TILE_STEP(a, a + d1, a + d2, a + d3, a + d4, a + d5, y0, y1);
                a += K;
                d += J;
              }
            }
            TILE_STORE(g, J, kr);
          }
        }
      }
    }
  }
}

/* ------------------------------------------------------------------------------------------------------
 * Winograd F(2x2, 3x3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"): each 2x2
 * output tile is A^T [ (G g G^T) . (B^T d B) ] A for the 4x4 input tile d at (2ty, 2tx) of the padded input,
 * so the channel contraction becomes 16 independent GEMMs with 16 multiplies per 4 outputs instead of 36
 * (2.25x fewer). The filter gradient is the adjoint in the filter: dg = G^T [ sum_tiles (B^T d B) . (A dY A^T) ] G,
 * again 16 GEMMs (contracting over tiles). Transforms work on 4 channels at a time (K, J multiples of 4).
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * Layouts: V[xi][t][c] (xi = 4*i + j, t = (n*TH + ty)*TW + tx), U as GEMM panels U[xi][jt][k][8],
 * M[xi][t][j].
 * ------------------------------------------------------------------------------------------------------ */

#define V4 v128_t
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store((p), (v))
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub

/*
 * V = B^T d B for the 4x4 tiles t in [t0, t1) of the padded input xp [N, Hp, Wp, C] (Hp >= 2*TH + 2,
 * Wp >= 2*TW + 2); V[(xi*ldt + t - t0)*C + c].
 */
static void wino2_input(const float *xp, float *V, int Hp, int Wp, int C, int TH, int TW, int t0, int t1, int ldt) {
  const long plane = (long)ldt * C;
  const long rs = (long)Wp * C; /* row stride */
  for (int t = t0; t < t1; t++) {
    const int tx = t % TW, r = t / TW, ty = r % TH, n = r / TH;
    const float *d = xp + (((long)n * Hp + 2 * ty) * Wp + 2 * tx) * C;
    float *v = V + (long)(t - t0) * C;
    for (int c = 0; c < C; c += 4) {
      V4 q[4][4];
      for (int i = 0; i < 4; i++) {
        const V4 d0 = LD(d + i * rs + c), d1 = LD(d + i * rs + C + c);
        const V4 d2 = LD(d + i * rs + 2 * C + c), d3 = LD(d + i * rs + 3 * C + c);
        q[i][0] = SUB(d0, d2); q[i][1] = ADD(d1, d2); q[i][2] = SUB(d2, d1); q[i][3] = SUB(d1, d3);
      }
      for (int j = 0; j < 4; j++) {
        ST(v + (0 * 4 + j) * plane + c, SUB(q[0][j], q[2][j]));
        ST(v + (1 * 4 + j) * plane + c, ADD(q[1][j], q[2][j]));
        ST(v + (2 * 4 + j) * plane + c, SUB(q[2][j], q[1][j]));
        ST(v + (3 * 4 + j) * plane + c, SUB(q[1][j], q[3][j]));
      }
    }
  }
}

/* ws[t][k][j] = w[8 - t][j][k]: a 3x3 forward filter w [3,3,J,K] flipped in space with its channels swapped
 * (the input-gradient filter), by 4x4 register transposes; K and J multiples of 4. */
void flip_swap_3x3(const float *w, float *ws, int K, int J) {
  const long KJ = (long)K * J;
  for (int t = 0; t < 9; t++) {
    const float *src = w + (8 - t) * KJ;
    float *dst = ws + t * KJ;
    for (int j0 = 0; j0 < J; j0 += 4) {
      for (int k0 = 0; k0 < K; k0 += 4) {
        const V4 r0 = LD(src + (long)(j0 + 0) * K + k0), r1 = LD(src + (long)(j0 + 1) * K + k0);
        const V4 r2 = LD(src + (long)(j0 + 2) * K + k0), r3 = LD(src + (long)(j0 + 3) * K + k0);
        const V4 t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
        const V4 t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
        ST(dst + (long)(k0 + 0) * J + j0, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
        ST(dst + (long)(k0 + 1) * J + j0, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
        ST(dst + (long)(k0 + 2) * J + j0, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
        ST(dst + (long)(k0 + 3) * J + j0, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
      }
    }
  }
}

/* U = G g G^T for a 3x3 filter w [3,3,K,J], packed as GEMM panels U[((xi*JT + jt)*K + k)*8 + jj]; 4 output
 * channels at a time (J a multiple of 8). */
static void wino2_filter(const float *w, float *U, int K, int J) {
  const int JT = J / NR;
  const long KJ = (long)K * J;
  const V4 half = wasm_f32x4_splat(0.5f);
  for (int k = 0; k < K; k++) {
    for (int j = 0; j < J; j += 4) {
      V4 g[3][3];
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) g[a][b] = LD(w + (a * 3 + b) * KJ + (long)k * J + j);
      V4 q[4][3];
      for (int b = 0; b < 3; b++) {
        q[0][b] = g[0][b];
        q[1][b] = wasm_f32x4_mul(half, ADD(ADD(g[0][b], g[1][b]), g[2][b]));
        q[2][b] = wasm_f32x4_mul(half, ADD(SUB(g[0][b], g[1][b]), g[2][b]));
        q[3][b] = g[2][b];
      }
      const int jt = j / NR, jj = j % NR;
      for (int i = 0; i < 4; i++) {
        float *u = U + ((long)(i * 4) * JT + jt) * K * NR + (long)k * NR + jj;
        const long step = (long)JT * K * NR; /* one xi plane */
        ST(u, q[i][0]);
        ST(u + step, wasm_f32x4_mul(half, ADD(ADD(q[i][0], q[i][1]), q[i][2])));
        ST(u + 2 * step, wasm_f32x4_mul(half, ADD(SUB(q[i][0], q[i][1]), q[i][2])));
        ST(u + 3 * step, q[i][2]);
      }
    }
  }
}

/* C[m, j] = sum_k A[m*K + k] * B[k, j] for m < M, with B as NR-wide panels Bp[jt][k][8]; J % NR == 0. */
static void gemm_panels(const float *A, const float *Bp, float *Cm, int M, int K, int J) {
  const int JT = J / NR;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  int group = (int)(65536 / ((long)K * NR));
  if (group < 1) group = 1;
  for (int jg = 0; jg < JT; jg += group) {
    const int jg_end = jg + group < JT ? jg + group : JT;
    for (int m0 = 0; m0 < M; m0 += MR) {
      const int rows = M - m0 < MR ? M - m0 : MR;
      const float *a0 = A + (long)m0 * K;
      const float *a1 = rows > 1 ? a0 + K : a0;
      const float *a2 = rows > 2 ? a1 + K : a1;
      const float *a3 = rows > 3 ? a2 + K : a2;
      const float *a4 = rows > 4 ? a3 + K : a3;
      const float *a5 = rows > 5 ? a4 + K : a4;
      for (int jt = jg; jt < jg_end; jt++) {
        TILE_INIT(zero, zero);
        const float *w = Bp + (long)jt * K * NR;
        for (int k = 0; k < K; k++) {
          const v128_t w0 = wasm_v128_load(w);
          const v128_t w1 = wasm_v128_load(w + 4);
          w += NR;
          TILE_STEP(a0 + k, a1 + k, a2 + k, a3 + k, a4 + k, a5 + k, w0, w1);
        }
        float *o = Cm + (long)m0 * J + jt * NR;
        TILE_STORE(o, J, rows);
      }
    }
  }
}

/* out[n, 2ty+a, 2tx+b, j] = act(bias[j] + (A^T M A)[a][b]) for tiles [t0, t1), M[(xi*ldt + t - t0)*J + j]. */
static void wino2_output(const float *M, const float *bias, float *out, int OH, int OW, int TH, int TW, int J, int relu,
                        int t0, int t1, int ldt) {
  const long plane = (long)ldt * J;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int t = t0; t < t1; t++) {
    const int tx = t % TW, r = t / TW, ty = r % TH, n = r / TH;
    const float *m = M + (long)(t - t0) * J;
    const int h0 = 2 * ty, w0 = 2 * tx;
    for (int j = 0; j < J; j += 4) {
      V4 q[2][4];
      for (int c = 0; c < 4; c++) {
        const V4 m0 = LD(m + (0 * 4 + c) * plane + j), m1 = LD(m + (1 * 4 + c) * plane + j);
        const V4 m2 = LD(m + (2 * 4 + c) * plane + j), m3 = LD(m + (3 * 4 + c) * plane + j);
        q[0][c] = ADD(ADD(m0, m1), m2);
        q[1][c] = SUB(SUB(m1, m2), m3);
      }
      const V4 b = bias ? LD(bias + j) : zero;
      for (int a = 0; a < 2; a++) {
        if (h0 + a >= OH) break;
        V4 y0 = ADD(ADD(ADD(q[a][0], q[a][1]), q[a][2]), b);
        V4 y1 = ADD(SUB(SUB(q[a][1], q[a][2]), q[a][3]), b);
        if (relu) { y0 = wasm_f32x4_max(y0, zero); y1 = wasm_f32x4_max(y1, zero); }
        float *o = out + (((long)n * OH + h0 + a) * OW + w0) * J + j;
        ST(o, y0);
        if (w0 + 1 < OW) ST(o + J, y1);
      }
    }
  }
}

/* Yh = A dY A^T for the 2x2 tiles [t0, t1) of dy [N, OH, OW, J] (zeros outside OH x OW); Yh[(xi*ldt + t - t0)*J + j]. */
static void wino2_dy(const float *dy, float *Yh, int OH, int OW, int TH, int TW, int J, int t0, int t1, int ldt) {
  const long plane = (long)ldt * J;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int t = t0; t < t1; t++) {
    const int tx = t % TW, r = t / TW, ty = r % TH, n = r / TH;
    const int h0 = 2 * ty, w0 = 2 * tx;
    const int hv = h0 + 1 < OH, wv = w0 + 1 < OW;
    const float *p = dy + (((long)n * OH + h0) * OW + w0) * J;
    float *y = Yh + (long)(t - t0) * J;
    for (int j = 0; j < J; j += 4) {
      const V4 d00 = LD(p + j);
      const V4 d01 = wv ? LD(p + J + j) : zero;
      const V4 d10 = hv ? LD(p + (long)OW * J + j) : zero;
      const V4 d11 = hv && wv ? LD(p + (long)OW * J + J + j) : zero;
      /* rows: A [d0; d1] = [d0, d0 + d1, d0 - d1, -d1] */
      V4 q[4][2];
      q[0][0] = d00; q[0][1] = d01;
      q[1][0] = ADD(d00, d10); q[1][1] = ADD(d01, d11);
      q[2][0] = SUB(d00, d10); q[2][1] = SUB(d01, d11);
      q[3][0] = SUB(zero, d10); q[3][1] = SUB(zero, d11);
      for (int i = 0; i < 4; i++) {
        ST(y + (i * 4 + 0) * plane + j, q[i][0]);
        ST(y + (i * 4 + 1) * plane + j, ADD(q[i][0], q[i][1]));
        ST(y + (i * 4 + 2) * plane + j, SUB(q[i][0], q[i][1]));
        ST(y + (i * 4 + 3) * plane + j, SUB(zero, q[i][1]));
      }
    }
  }
}

/* G (K x J) += A^T (K x T) . Y (T x J), contracting over T rows (J % NR == 0). */
static void gemm_tn_acc(const float *Vx, const float *Yx, float *G, int T, int K, int J) {
  const int JT = J / NR;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int k0 = 0; k0 < K; k0 += MR) {
    const int kr = K - k0 < MR ? K - k0 : MR;
    const int d1 = kr > 1 ? 1 : 0, d2 = kr > 2 ? 2 : kr - 1, d3 = kr > 3 ? 3 : kr - 1;
    const int d4 = kr > 4 ? 4 : kr - 1, d5 = kr > 5 ? 5 : kr - 1;
    for (int jt = 0; jt < JT; jt++) {
      float *g = G + (long)k0 * J + jt * NR;
      TILE_INIT(zero, zero);
      TILE_LOAD(g, J, kr);
      const float *a = Vx + k0;
      const float *d = Yx + jt * NR;
      for (int t = 0; t < T; t++) {
        const v128_t y0 = wasm_v128_load(d);
        const v128_t y1 = wasm_v128_load(d + 4);
        TILE_STEP(a, a + d1, a + d2, a + d3, a + d4, a + d5, y0, y1);
        a += K;
        d += J;
      }
      TILE_STORE(g, J, kr);
    }
  }
}

/* dw[a, b, k, j] = (G^T dU G)[a][b] with dU[xi][k][j]. */
static void wino2_filter_grad_out(const float *dU, float *dw, int K, int J) {
  const long plane = (long)K * J;
  for (long e = 0; e < plane; e += 4) {
    V4 u[4][4];
    for (int xi = 0; xi < 16; xi++) u[xi / 4][xi % 4] = LD(dU + xi * plane + e);
    const V4 half = wasm_f32x4_splat(0.5f);
    V4 r[3][4];
    for (int q = 0; q < 4; q++) {
      const V4 s = wasm_f32x4_mul(half, ADD(u[1][q], u[2][q]));
      const V4 dlt = wasm_f32x4_mul(half, SUB(u[1][q], u[2][q]));
      r[0][q] = ADD(u[0][q], s);
      r[1][q] = dlt;
      r[2][q] = ADD(s, u[3][q]);
    }
    for (int a = 0; a < 3; a++) {
      const V4 s = wasm_f32x4_mul(half, ADD(r[a][1], r[a][2]));
      const V4 dlt = wasm_f32x4_mul(half, SUB(r[a][1], r[a][2]));
      ST(dw + (a * 3 + 0) * plane + e, ADD(r[a][0], s));
      ST(dw + (a * 3 + 1) * plane + e, dlt);
      ST(dw + (a * 3 + 2) * plane + e, ADD(s, r[a][3]));
    }
  }
}

/* ------------------------------------------------------------------------------------------------------
 * Winograd F(4x4, 3x3) (Lavin & Gray 2016): 6x6 input tiles at stride 4, 36 GEMMs with 36 multiplies per 16
 * outputs (4x fewer than direct, 1.78x fewer than F(2x2, 3x3)); used where the output is at least 4x4.
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * Same layouts as F(2x2, 3x3) with 36 planes (xi = 6*i + j).
 * ------------------------------------------------------------------------------------------------------ */

#define MULS(a, s) wasm_f32x4_mul((a), wasm_f32x4_splat(s))

/* B^T applied to a column of 6: out[0..5]. */
static inline void bt6(const V4 d[6], V4 o[6]) {
  o[0] = ADD(SUB(MULS(d[0], 4.0f), MULS(d[2], 5.0f)), d[4]);
  o[1] = SUB(ADD(d[3], d[4]), MULS(ADD(d[1], d[2]), 4.0f));
  o[2] = ADD(SUB(d[4], d[3]), MULS(SUB(d[1], d[2]), 4.0f));
  o[3] = ADD(SUB(d[4], d[2]), MULS(SUB(d[3], d[1]), 2.0f));
  o[4] = ADD(SUB(d[4], d[2]), MULS(SUB(d[1], d[3]), 2.0f));
  o[5] = ADD(SUB(MULS(d[1], 4.0f), MULS(d[3], 5.0f)), d[5]);
}

static void wino4_input(const float *xp, float *V, int Hp, int Wp, int C, int TH, int TW, int t0, int t1, int ldt) {
  const long plane = (long)ldt * C;
  const long rs = (long)Wp * C;
  for (int t = t0; t < t1; t++) {
    const int tx = t % TW, r = t / TW, ty = r % TH, n = r / TH;
    const float *d = xp + (((long)n * Hp + 4 * ty) * Wp + 4 * tx) * C;
    float *v = V + (long)(t - t0) * C;
    for (int c = 0; c < C; c += 4) {
      V4 q[6][6]; /* q[i][col] = (B^T d)[i][col] */
      for (int col = 0; col < 6; col++) {
        V4 in[6], o[6];
        for (int i = 0; i < 6; i++) in[i] = LD(d + i * rs + col * C + c);
        bt6(in, o);
        for (int i = 0; i < 6; i++) q[i][col] = o[i];
      }
      for (int i = 0; i < 6; i++) {
        V4 o[6];
        bt6(q[i], o);
        for (int j = 0; j < 6; j++) ST(v + (i * 6 + j) * plane + c, o[j]);
      }
    }
  }
}

/* G applied to 3 values: out[0..5]. */
static inline void g6(const V4 g[3], V4 o[6]) {
  const V4 s = ADD(g[0], g[2]);
  o[0] = MULS(g[0], 0.25f);
  o[1] = MULS(ADD(s, g[1]), -1.0f / 6.0f);
  o[2] = MULS(SUB(s, g[1]), -1.0f / 6.0f);
  const V4 a = ADD(MULS(g[0], 1.0f / 24.0f), MULS(g[2], 1.0f / 6.0f));
  const V4 b = MULS(g[1], 1.0f / 12.0f);
  o[3] = ADD(a, b);
  o[4] = SUB(a, b);
  o[5] = g[2];
}

/* U = G g G^T for w [3,3,K,J], as 36 GEMM panel sets U[((xi*JT + jt)*K + k)*8 + jj]. */
static void wino4_filter(const float *w, float *U, int K, int J) {
  const int JT = J / NR;
  const long KJ = (long)K * J;
  const long step = (long)JT * K * NR;
  for (int k = 0; k < K; k++) {
    for (int j = 0; j < J; j += 4) {
      V4 q[6][3]; /* q[i][b] = (G g)[i][b] */
      for (int b = 0; b < 3; b++) {
        V4 g[3], o[6];
        for (int a = 0; a < 3; a++) g[a] = LD(w + (a * 3 + b) * KJ + (long)k * J + j);
        g6(g, o);
        for (int i = 0; i < 6; i++) q[i][b] = o[i];
      }
      const int jt = j / NR, jj = j % NR;
      float *u = U + (long)jt * K * NR + (long)k * NR + jj;
      for (int i = 0; i < 6; i++) {
        V4 o[6];
        g6(q[i], o);
        for (int c = 0; c < 6; c++) ST(u + (i * 6 + c) * step, o[c]);
      }
    }
  }
}

/* A^T applied to 6 values: out[0..3]. */
static inline void at4(const V4 m[6], V4 o[4]) {
  const V4 s12 = ADD(m[1], m[2]), d12 = SUB(m[1], m[2]);
  const V4 s34 = ADD(m[3], m[4]), d34 = SUB(m[3], m[4]);
  o[0] = ADD(ADD(m[0], s12), s34);
  o[1] = ADD(d12, MULS(d34, 2.0f));
  o[2] = ADD(s12, MULS(s34, 4.0f));
  o[3] = ADD(ADD(d12, MULS(d34, 8.0f)), m[5]);
}

static void wino4_output(const float *M, const float *bias, float *out, int OH, int OW, int TH, int TW, int J, int relu,
                         int t0, int t1, int ldt) {
  const long plane = (long)ldt * J;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int t = t0; t < t1; t++) {
    const int tx = t % TW, r = t / TW, ty = r % TH, n = r / TH;
    const float *m = M + (long)(t - t0) * J;
    const int h0 = 4 * ty, w0 = 4 * tx;
    for (int j = 0; j < J; j += 4) {
      V4 q[4][6]; /* q[a][c] = (A^T M)[a][c] */
      for (int c = 0; c < 6; c++) {
        V4 in[6], o[4];
        for (int i = 0; i < 6; i++) in[i] = LD(m + (i * 6 + c) * plane + j);
        at4(in, o);
        for (int a = 0; a < 4; a++) q[a][c] = o[a];
      }
      const V4 b = bias ? LD(bias + j) : zero;
      for (int a = 0; a < 4; a++) {
        if (h0 + a >= OH) break;
        V4 y[4];
        at4(q[a], y);
        float *o = out + (((long)n * OH + h0 + a) * OW + w0) * J + j;
        for (int e = 0; e < 4; e++) {
          if (w0 + e >= OW) break;
          V4 v = ADD(y[e], b);
          if (relu) v = wasm_f32x4_max(v, zero);
          ST(o + e * J, v);
        }
      }
    }
  }
}

/* A applied to 4 values (A = (A^T)^T, 6x4): out[0..5]. */
static inline void a6(const V4 d[4], V4 o[6]) {
  const V4 s02 = ADD(d[0], d[2]), s13 = ADD(d[1], d[3]);
  o[0] = d[0];
  o[1] = ADD(s02, s13);
  o[2] = SUB(s02, s13);
  const V4 e = ADD(d[0], MULS(d[2], 4.0f)), f = ADD(MULS(d[1], 2.0f), MULS(d[3], 8.0f));
  o[3] = ADD(e, f);
  o[4] = SUB(e, f);
  o[5] = d[3];
}

static void wino4_dy(const float *dy, float *Yh, int OH, int OW, int TH, int TW, int J, int t0, int t1, int ldt) {
  const long plane = (long)ldt * J;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int t = t0; t < t1; t++) {
    const int tx = t % TW, r = t / TW, ty = r % TH, n = r / TH;
    const int h0 = 4 * ty, w0 = 4 * tx;
    float *y = Yh + (long)(t - t0) * J;
    for (int j = 0; j < J; j += 4) {
      V4 q[6][4]; /* q[i][b] = (A dY)[i][b] */
      for (int b = 0; b < 4; b++) {
        V4 in[4], o[6];
        for (int a = 0; a < 4; a++)
          in[a] = (h0 + a < OH && w0 + b < OW) ? LD(dy + (((long)n * OH + h0 + a) * OW + w0 + b) * J + j) : zero;
        a6(in, o);
        for (int i = 0; i < 6; i++) q[i][b] = o[i];
      }
      for (int i = 0; i < 6; i++) {
        V4 o[6];
        a6(q[i], o);
        for (int c = 0; c < 6; c++) ST(y + (i * 6 + c) * plane + j, o[c]);
      }
    }
  }
}

/* G^T applied to 6 values (G^T is 3x6): out[0..2]. */
static inline void gt3(const V4 u[6], V4 o[3]) {
  const V4 s12 = ADD(u[1], u[2]), d12 = SUB(u[1], u[2]);
  const V4 s34 = ADD(u[3], u[4]), d34 = SUB(u[3], u[4]);
  o[0] = ADD(SUB(MULS(u[0], 0.25f), MULS(s12, 1.0f / 6.0f)), MULS(s34, 1.0f / 24.0f));
  o[1] = ADD(MULS(d12, -1.0f / 6.0f), MULS(d34, 1.0f / 12.0f));
  o[2] = ADD(MULS(SUB(s34, s12), 1.0f / 6.0f), u[5]);
}

/* dw[a, b, k, j] = (G^T dU G)[a][b] with dU[xi][k][j] (36 planes). */
static void wino4_filter_grad_out(const float *dU, float *dw, int K, int J) {
  const long plane = (long)K * J;
  for (long e = 0; e < plane; e += 4) {
    V4 q[3][6]; /* q[a][c] = (G^T dU)[a][c] */
    for (int c = 0; c < 6; c++) {
      V4 in[6], o[3];
      for (int i = 0; i < 6; i++) in[i] = LD(dU + (i * 6 + c) * plane + e);
      gt3(in, o);
      for (int a = 0; a < 3; a++) q[a][c] = o[a];
    }
    for (int a = 0; a < 3; a++) {
      V4 o[3];
      gt3(q[a], o);
      for (int b = 0; b < 3; b++) ST(dw + (a * 3 + b) * plane + e, o[b]);
    }
  }
}

/* ------------------------------------------------------------------------------------------------------
 * Training-mode BatchNorm + ReLU over z [rows, C] (C a multiple of 4), the SIMD twin of
 * src/backend/kernels/batchnorm-relu.ts (which has the formulas). Column sums are taken over blocks of
 * BN_BLOCK rows in float32 registers and folded into float64 totals, so long sums keep float64 accuracy.
 * scratch: 4*C floats (float64 s1, s2) + 3*C floats (per-channel coefficients).
 * ------------------------------------------------------------------------------------------------------ */
#define BN_BLOCK 32

/* s1[k] = sum_r a[r,k] * m, s2[k] = sum_r (a[r,k] * m) * (b[r,k] - c[k]) with m = [y > 0] when mask != 0. */
static void bn_column_sums(const float *a, const float *bsrc, const float *cvec, const float *ymask, double *s1,
                           double *s2, int rows, int C, int square) {
  for (int k = 0; k < C; k++) { s1[k] = 0.0; s2[k] = 0.0; }
  const V4 zero = wasm_f32x4_splat(0.0f);
  for (int r0 = 0; r0 < rows; r0 += BN_BLOCK) {
    const int r1 = r0 + BN_BLOCK < rows ? r0 + BN_BLOCK : rows;
    for (int k = 0; k < C; k += 4) {
      V4 p1 = zero, p2 = zero;
      const V4 cv = cvec ? LD(cvec + k) : zero;
      for (int r = r0; r < r1; r++) {
        const long o = (long)r * C + k;
        V4 v = LD(a + o);
        if (ymask) v = wasm_v128_and(v, wasm_f32x4_gt(LD(ymask + o), zero));
        p1 = ADD(p1, v);
        p2 = MADD(v, square ? v : SUB(LD(bsrc + o), cv), p2);
      }
      const v128_t lo1 = wasm_f64x2_promote_low_f32x4(p1), hi1 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(p1, p1, 2, 3, 0, 1));
      const v128_t lo2 = wasm_f64x2_promote_low_f32x4(p2), hi2 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(p2, p2, 2, 3, 0, 1));
      wasm_v128_store(s1 + k, wasm_f64x2_add(wasm_v128_load(s1 + k), lo1));
      wasm_v128_store(s1 + k + 2, wasm_f64x2_add(wasm_v128_load(s1 + k + 2), hi1));
      wasm_v128_store(s2 + k, wasm_f64x2_add(wasm_v128_load(s2 + k), lo2));
      wasm_v128_store(s2 + k + 2, wasm_f64x2_add(wasm_v128_load(s2 + k + 2), hi2));
    }
  }
}

void bn_relu_forward(const float *z, const float *bias, const float *gamma, const float *beta, float eps, float *y,
                     float *mean, float *var, int rows, int C, float *scratch) {
  double *s1 = (double *)scratch, *s2 = s1 + C;
  float *scale = scratch + 4 * C, *shift = scale + C;
  bn_column_sums(z, 0, 0, 0, s1, s2, rows, C, 1);
  for (int k = 0; k < C; k++) {
    const double mz = s1[k] / rows;
    double vz = s2[k] / rows - mz * mz;
    if (vz < 0) vz = 0;
    mean[k] = (float)(mz + bias[k]);
    var[k] = (float)vz;
    const float sc = gamma[k] / (float)__builtin_sqrt(vz + eps);
    scale[k] = sc;
    shift[k] = beta[k] - (float)mz * sc;
  }
  const V4 zero = wasm_f32x4_splat(0.0f);
  for (int r = 0; r < rows; r++) {
    const long o = (long)r * C;
    for (int k = 0; k < C; k += 4) ST(y + o + k, wasm_f32x4_max(MADD(LD(z + o + k), LD(scale + k), LD(shift + k)), zero));
  }
}

void bn_relu_backward(const float *dy, const float *z, const float *y, const float *bias, const float *gamma,
                      const float *mean, const float *var, float eps, float *dz, float *dbias, float *dgamma,
                      float *dbeta, int rows, int C, float *scratch) {
  double *sg = (double *)scratch, *sgx = sg + C;
  float *meanz = scratch + 4 * C, *ca = meanz + C, *cb = ca + C;
  for (int k = 0; k < C; k++) meanz[k] = mean[k] - bias[k];
  bn_column_sums(dy, z, meanz, y, sg, sgx, rows, C, 0);
  for (int k = 0; k < C; k++) {
    const double rstd = 1.0 / __builtin_sqrt((double)var[k] + eps);
    const double gr = gamma[k] * rstd;
    const double bk = -gr * sgx[k] * rstd * rstd / rows;
    ca[k] = (float)gr;
    cb[k] = (float)bk;
    /* the constant term d = -gr*sg/rows - bk*meanz goes into meanz's slot after its last use below */
    dgamma[k] = (float)(sgx[k] * rstd);
    dbeta[k] = (float)sg[k];
    dbias[k] = 0.0f; /* sum(dz) is exactly 0: BatchNorm removes any per-channel shift */
    meanz[k] = (float)(-gr * sg[k] / rows - bk * meanz[k]);
  }
  const V4 zero = wasm_f32x4_splat(0.0f);
  for (int r = 0; r < rows; r++) {
    const long o = (long)r * C;
    for (int k = 0; k < C; k += 4) {
      const V4 g = wasm_v128_and(LD(dy + o + k), wasm_f32x4_gt(LD(y + o + k), zero));
      ST(dz + o + k, MADD(LD(ca + k), g, MADD(LD(cb + k), LD(z + o + k), LD(meanz + k))));
    }
  }
}

/* ------------------------------------------------------------------------------------------------------
 * Winograd entry points, for either output tile size m: 2 = F(2x2, 3x3) (16 planes), 4 = F(4x4, 3x3) (36).
 * ------------------------------------------------------------------------------------------------------ */

/* U = G g G^T for w [3,3,K,J], as (m+2)^2 GEMM panel sets. */
void winograd_filter(const float *w, float *U, int K, int J, int m) {
  if (m == 4) wino4_filter(w, U, K, J);
  else wino2_filter(w, U, K, J);
}

/*
 * The whole forward conv, blocked over tiles so each block's V ((m+2)^2 x B x K) and M ((m+2)^2 x B x J) stay in
 * cache between the input transform, the GEMMs M[xi] = V[xi] . U[xi] and the output transform. V and M are
 * scratch of that size; U is winograd_filter's output.
 */
void winograd_forward(const float *xp, const float *U, const float *bias, float *out, float *V, float *M, int N, int Hp,
                      int Wp, int K, int J, int OH, int OW, int TH, int TW, int relu, int B, int m) {
  const int T = N * TH * TW;
  const int planes = (m + 2) * (m + 2);
  for (int t0 = 0; t0 < T; t0 += B) {
    const int t1 = t0 + B < T ? t0 + B : T;
    if (m == 4) wino4_input(xp, V, Hp, Wp, K, TH, TW, t0, t1, B);
    else wino2_input(xp, V, Hp, Wp, K, TH, TW, t0, t1, B);
    for (int xi = 0; xi < planes; xi++)
      gemm_panels(V + (long)xi * B * K, U + (long)xi * K * J, M + (long)xi * B * J, t1 - t0, K, J);
    if (m == 4) wino4_output(M, bias, out, OH, OW, TH, TW, J, relu, t0, t1, B);
    else wino2_output(M, bias, out, OH, OW, TH, TW, J, relu, t0, t1, B);
  }
}

/*
 * The filter gradient's GEMMs, blocked over tiles: dU[xi] (K x J) = sum over tile blocks of V[xi]^T . Yh[xi],
 * with V and Yh of one block (scratch of (m+2)^2 x B x K and x J floats) built in cache.
 */
void winograd_filter_grad(const float *xp, const float *dy, float *dU, float *V, float *Yh, int N, int Hp, int Wp,
                          int K, int J, int OH, int OW, int TH, int TW, int B, int m) {
  const int T = N * TH * TW;
  const int planes = (m + 2) * (m + 2);
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (long i = 0; i < (long)planes * K * J; i += 4) wasm_v128_store(dU + i, zero);
  for (int t0 = 0; t0 < T; t0 += B) {
    const int t1 = t0 + B < T ? t0 + B : T;
    if (m == 4) {
      wino4_input(xp, V, Hp, Wp, K, TH, TW, t0, t1, B);
      wino4_dy(dy, Yh, OH, OW, TH, TW, J, t0, t1, B);
    } else {
      wino2_input(xp, V, Hp, Wp, K, TH, TW, t0, t1, B);
      wino2_dy(dy, Yh, OH, OW, TH, TW, J, t0, t1, B);
    }
    for (int xi = 0; xi < planes; xi++)
      gemm_tn_acc(V + (long)xi * B * K, Yh + (long)xi * B * J, dU + (long)xi * K * J, t1 - t0, K, J);
  }
}

/* dw[a, b, k, j] = (G^T dU G)[a][b]. */
void winograd_filter_grad_out(const float *dU, float *dw, int K, int J, int m) {
  if (m == 4) wino4_filter_grad_out(dU, dw, K, J);
  else wino2_filter_grad_out(dU, dw, K, J);
}
