/** results.json, schema "opulab.results/1" (DESIGN.md). Every tool and the report read this. */
export const RESULTS_SCHEMA = 'opulab.results/1';

export interface EnvironmentInfo {
  backend: string;
  workers: number;
  opulab: string;
  node: string;
  seed: number;
  startedAt?: string;
  wallTimeSec?: number;
  dataset?: string;
  datasetSource?: string;
  [key: string]: unknown;
}

export interface ModelRecord {
  id: string;
  architecture?: string;
  defense?: string;
  training?: string;
  cleanAccuracy: number;
  n: number;
  train?: Record<string, unknown>;
  /** Seconds of simulated optical hardware time (frames x frame time) spent by this model. */
  opticalTimeSec?: number;
  [key: string]: unknown;
}

export interface QueryStats {
  mean: number;
  median: number;
  /** Success-rate-versus-queries curve: [queries, successRate] pairs. */
  curve?: [number, number][];
}

export type RunThreat = 'white-box' | 'black-box-score' | 'decision' | 'transfer' | 'noise';

export interface RunRecord {
  model: string;
  attack: string;
  threat: RunThreat;
  norm: 'linf' | 'l2';
  /** Pixel units ([0,1] images) always; `epsSpace` tells what the user specified. */
  eps: number;
  epsSpace: 'pixel' | 'normalized';
  /** The eps as the user wrote it, in `epsSpace` units. */
  epsInSpace?: number;
  params: Record<string, unknown>;
  /** Gradient path the attacker used (natural, bpda-random, bpda-true, bpda-estimated:N, true). */
  gradient?: string;
  n: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Success rate among examples the model classified correctly. */
  successRate?: number;
  queries?: QueryStats;
  /** Transfer runs: the source model id, and accuracy on the subset every compared model gets right. */
  source?: string;
  commonCorrect?: { n: number; robustAccuracy: number };
  eot?: { samples: number; evalPasses: number };
  /** Fraction of zero or NaN input-gradient entries (C11). */
  gradientStats?: { zeroFraction: number; nanFraction: number };
  /** Per-example records (JSONL), path relative to results.json. */
  perSample?: string;
  wallTimeSec?: number;
  [key: string]: unknown;
}

export interface CheckRecord {
  id: string;
  status: 'pass' | 'warn' | 'fail' | 'skipped';
  detail: string;
  /** Why this check cannot pass at the run's scale (from environment.scaleNotes); also appended to `detail`. */
  note?: string;
}

/** One line of a run's per-sample JSONL file. */
export interface PerSampleRecord {
  index: number;
  label: number;
  cleanPrediction: number;
  adversarialPrediction: number;
  success: boolean;
  eps: number;
  loss?: number;
  queries?: number;
  perturbationNorm?: number;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  environment: EnvironmentInfo;
  models: ModelRecord[];
  runs: RunRecord[];
  checks: CheckRecord[];
  /** Fingerprint of the models and runs the checks were computed from (src/results/fingerprint.ts). */
  checksOf?: string;
  /** Optional extra report sections (example images, probes, ablations). */
  extras?: Record<string, unknown>;
}
