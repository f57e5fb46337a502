/**
 * Reading the optional report sections of `results.extras` (their types: src/results/schema.ts, ResultsExtras):
 * `readExtras` validates each known section and turns a malformed one into a visible note instead of a crash.
 */
import type { AblationRow, ExampleImage, OptimizerSweepRow, ProbeCurve, ProbeExtra, ReportExample } from '../src/results/schema';

export type { AblationRow, ExampleImage, OptimizerSweepRow, ProbeCurve, ProbeExtra, ReportExample } from '../src/results/schema';

export interface ReportExtras {
  examples: ReportExample[];
  ablation: AblationRow[];
  probe: ProbeExtra | null;
  optimizerSweep: OptimizerSweepRow[];
  /** One sentence per malformed extra that was left out. */
  problems: string[];
}

/** A decoded image: HWC uint8. */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNumberArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

function isImage(v: unknown): v is ExampleImage {
  if (!isRecord(v)) return false;
  if (typeof v.png === 'string') return true;
  return (
    typeof v.width === 'number' &&
    typeof v.height === 'number' &&
    (v.channels === 1 || v.channels === 3) &&
    (typeof v.data === 'string' || isNumberArray(v.data))
  );
}

/** Raw pixels of an image given as data (PNG-form images return null: they are shown as they are). */
export function decodeImage(img: ExampleImage): DecodedImage | null {
  if ('png' in img) return null;
  const pixels =
    typeof img.data === 'string'
      ? new Uint8Array(Buffer.from(img.data, 'base64'))
      : Uint8Array.from(img.data, (x) => Math.max(0, Math.min(255, Math.round(x))));
  if (pixels.length !== img.width * img.height * img.channels) return null;
  return { width: img.width, height: img.height, channels: img.channels, pixels };
}

function readExamples(v: unknown, problems: string[]): ReportExample[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    problems.push('extras.examples is not an array of {clean, adversarial} images; the examples section is left out.');
    return [];
  }
  const out: ReportExample[] = [];
  v.forEach((e, i) => {
    if (isRecord(e) && isImage(e.clean) && isImage(e.adversarial) && (e.perturbation === undefined || isImage(e.perturbation))) {
      out.push(e as unknown as ReportExample);
    } else {
      problems.push(`extras.examples[${i}] lacks valid clean/adversarial images ({width,height,channels,data} or {png}); it is left out.`);
    }
  });
  return out;
}

function readAblation(v: unknown, problems: string[]): AblationRow[] {
  if (v === undefined) return [];
  const rows = Array.isArray(v) ? v : null;
  if (!rows || !rows.every((r) => isRecord(r) && typeof r.variant === 'string')) {
    problems.push('extras.ablation is not an array of rows with a "variant" name; the ablation table is left out.');
    return [];
  }
  return rows.map((r) => {
    const row: AblationRow = { variant: String((r as Record<string, unknown>).variant) };
    for (const [k, val] of Object.entries(r as Record<string, unknown>)) {
      if (k === 'variant') continue;
      row[k] = typeof val === 'number' || typeof val === 'string' || typeof val === 'boolean' || val === null ? val : JSON.stringify(val);
    }
    return row;
  });
}

function readProbe(v: unknown, problems: string[]): ProbeExtra | null {
  if (v === undefined) return null;
  if (!isRecord(v) || !Array.isArray(v.layers) || !v.layers.every((l) => typeof l === 'string') || !Array.isArray(v.curves)) {
    problems.push('extras.probe needs {layers: string[], curves: [...]}; the probe section is left out.');
    return null;
  }
  const layers = v.layers as string[];
  const curves: ProbeCurve[] = [];
  v.curves.forEach((c, i) => {
    const ok =
      isRecord(c) &&
      typeof c.model === 'string' &&
      ['cleanVsAdv', 'sameClass', 'differentClass'].every((k) => isNumberArray(c[k]) && (c[k] as number[]).length === layers.length);
    if (ok) curves.push(c as unknown as ProbeCurve);
    else problems.push(`extras.probe.curves[${i}] needs model plus cleanVsAdv/sameClass/differentClass arrays of ${layers.length} numbers; it is left out.`);
  });
  return { layers, curves };
}

function readOptimizerSweep(v: unknown, problems: string[]): OptimizerSweepRow[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    problems.push('extras.optimizerSweep is not an array of {backbone, optimizer, cleanAccuracy} rows; it is left out.');
    return [];
  }
  const out: OptimizerSweepRow[] = [];
  v.forEach((r, i) => {
    if (
      isRecord(r) &&
      typeof r.backbone === 'string' &&
      typeof r.optimizer === 'string' &&
      typeof r.cleanAccuracy === 'number' &&
      (r.robustAccuracy === undefined || typeof r.robustAccuracy === 'number')
    ) {
      out.push(r as unknown as OptimizerSweepRow);
    } else {
      problems.push(`extras.optimizerSweep[${i}] needs backbone, optimizer and numeric cleanAccuracy; it is left out.`);
    }
  });
  return out;
}

/** Validate the known extras; unknown keys are ignored. */
export function readExtras(extras: Record<string, unknown> | undefined): ReportExtras {
  const problems: string[] = [];
  const e = extras ?? {};
  return {
    examples: readExamples(e.examples, problems),
    ablation: readAblation(e.ablation, problems),
    probe: readProbe(e.probe, problems),
    optimizerSweep: readOptimizerSweep(e.optimizerSweep, problems),
    problems,
  };
}
