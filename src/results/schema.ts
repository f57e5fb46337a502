/**
 * results.json, schema "opulab.results/2" (docs/architecture.md §3). Every tool and the report read this.
 * /2 over /1: a model record's `defense` is the defense's own name (a plugin's name, not the head under it) and
 * `defenseInfo` says where it comes from (built-in, or the file with its sha256) and its parameters. /1 files
 * are still read (loadResultsFile upgrades them in memory; their models simply lack defenseInfo).
 */
import type { AttackFacts } from '../types';

export const RESULTS_SCHEMA = 'opulab.results/2';
/** Every schema version the readers accept. */
export const READABLE_RESULTS_SCHEMAS: readonly string[] = ['opulab.results/1', RESULTS_SCHEMA];

/** What a model record says about its defense (defenses/types.ts DefenseRecord). */
export interface DefenseInfo {
  name: string;
  source: 'built-in' | 'file';
  path?: string;
  sha256?: string;
  params: Record<string, number | string | boolean>;
  /** The built-in head under a plugin's input transform. */
  head?: string;
}

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
  /** [schema /2] The defense's source and parameters. */
  defenseInfo?: DefenseInfo;
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
  /** The run's name: the spec's `label` when it has one, else the attack's registered name. */
  attack: string;
  /**
   * The registered attack (its name in `opulab list`) when `attack` is a spec label that differs from it, so runs
   * of one attack under several labels (a 2x-steps rerun, say) can be compared (check C5).
   */
  method?: string;
  threat: RunThreat;
  norm: 'linf' | 'l2';
  /** Pixel units ([0,1] images) always; `epsSpace` tells what the user specified. */
  eps: number;
  epsSpace: 'pixel' | 'normalized';
  /** The eps as the user wrote it, in `epsSpace` units. */
  epsInSpace?: number;
  params: Record<string, unknown>;
  /**
   * What the attack declared about itself (threat, norms, steps, query budget, loss, ...). Absent in results
   * written before attacks recorded them: reports/runs.ts then asks the attack registry by exact name.
   */
  facts?: AttackFacts;
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
  /** RESULTS_SCHEMA; a /1 file read from disk is upgraded to it in memory (reports/load.ts). */
  schema: typeof RESULTS_SCHEMA | 'opulab.results/1';
  environment: EnvironmentInfo;
  models: ModelRecord[];
  runs: RunRecord[];
  checks: CheckRecord[];
  /** Fingerprint of the models and runs the checks were computed from (src/results/fingerprint.ts). */
  checksOf?: string;
  /** Optional extra report sections (example images, probes, ablations). */
  extras?: ResultsExtras;
}

/**
 * Optional report sections carried in `results.extras` (the schema leaves extras open). Producers write these
 * shapes; the report reads them through `readExtras` (reports/extras.ts), which validates each one and turns a
 * malformed section into a visible note instead of a crash.
 *
 *   extras.examples       ReportExample[]        a few images: clean, adversarial, (amplified) perturbation
 *   extras.ablation       AblationRow[]          one row per ablation variant (e.g. DFA only / + binarization)
 *   extras.probe          ProbeExtra             layer-similarity curves (low- vs high-level features)
 *   extras.optimizerSweep OptimizerSweepRow[]    backbone x optimizer -> clean / robust accuracy
 */
export interface ResultsExtras {
  examples?: ReportExample[];
  ablation?: AblationRow[];
  probe?: ProbeExtra;
  optimizerSweep?: OptimizerSweepRow[];
  [key: string]: unknown;
}

/**
 * A small image. `data` is the HWC uint8 pixel buffer, either base64 of the raw bytes (compact) or a
 * plain array of integers 0..255; or `png` holds a base64 PNG file.
 */
export type ExampleImage =
  | { width: number; height: number; channels: 1 | 3; data: string | number[] }
  | { png: string };

export interface ReportExample {
  model?: string;
  attack?: string;
  /** Pixel units. */
  eps?: number;
  label?: number | string;
  cleanPrediction?: number | string;
  adversarialPrediction?: number | string;
  clean: ExampleImage;
  adversarial: ExampleImage;
  /** Optional precomputed perturbation image; otherwise the report draws 0.5 + amplification * (adv - clean). */
  perturbation?: ExampleImage;
  /** Amplification for the drawn perturbation; default: so the largest |adv - clean| reaches full range. */
  amplification?: number;
}

/** One ablation variant. Numeric fields whose name mentions accuracy or rate are shown as percentages. */
export interface AblationRow {
  variant: string;
  [column: string]: string | number | boolean | null;
}

export interface ProbeCurve {
  model: string;
  attack?: string;
  /** Pixel units. */
  eps?: number;
  /** Per layer (same order as `ProbeExtra.layers`): feature correlation of clean vs adversarial image. */
  cleanVsAdv: number[];
  /** Per layer: mean correlation of two images of the same class. */
  sameClass: number[];
  /** Per layer: mean correlation of two images of different classes. */
  differentClass: number[];
}

export interface ProbeExtra {
  layers: string[];
  curves: ProbeCurve[];
}

export interface OptimizerSweepRow {
  backbone: string;
  optimizer: string;
  cleanAccuracy: number;
  robustAccuracy?: number;
  attack?: string;
  /** Pixel units. */
  eps?: number;
  [key: string]: unknown;
}
