/**
 * Counters the kernels bump on their SIMD paths, so that tests can tell which path ran. Read them through
 * src/backend/testing.ts; production code only increments them.
 */

/** How many convolutions (forward, input or filter gradient) each simd path ran. */
export const convPathCounts = { winograd: 0, direct: 0 };

/** Calls of the fused BatchNorm+ReLU kernels that ran on the SIMD loops (forward + backward). */
export const bnReluSimdCalls = { count: 0 };
