/**
 * The report's tables as Markdown (`opulab report results.json --markdown tables.md`), for a write-up that lives
 * beside the results (a study's README, a pull request). The numbers are the HTML report's, from the same
 * functions: the per-example worst case (check C14), robust accuracy per attack / gradient mode / eps and the
 * worst case per gradient mode, the black-box budget and query statistics, the transfer matrices on the
 * common-correct subset, the ablation rows and the checks, and on request the verdicts on the paper's five claims
 * (./claims.ts, sentences generated from the numbers). Captions say what a cell is; there is no other prose, so
 * nothing in it can go stale.
 */
import type { CheckRecord, ModelRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { worstCaseAccuracy, type PerSampleLoader } from './checks';
import { readExtras } from './extras';
import { attackLabel, epsAs255, formatInt, formatSeconds, pct, sig3 } from './format';
import { computeHeadline, WITHIN_EPS } from './headline';
import { gradientModeTables } from './gradient-modes';
import { assessClaims, CLAIMS_RULE, type ClaimModels } from './claims';
import { ablationSummary, ABLATION_SUMMARY_HEADERS, ABLATION_SUMMARY_NOTE } from './ablation-summary';
import { attackJobs, trainingSeconds } from './compute-time';
import { epsKey, gradientOf, groupBy, modelIds, numParam, sameEps, variantLabel, varyingParams } from './runs';

export interface MarkdownOptions {
  perSampleLoader: PerSampleLoader;
  checks: CheckRecord[];
  /** First-level heading; default "Results". */
  title?: string;
  /** Add the verdicts on the paper's five claims (reports/claims.ts), finding the models by these names. */
  claims?: ClaimModels;
}

/** A Markdown table cell: pipes escaped, newlines folded. */
function cell(v: unknown): string {
  return String(v).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function mdTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function modelName(results: ResultsFile, id: string): string {
  const m = results.models.find((x) => x.id === id);
  return m?.name && m.name !== id ? `${m.name} (${id})` : id;
}

/** An eps column heading: pixel k/255, and the value as specified when it was given in normalized units. */
function epsHeading(runs: RunRecord[], eps: number): string {
  const at = runs.filter((r) => sameEps(r.eps, eps));
  const normalized = at.find((r) => r.epsSpace === 'normalized' && typeof r.epsInSpace === 'number');
  const px = `${epsAs255(eps)} (${sig3(eps)})`;
  return normalized && at.every((r) => r.epsSpace === 'normalized') ? `${sig3(normalized.epsInSpace as number)} normalized = ${px}` : px;
}

function epsList(runs: RunRecord[]): number[] {
  return [...new Set(runs.map((r) => epsKey(r.eps)))].map(Number).sort((a, b) => a - b);
}

// ---- sections ---------------------------------------------------------------------------------------------

function trainingCell(m: ModelRecord | undefined): string {
  const train = m?.train as { epochs?: number; optimizer?: string; lr?: number; schedule?: string } | undefined;
  if (!m) return '—';
  if (!train) return String(m.training ?? '—');
  const bits = [train.epochs !== undefined ? `${train.epochs} epochs` : '', train.optimizer ?? '', train.lr !== undefined ? `lr ${sig3(train.lr)}` : '', train.schedule ?? ''];
  return `${m.training ?? ''}: ${bits.filter(Boolean).join(' ')}`;
}

function modelsSection(results: ResultsFile): string {
  const rows = modelIds(results).map((id) => {
    const m = results.models.find((x) => x.id === id);
    const arch = m ? `${String(m.architecture ?? '—')}${m.width !== undefined ? ` width ${String(m.width)}` : ''}` : '—';
    return [modelName(results, id), arch, String(m?.defense ?? '—'), trainingCell(m), pct(m?.cleanAccuracy), typeof m?.n === 'number' ? formatInt(m.n) : '—'];
  });
  return `## Models and clean accuracy\n\n${mdTable(['model', 'architecture', 'defense', 'training', 'clean accuracy', 'test images'], rows)}`;
}

function headlineSection(results: ResultsFile, load: PerSampleLoader, checks: CheckRecord[]): string {
  const ids = modelIds(results).filter((id) => results.runs.some((r) => r.model === id));
  const eps = epsList(results.runs);
  let upper = false;
  let noWhite = false;
  const rows = ids.map((id) => {
    const m = results.models.find((x) => x.id === id);
    const cells = [modelName(results, id), pct(m?.cleanAccuracy)];
    for (const e of eps) {
      const norm = results.runs.find((r) => r.model === id && sameEps(r.eps, e))?.norm ?? 'linf';
      const wc = worstCaseAccuracy(results, load, id, e, norm, WITHIN_EPS);
      if (!wc) {
        cells.push('—');
        continue;
      }
      const white = wc.runs.some((r) => r.threat === 'white-box');
      if (!wc.perExample) upper = true;
      if (!white) noWhite = true;
      cells.push(`${pct(wc.accuracy)}${wc.perExample ? '' : ' †'}${white ? '' : ' ‡'} (${wc.runs.length} attack${wc.runs.length === 1 ? '' : 's'}, n=${wc.n})`);
    }
    return cells;
  });
  const notes = [
    'Each cell: the per-example worst case over every attack run on the model at that eps or a smaller one of the same norm (an adversarial example inside a smaller ball is inside this one too; an example counts as robust only if every attack left it correct; check C14), with the number of attacks combined and of examples they share.',
    upper ? '† some runs lack per-sample records: an upper bound.' : '',
    noWhite ? '‡ no white-box attack at this eps (black-box or transfer only): not a white-box worst case.' : '',
  ].filter(Boolean);
  const sentences = computeHeadline(results, load, checks).models.map((hm) => `- ${hm.sentence}`);
  return `## Headline: worst case over attacks, per example\n\n${mdTable(['model', 'clean', ...eps.map((e) => epsHeading(results.runs, e))], rows)}\n\n${notes.join(' ')}${sentences.length ? `\n\n${sentences.join('\n')}` : ''}`;
}

function whiteBoxSection(results: ResultsFile): string {
  const wb = results.runs.filter((r) => r.threat === 'white-box');
  if (!wb.length) return '## White-box attacks\n\nNo white-box runs.';
  const blocks: string[] = [];
  for (const id of modelIds(results)) {
    const runs = wb.filter((r) => r.model === id);
    if (!runs.length) continue;
    const eps = epsList(runs);
    const rows: string[][] = [];
    for (const series of groupBy(runs, (r) => JSON.stringify([r.attack, r.norm, gradientOf(r)])).values()) {
      const keys = varyingParams(series).filter((k) => !['steps', 'iterations', 'restarts'].includes(k));
      const variantKey = (r: RunRecord): string => JSON.stringify([numParam(r, 'steps', 'iterations') ?? null, numParam(r, 'restarts') ?? null, variantLabel(r, keys)]);
      for (const variant of groupBy(series, variantKey).values()) {
        const r0 = variant[0];
        const steps = numParam(r0, 'steps', 'iterations');
        const restarts = numParam(r0, 'restarts');
        rows.push([
          attackLabel(r0.attack),
          r0.norm,
          gradientOf(r0) || '—',
          [steps !== undefined ? `${steps} steps` : '', restarts !== undefined && restarts > 1 ? `${restarts} restarts` : '', variantLabel(r0, keys)].filter(Boolean).join(', ') || '—',
          ...eps.map((e) => {
            const at = variant.filter((r) => sameEps(r.eps, e));
            return at.length ? pct(Math.min(...at.map((r) => r.robustAccuracy))) : '—';
          }),
        ]);
      }
    }
    blocks.push(`### ${modelName(results, id)}\n\n${mdTable(['attack', 'norm', 'gradient', 'budget', ...eps.map((e) => epsHeading(runs, e))], rows)}`);
  }
  return `## White-box attacks\n\nRobust accuracy on all evaluated test images, per attack, gradient path and eps.\n\n${blocks.join('\n\n')}`;
}

function gradientModeSection(results: ResultsFile, load: PerSampleLoader): string {
  const tables = gradientModeTables(results, load);
  if (!tables.length) return '';
  let upper = false;
  const blocks = tables.map((t) => {
    const rows = t.rows.map((row) => [
      row.kind === 'mode' ? row.label : `*${row.label}*`,
      ...row.cells.map((wc) => {
        if (!wc) return '—';
        if (!wc.perExample) upper = true;
        return `${pct(wc.accuracy)}${wc.perExample ? '' : ' †'} (${wc.runs.length})`;
      }),
    ]);
    return `### ${modelName(results, t.model)}${t.norm === 'l2' ? ' (L2)' : ''}\n\n${mdTable(['gradient mode', ...t.eps.map((e) => epsHeading(results.runs.filter((r) => r.model === t.model && r.threat === 'white-box'), e))], rows)}`;
  });
  const note = `Each cell: the per-example worst case over the white-box attacks through that gradient mode at that eps (how many in brackets); *every mode* combines them all; *every mode but the oracle* leaves out the modes that use the true transmission matrix, which the defender keeps secret: what an attacker without it achieves.${upper ? ' † some runs lack per-sample records: an upper bound.' : ''}`;
  return `## White-box worst case by gradient mode\n\n${note}\n\n${blocks.join('\n\n')}`;
}

function blackBoxSection(results: ResultsFile): string {
  const bb = results.runs.filter((r) => r.threat === 'black-box-score' || r.threat === 'decision');
  if (!bb.length) return '## Black-box attacks\n\nNo score- or decision-based runs.';
  const rows: string[][] = [];
  for (const series of groupBy(bb, (r) => JSON.stringify([r.model, r.attack, r.norm])).values()) {
    const keys = varyingParams(series).filter((k) => k !== 'maxQueries' && k !== 'queries');
    for (const r of series) {
      const budget = numParam(r, 'maxQueries', 'queries');
      rows.push([
        modelName(results, r.model),
        attackLabel(r.attack),
        r.threat,
        variantLabel(r, keys) || '—',
        epsHeading([r], r.eps),
        budget !== undefined ? formatInt(budget) : '—',
        pct(r.successRate),
        pct(r.robustAccuracy),
        r.queries ? formatInt(r.queries.mean) : '—',
        r.queries ? formatInt(r.queries.median) : '—',
      ]);
    }
  }
  return `## Black-box attacks\n\nSuccess rate among the images the model classified correctly; robust accuracy on all of them; queries spent on the successful ones.\n\n${mdTable(['model', 'attack', 'threat', 'variant', 'eps', 'query budget', 'success rate', 'robust accuracy', 'mean queries', 'median queries'], rows)}`;
}

function transferSection(results: ResultsFile): string {
  const tr = results.runs.filter((r) => r.threat === 'transfer' && r.source);
  if (!tr.length) return '## Transfer attacks\n\nNo transfer runs.';
  const blocks: string[] = [];
  for (const runs of groupBy(tr, (r) => JSON.stringify([r.attack, epsKey(r.eps)])).values()) {
    const sources = [...new Set(runs.map((r) => r.source as string))];
    const targets = modelIds(results).filter((m) => runs.some((r) => r.model === m));
    const rows = sources.map((s) => [
      modelName(results, s),
      ...targets.map((t) => {
        const r = runs.find((x) => x.source === s && x.model === t);
        if (!r) return '—';
        return r.commonCorrect ? `${pct(r.commonCorrect.robustAccuracy)} (n=${r.commonCorrect.n})` : `${pct(r.robustAccuracy)} (all)`;
      }),
    ]);
    blocks.push(`### ${attackLabel(runs[0].attack)} at ${epsHeading(runs, runs[0].eps)}\n\n${mdTable(['source \\ target', ...targets.map((t) => modelName(results, t))], rows)}`);
  }
  return `## Transfer attacks\n\nRows craft the adversarial examples, columns classify them. Cells: accuracy on the examples every compared model classifies correctly (the common-correct subset, n given).\n\n${blocks.join('\n\n')}`;
}

/** The ablation at a glance (reports/ablation-summary.ts); the per-attack numbers are in the sections above. */
function ablationSection(results: ResultsFile, load: PerSampleLoader): string {
  if (!readExtras(results.extras).ablation.length) return '';
  const cellOf = (w: { accuracy: number; n: number } | null): string => (w ? `${pct(w.accuracy)} (n=${formatInt(w.n)})` : '—');
  const rows = ablationSummary(results, load).map((r) => [
    modelName(results, r.model),
    r.defense,
    pct(r.cleanAccuracy),
    cellOf(r.whiteBox),
    cellOf(r.whiteBoxNoOracle),
    cellOf(r.blackBox),
    r.transferPgd === null ? '—' : pct(r.transferPgd),
  ]);
  return `## Ablation\n\n${mdTable(ABLATION_SUMMARY_HEADERS, rows)}\n\n${ABLATION_SUMMARY_NOTE}`;
}

function checksSection(checks: CheckRecord[]): string {
  if (!checks.length) return '## Evaluation checks\n\nNo checks computed.';
  const count = (s: CheckRecord['status']): number => checks.filter((c) => c.status === s).length;
  const rows = checks.map((c) => [c.id, c.status, c.detail]);
  return `## Evaluation checks\n\n${count('pass')} pass, ${count('warn')} warn, ${count('fail')} fail, ${count('skipped')} skipped.\n\n${mdTable(['check', 'status', 'detail'], rows)}`;
}

function computeSection(results: ResultsFile): string {
  const jobs = attackJobs(results.runs);
  const timed = jobs.filter((j) => j.runs[0].wallTimeSec !== undefined);
  if (!timed.length && !results.models.some((m) => trainingSeconds(m))) return '';
  const attackOf = (id: string): { seconds: number; jobs: number } => {
    const mine = timed.filter((j) => j.runs[0].threat !== 'transfer' && j.runs[0].model === id);
    return { seconds: mine.reduce((a, j) => a + j.seconds, 0), jobs: mine.length };
  };
  let trainTotal = 0;
  let attackTotal = 0;
  const rows = modelIds(results).map((id) => {
    const m = results.models.find((x) => x.id === id);
    const t = m ? trainingSeconds(m) : null;
    const a = attackOf(id);
    trainTotal += t?.seconds ?? 0;
    attackTotal += a.seconds;
    return [modelName(results, id), t ? `${formatSeconds(t.seconds)} (${t.epochs} epochs)` : '—', a.jobs ? `${formatSeconds(a.seconds)} (${a.jobs} job${a.jobs === 1 ? '' : 's'})` : '—'];
  });
  const transfer = timed.filter((j) => j.runs[0].threat === 'transfer');
  if (transfer.length) {
    const sec = transfer.reduce((a, j) => a + j.seconds, 0);
    attackTotal += sec;
    rows.push(['transfer (crafting on the source, scoring every target)', '—', `${formatSeconds(sec)} (${transfer.length} job${transfer.length === 1 ? '' : 's'})`]);
  }
  rows.push(['**total**', `**${formatSeconds(trainTotal)}**`, `**${formatSeconds(attackTotal)}**`]);
  const untimed = jobs.length - timed.length;
  const note = `Training: the sum of the recorded epoch times (an epoch cut short by an interruption and redone counts once). Attacks: the wall time of each job (all its eps and targets), with the run's worker threads (environment: ${results.environment.workers} worker${results.environment.workers === 1 ? '' : 's'}).${untimed ? ` ${untimed} run${untimed === 1 ? '' : 's'} without a recorded wall time are not counted.` : ''} All on the machine of the environment record; another machine's times differ.`;
  return `## Compute time\n\n${mdTable(['model', 'training', 'attacks'], rows)}\n\n${note}`;
}

function claimsSection(results: ResultsFile, load: PerSampleLoader, names: ClaimModels): string {
  const rows = assessClaims(results, load, names).map((c) => [String(c.claim), c.statement, `**${c.verdictText}**`, c.deciding]);
  return `## The paper's five claims\n\n${mdTable(['#', 'claim', 'verdict', 'deciding numbers'], rows)}\n\n${CLAIMS_RULE}`;
}

/** The whole Markdown document (see the module comment). */
export function renderMarkdown(results: ResultsFile, opts: MarkdownOptions): string {
  const sections = [
    `# ${opts.title ?? 'Results'}`,
    headlineSection(results, opts.perSampleLoader, opts.checks),
    opts.claims ? claimsSection(results, opts.perSampleLoader, opts.claims) : '',
    modelsSection(results),
    whiteBoxSection(results),
    gradientModeSection(results, opts.perSampleLoader),
    blackBoxSection(results),
    transferSection(results),
    ablationSection(results, opts.perSampleLoader),
    checksSection(opts.checks),
    computeSection(results),
  ].filter(Boolean);
  return `${sections.join('\n\n')}\n`;
}
