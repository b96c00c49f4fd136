/* One training step's loss and gradient for a population of MLPs, fused, one member at a time.

   The Python reference is alignlab/train/_step.py (loss_and_grad); this file computes the same
   numbers (to float32 rounding) without a pass over memory between its products: each member's
   batch is gathered, run forward, scored and run backward while its activations (depth x width x
   batch floats, 24 KiB a layer at width 12 and batch 512) stay in the core's cache, and every
   LeakyReLU and its gradient is applied to a product's result while it is still in registers.

   Layouts (float32 unless said):
     x      (N, ldx)          samples, row-major; the first d_in columns are read
     rows   int64 (P, b)      member p's batch is x[rows[p * rows_stride + j]], j < b
     y      (N,)              int64 labels, or float32 targets for regression (n_out == 1)
     flat   (P, n_params)     per member, layer by layer: W (d_out, d_in) row-major, then b (d_out)
     grad   (P, n_params)     written: d(mean loss)/d(flat), clipped to norm max_norm if > 0
     loss   (P,)              written: the member's mean loss on its batch
     norms  (P,)              written: the L2 norm of the member's gradient before clipping
     work   >= population_step_work_floats(...) floats, any alignment
   Inside, activations are feature-major (features, bp): bp is the batch rounded up to VB samples,
   and the padding columns are kept at zero so that they add nothing to any sum. */

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifdef ALIGNLAB_MVEC /* glibc's vector expf / logf (libmvec), which math.h only declares under
                        -ffast-math; that would also assume no NaN, and NaN marks divergence */
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float logf(float);
#endif

#if defined(__AVX512F__)
#define VW 16 /* floats in one native vector register */
#else
#define VW 8 /* AVX2 and others: the compiler splits or narrows as its target allows */
#endif
#define VB 32 /* rows of work arrays are padded to a multiple of VB samples (>= 2 VW) */
typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

enum { SOFTMAX_CE = 0, L1 = 1 };
enum { BIAS_LRELU, BIAS, TIMES_LRELU_GRAD }; /* what a product does to its result */

static inline vf load(const float *p) { return *(const vf *)p; }
static inline void store(float *p, vf v) { *(vf *)p = v; }
static inline vf choose(vi mask, vf yes, vf no) { return (vf)(((vi)yes & mask) | ((vi)no & ~mask)); }

static inline float hsum(vf v) /* a fixed tree: the same sum for the same vector */
{
#if VW == 16
    union { vf w; v8 h[2]; } a = {v};
    v8 e = a.h[0] + a.h[1];
#else
    v8 e = v;
#endif
    union { v8 w; v4 h[2]; } c = {e};
    v4 d = c.h[0] + c.h[1];
    return (d[0] + d[2]) + (d[1] + d[3]);
}

static inline void finish(float *out, vf acc, int mode, float bias, const float *grad_of,
                          float slope)
{
    if (mode == TIMES_LRELU_GRAD) { /* LeakyReLU's gradient read off its output: a > 0 iff z > 0 */
        store(out, acc * choose(load(grad_of) > 0, (vf){} + 1.0f, (vf){} + slope));
        return;
    }
    acc += bias;
    store(out, mode == BIAS ? acc : choose(acc > 0, acc, acc * slope)); /* NaN stays NaN */
}

/* out[i] = finish(sum_k w[i * si + k * sk] * in[k]) for rows i < n_rows, over k < n_inner; rows
   of in, out (and grad_of) are bp floats apart. Blocks of 4 rows x 2 vectors of samples keep 8
   sums in registers, and each vector loaded from in serves 4 rows. */
static void product(float *out, const float *in, const float *w, long si, long sk,
                    const float *bias, long n_rows, long n_inner, long bp, int mode,
                    const float *grad_of, float slope)
{
    for (long j = 0; j < bp; j += 2 * VW) {
        long i = 0;
        for (; i + 4 <= n_rows; i += 4) {
            vf a0 = {}, a1 = {}, a2 = {}, a3 = {}, b0 = {}, b1 = {}, b2 = {}, b3 = {};
            const float *wi = w + i * si;
            for (long k = 0; k < n_inner; k++) {
                vf u = load(in + k * bp + j), v = load(in + k * bp + j + VW);
                const float *wk = wi + k * sk;
                float w0 = wk[0], w1 = wk[si], w2 = wk[2 * si], w3 = wk[3 * si];
                a0 += w0 * u, b0 += w0 * v;
                a1 += w1 * u, b1 += w1 * v;
                a2 += w2 * u, b2 += w2 * v;
                a3 += w3 * u, b3 += w3 * v;
            }
            vf acc[8] = {a0, b0, a1, b1, a2, b2, a3, b3};
            for (int r = 0; r < 8; r++) {
                long at = (i + r / 2) * bp + j + (r % 2) * VW;
                finish(out + at, acc[r], mode, bias ? bias[i + r / 2] : 0.0f,
                       grad_of ? grad_of + at : 0, slope);
            }
        }
        for (; i < n_rows; i++) {
            vf a0 = {}, b0 = {};
            for (long k = 0; k < n_inner; k++) {
                float wk = w[i * si + k * sk];
                a0 += wk * load(in + k * bp + j);
                b0 += wk * load(in + k * bp + j + VW);
            }
            long at = i * bp + j;
            float bi = bias ? bias[i] : 0.0f;
            finish(out + at, a0, mode, bi, grad_of ? grad_of + at : 0, slope);
            finish(out + at + VW, b0, mode, bi, grad_of ? grad_of + at + VW : 0, slope);
        }
    }
}

/* dw0[k] = sum_j d0[j] a[k, j] and dw1[k] = sum_j d1[j] a[k, j] for the 4 rows k of a: 8 sums
   in registers, each vector loaded from a serving both rows of delta. */
static void dots4x2(float *dw0, float *dw1, const float *d0, const float *d1, const float *a,
                    long bp)
{
    vf s0 = {}, s1 = {}, s2 = {}, s3 = {}, t0 = {}, t1 = {}, t2 = {}, t3 = {};
    for (long j = 0; j < bp; j += VW) {
        vf u = load(d0 + j), v = load(d1 + j);
        vf a0 = load(a + j), a1 = load(a + bp + j), a2 = load(a + 2 * bp + j);
        vf a3 = load(a + 3 * bp + j);
        s0 += u * a0, t0 += v * a0;
        s1 += u * a1, t1 += v * a1;
        s2 += u * a2, t2 += v * a2;
        s3 += u * a3, t3 += v * a3;
    }
    dw0[0] = hsum(s0), dw0[1] = hsum(s1), dw0[2] = hsum(s2), dw0[3] = hsum(s3);
    dw1[0] = hsum(t0), dw1[1] = hsum(t1), dw1[2] = hsum(t2), dw1[3] = hsum(t3);
}

static float dot(const float *d, const float *a, long bp)
{
    vf s = {};
    for (long j = 0; j < bp; j += VW)
        s += load(d + j) * load(a + j);
    return hsum(s);
}

/* dw[r, k] = sum_j delta[r, j] a[k, j] and db[r] = sum_j delta[r, j]: a layer's gradient. */
static void outer(float *dw, float *db, const float *delta, const float *a, long n_out, long n_in,
                  long bp)
{
    for (long r = 0; r < n_out; r++) {
        vf s = {};
        for (long j = 0; j < bp; j += VW)
            s += load(delta + r * bp + j);
        db[r] = hsum(s);
    }
    long r = 0;
    for (; r + 2 <= n_out; r += 2) {
        const float *d0 = delta + r * bp;
        long k = 0;
        for (; k + 4 <= n_in; k += 4)
            dots4x2(dw + r * n_in + k, dw + (r + 1) * n_in + k, d0, d0 + bp, a + k * bp, bp);
        for (; k < n_in; k++) {
            dw[r * n_in + k] = dot(d0, a + k * bp, bp);
            dw[(r + 1) * n_in + k] = dot(d0 + bp, a + k * bp, bp);
        }
    }
    for (; r < n_out; r++)
        for (long k = 0; k < n_in; k++)
            dw[r * n_in + k] = dot(delta + r * bp, a + k * bp, bp);
}

static void zero_padding(float *a, long n_rows, long b, long bp)
{
    for (long i = 0; i < n_rows; i++)
        memset(a + i * bp + b, 0, (size_t)(bp - b) * sizeof(float));
}

/* xt[k, j] = x[rows[j], k] for k < d_in, j < b, padding columns zero: the batch, feature-major.
   With AVX-512, 16 samples' feature k in one gather (1.7x faster than copying one by one,
   measured), through int32 offsets into x where they fit. */
static void gather_transposed(float *xt, const float *x, long ldx, const int64_t *rows, long d_in,
                              long b, long bp, int32_t *offsets)
{
    long j = 0;
#if defined(__AVX512F__)
    int fits = 1;
    for (long i = 0; i < b; i++) {
        int64_t at = rows[i] * ldx;
        fits &= at + d_in <= INT32_MAX;
        offsets[i] = (int32_t)at;
    }
    if (fits)
        for (; j + 16 <= b; j += 16) {
            __m512i at = _mm512_loadu_si512(offsets + j);
            for (long k = 0; k < d_in; k++)
                _mm512_storeu_ps(xt + k * bp + j, _mm512_i32gather_ps(at, x + k, 4));
        }
#else
    (void)offsets;
#endif
    for (; j < b; j++)
        for (long k = 0; k < d_in; k++)
            xt[k * bp + j] = x[rows[j] * ldx + k];
    zero_padding(xt, d_in, b, bp);
}

/* Mean cross-entropy of out (n_out, bp) against labels; delta = (softmax - onehot) / b. */
static float softmax_ce(float *delta, const float *out, const int64_t *labels, long n_out, long b,
                        long bp, float *m, float *s)
{
    for (long j = 0; j < b; j++)
        m[j] = out[j];
    for (long c = 1; c < n_out; c++)
        for (long j = 0; j < b; j++)
            m[j] = out[c * bp + j] > m[j] ? out[c * bp + j] : m[j];
    memset(s, 0, (size_t)b * sizeof(float));
    for (long c = 0; c < n_out; c++)
        for (long j = 0; j < b; j++) {
            float e = expf(out[c * bp + j] - m[j]);
            delta[c * bp + j] = e;
            s[j] += e;
        }
    for (long j = 0; j < b; j++)
        m[j] += logf(s[j]); /* logsumexp */
    double total = 0.0;
    for (long j = 0; j < b; j++) /* loss_j = logsumexp - out[label] */
        total += (double)(m[j] - out[labels[j] * bp + j]);
    float inv_b = 1.0f / (float)b;
    for (long j = 0; j < b; j++)
        s[j] = inv_b / s[j];
    for (long c = 0; c < n_out; c++) {
        for (long j = 0; j < b; j++)
            delta[c * bp + j] *= s[j];
        zero_padding(delta + c * bp, 1, b, bp);
    }
    for (long j = 0; j < b; j++)
        delta[labels[j] * bp + j] -= inv_b;
    return (float)(total / (double)b);
}

/* Mean |out - target| of out (1, bp); delta = sign(out - target) / b, as torch's l1_loss. */
static float l1(float *delta, const float *out, const float *targets, long b, long bp)
{
    double total = 0.0;
    float inv_b = 1.0f / (float)b;
    for (long j = 0; j < b; j++) {
        float diff = out[j] - targets[j];
        total += (double)fabsf(diff);
        delta[j] = diff > 0 ? inv_b : (diff < 0 ? -inv_b : (diff == 0 ? 0.0f : diff));
    }
    zero_padding(delta, 1, b, bp);
    return (float)(total / (double)b);
}

static long padded(long b) { return (b + VB - 1) / VB * VB; }

/* The L2 norm of g (n floats, any alignment); with max_norm > 0, g scaled by
   min(1, max_norm / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_ does (NaN stays NaN). */
static float clip(float *g, long n, float max_norm)
{
    vf acc = {};
    long i = 0;
    for (; i + VW <= n; i += VW) {
        vf v;
        memcpy(&v, g + i, sizeof v);
        acc += v * v;
    }
    float sum = hsum(acc);
    for (; i < n; i++)
        sum += g[i] * g[i];
    float norm = sqrtf(sum);
    if (max_norm > 0) {
        float coef = max_norm / (norm + 1e-6f);
        coef = coef > 1.0f ? 1.0f : coef;
        for (long k = 0; k < n; k++)
            g[k] *= coef;
    }
    return norm;
}

/* Floats of work one call needs (VB more than the arrays, to align them). */
long population_step_work_floats(long d_in, long width, long depth, long n_out, long b)
{
    return (d_in + (depth + 2) * width + 2 * n_out + 4) * padded(b) + VB;
}

/* The step of members [0, P): see the layouts at the top. Returns 0, or -1 for bad sizes. */
int population_step(const float *x, long ldx, const int64_t *rows, long rows_stride,
                    const void *y, const float *flat, float *grad, float *loss, float *norms,
                    float *work, long P, long d_in, long width, long depth, long n_out, long b,
                    int task, float slope, float max_norm)
{
    if (P < 0 || d_in < 1 || width < 1 || depth < 1 || n_out < 1 || b < 1 || ldx < d_in)
        return -1;
    long bp = padded(b);
    long n_params = d_in * width + width + (depth - 1) * (width * width + width)
                    + width * n_out + n_out;
    float *w0 = (float *)(((uintptr_t)work + 4 * VB - 1) & ~(uintptr_t)(4 * VB - 1));
    float *xt = w0;                          /* (d_in, bp) */
    float *acts = xt + d_in * bp;            /* (depth, width, bp) */
    float *back0 = acts + depth * width * bp; /* (width, bp) twice */
    float *back1 = back0 + width * bp;
    float *out = back1 + width * bp;         /* (n_out, bp) */
    float *delta = out + n_out * bp;         /* (n_out, bp) */
    float *m = delta + n_out * bp, *s = m + bp; /* then 2 bp floats: labels or targets */

    for (long p = 0; p < P; p++) {
        const int64_t *r = rows + p * rows_stride;
        const float *wp = flat + p * n_params;
        float *gp = grad + p * n_params;
        gather_transposed(xt, x, ldx, r, d_in, b, bp, (int32_t *)(s + bp));
        const float *a = xt, *w = wp;
        long n_in = d_in;
        for (long l = 0; l < depth; l++) { /* forward */
            float *z = acts + l * width * bp;
            product(z, a, w, n_in, 1, w + width * n_in, width, n_in, bp, BIAS_LRELU, 0, slope);
            zero_padding(z, width, b, bp);
            w += width * n_in + width;
            a = z;
            n_in = width;
        }
        product(out, a, w, width, 1, w + n_out * width, n_out, width, bp, BIAS, 0, slope);

        if (task == SOFTMAX_CE) {
            const int64_t *labels = (const int64_t *)y;
            int64_t *lab = (int64_t *)(s + bp); /* the batch's labels: 2 bp floats after s */
            for (long j = 0; j < b; j++)
                lab[j] = labels[r[j]];
            loss[p] = softmax_ce(delta, out, lab, n_out, b, bp, m, s);
        } else {
            float *targets = s + bp;
            for (long j = 0; j < b; j++)
                targets[j] = ((const float *)y)[r[j]];
            loss[p] = l1(delta, out, targets, b, bp);
        }

        /* backward: the head, then every encoder layer, last first */
        const float *a_last = acts + (depth - 1) * width * bp;
        float *g = gp + (n_params - width * n_out - n_out);
        outer(g, g + width * n_out, delta, a_last, n_out, width, bp);
        product(back0, delta, w, 1, width, 0, width, n_out, bp, TIMES_LRELU_GRAD, a_last, slope);
        float *d_cur = back0, *d_next = back1;
        for (long l = depth - 1; l >= 0; l--) {
            long in_l = l == 0 ? d_in : width;
            const float *a_in = l == 0 ? xt : acts + (l - 1) * width * bp;
            long offset = l == 0 ? 0 : d_in * width + width + (l - 1) * (width * width + width);
            outer(gp + offset, gp + offset + width * in_l, d_cur, a_in, width, in_l, bp);
            if (l > 0) {
                product(d_next, d_cur, wp + offset, 1, in_l, 0, in_l, width, bp,
                        TIMES_LRELU_GRAD, a_in, slope);
                float *t = d_cur;
                d_cur = d_next;
                d_next = t;
            }
        }
        norms[p] = clip(gp, n_params, max_norm);
    }
    return 0;
}

/* One AdamW step of P members of n parameters each, in place: torch.optim.AdamW's
   (decoupled weight decay), the order of alignlab/train/adamw.py's PopulationAdamW.step, with
   the per-member scalars formed in double as torch forms its Python floats. A member with
   active[p] == 0 takes learning rate 0 (its parameters stay; its moments decay). */
void population_adamw(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                      const double *lrs, const double *wds, const uint8_t *active, long P, long n,
                      double bias_correction1, double bias_correction2_sqrt, double beta1,
                      double beta2, double eps)
{
    const float w1 = (float)(1.0 - beta1), b2 = (float)beta2, w2 = (float)(1.0 - beta2);
    const float bc2 = (float)bias_correction2_sqrt, e = (float)eps;
    for (long p = 0; p < P; p++) {
        double lr = active[p] ? lrs[p] : 0.0;
        const float decay = (float)(1.0 - lr * wds[p]), step = (float)(-(lr / bias_correction1));
        float *x = param + p * n, *m = exp_avg + p * n, *v = exp_avg_sq + p * n;
        const float *g = grad + p * n;
        for (long i = 0; i < n; i++) {
            float mi = m[i] + w1 * (g[i] - m[i]); /* lerp towards g, weight 1 - beta1 < 0.5 */
            float vi = v[i] * b2 + w2 * g[i] * g[i];
            m[i] = mi;
            v[i] = vi;
            x[i] = x[i] * decay + (mi * step) / (sqrtf(vi) / bc2 + e);
        }
    }
}

#define SCORE_BATCH 512 /* samples per forward pass when scoring, a multiple of VB */

/* Floats of work population_score needs. */
long population_score_work_floats(long d_in, long width, long n_out)
{
    return (2 + d_in + 2 * width + n_out + 1) * SCORE_BATCH + VB;
}

/* Each member's score on its n samples, rows first[p] .. first[p] + n - 1 of x and y:
   classification accuracy (the first largest output is the prediction, and a NaN output
   stands, as alignlab.train.result's running comparison), or for regression the share of
   samples where prediction >= 0 agrees with target >= 0. Returns 0, or -1 for bad sizes. */
int population_score(const float *x, long ldx, const int64_t *first, const void *y,
                     const float *flat, float *scores, float *work, long P, long d_in,
                     long width, long depth, long n_out, long n, int task, float slope)
{
    if (P < 0 || d_in < 1 || width < 1 || depth < 1 || n_out < 1 || n < 1 || ldx < d_in)
        return -1;
    const long bp = SCORE_BATCH;
    long n_params = d_in * width + width + (depth - 1) * (width * width + width)
                    + width * n_out + n_out;
    float *w0 = (float *)(((uintptr_t)work + 4 * VB - 1) & ~(uintptr_t)(4 * VB - 1));
    int64_t *r = (int64_t *)w0;    /* bp row indices */
    float *xt = w0 + 2 * bp;       /* (d_in, bp) */
    float *a0 = xt + d_in * bp;    /* (width, bp) twice: layers alternate */
    float *a1 = a0 + width * bp;
    float *out = a1 + width * bp;  /* (n_out, bp) */
    int32_t *offsets = (int32_t *)(out + n_out * bp);

    for (long p = 0; p < P; p++) {
        const float *wp = flat + p * n_params;
        float correct = 0.0f; /* float32, as the PyTorch score counts */
        for (long j0 = 0; j0 < n; j0 += bp) {
            long b = n - j0 < bp ? n - j0 : bp;
            for (long j = 0; j < b; j++)
                r[j] = first[p] + j0 + j;
            gather_transposed(xt, x, ldx, r, d_in, b, bp, offsets);
            const float *a = xt, *w = wp;
            long n_in = d_in;
            for (long l = 0; l < depth; l++) {
                float *z = l % 2 ? a1 : a0;
                product(z, a, w, n_in, 1, w + width * n_in, width, n_in, bp, BIAS_LRELU, 0,
                        slope);
                w += width * n_in + width;
                a = z;
                n_in = width;
            }
            product(out, a, w, width, 1, w + n_out * width, n_out, width, bp, BIAS, 0, slope);
            long hits = 0;
            if (task == SOFTMAX_CE) {
                const int64_t *labels = (const int64_t *)y;
                for (long j = 0; j < b; j++) {
                    float best = out[j];
                    int64_t at = 0;
                    for (long c = 1; c < n_out; c++) {
                        float o = out[c * bp + j];
                        if (o > best)
                            best = o, at = c;
                        else if (o != o)
                            best = o; /* torch.maximum keeps the NaN: nothing beats it after */
                    }
                    hits += at == labels[r[j]];
                }
            } else {
                const float *targets = (const float *)y;
                for (long j = 0; j < b; j++)
                    hits += (out[j] >= 0) == (targets[r[j]] >= 0);
            }
            correct += (float)hits;
        }
        scores[p] = correct / (float)n;
    }
    return 0;
}
