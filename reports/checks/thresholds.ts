/** The thresholds of the evaluation checks (docs/method.md §6). */

// Thresholds (accuracies are fractions; 0.01 = one percentage point) -------------------------------
/** C1: robust accuracy above clean accuracy by more than this is a bookkeeping error (or randomness). */
export const C1_ROBUST_ABOVE_CLEAN_TOLERANCE = 0.01;
/** C2: iterative attack accuracy may exceed the single-step one by at most this before it is a failure. */
export const C2_TOLERANCE = 0.01;
/** C3: accuracy may rise with eps by at most this (random starts) before it is a failure. */
export const C3_TOLERANCE = 0.01;
/** C4: an eps at least this large (pixel L-inf) counts as "unbounded": any image can become any image. */
export const C4_UNBOUNDED_LINF_EPS = 0.3;
/** C4: the same for L2 (32x32x3 images in [0,1]; 10 is about half the diameter of the image cube). */
export const C4_UNBOUNDED_L2_EPS = 10;
/** C4: whether a run's eps is "unbounded" in its norm. Headline, charts and comparisons leave such runs out. */
export function isUnboundedEps(run: { eps: number; norm: 'linf' | 'l2' }): boolean {
  return run.eps >= (run.norm === 'l2' ? C4_UNBOUNDED_L2_EPS : C4_UNBOUNDED_LINF_EPS);
}
/** C4: accuracy at or below this under an unbounded attack passes; up to chance (1/classes) warns. */
export const C4_PASS_ACCURACY = 0.02;
/** C5: more steps/restarts must move accuracy by less than ~1 point (Carlini et al. 2019; docs/method.md §6); above FAIL fails. */
export const C5_CONVERGED_DELTA = 0.01;
export const C5_FAIL_DELTA = 0.03;
/** C6: a black-box/transfer attack beating the best white-box by more than this (aggregate) fails. */
export const C6_AGGREGATE_TOLERANCE = 0.01;
/** C6: fraction of examples broken ONLY by a black-box/transfer attack above which it warns. */
export const C6_PER_EXAMPLE_TOLERANCE = 0.01;
/** C9: EOT needs at least this many gradient samples per step on a randomized model. */
export const C9_MIN_EOT_SAMPLES = 2;
/** C9: clean accuracy spread across runs (same n) above this suggests an undeclared randomized model. */
export const C9_CLEAN_SPREAD = 0.005;
/** C10: a non-differentiable defense should be attacked through at least this many BPDA surrogates. */
export const C10_MIN_BPDA_MODES = 2;
/** C11: zero-gradient fraction above WARN warns; at or above MASKED the gradient is masked. */
export const C11_ZERO_FRACTION_WARN = 0.1;
export const C11_ZERO_FRACTION_MASKED = 0.9;
/** C13: an attack "succeeds" on the undefended model when it removes at least half its clean accuracy. */
export const C13_MAX_RELATIVE_ACCURACY = 0.5;
/** C14: the per-example worst case below the best single attack by more than this is worth a note. */
export const C14_GAP_NOTE = 0.01;
/** C16: an attack weaker than random noise of the same size by more than this is broken or masked. */
export const C16_TOLERANCE = 0.01;
