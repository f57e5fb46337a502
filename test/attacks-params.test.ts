import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ParamSchema, bool, int, num, oneOf, schemaFromDefaults } from '../attacks/params';
import { BUILTIN_ATTACKS, attackFactsByName, attackNames, createAttack, defaultNorm, describeAttacks } from '../attacks/registry';
import { parseSpec } from '../src/experiments/spec';
import { attackParamSummary, withAttackParamReference } from '../attacks/param-docs';
import { attackParams, type AttackRequest } from '../src/experiments/execute';
import { loadAttackPlugin } from '../src/plugins';
import { factsOf, isAdaptive, isIterative, isSingleStep, choosesOwnStepSize } from '../reports/runs';
import { computeChecks } from '../reports/checks';
import type { ResultsFile, RunRecord } from '../src/results/schema';
import { UserError } from '../src/util/errors';

const root = path.join(__dirname, '..');

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('the parameter schema', () => {
  const schema = new ParamSchema(
    'toy',
    {
      steps: int({ default: 10, min: 1, description: 'steps' }),
      rate: num({ default: 0.5, min: 0, max: 1, maxExclusive: true, description: 'rate' }),
      pairs: int({ default: 2, min: 2, even: true, description: 'pairs' }),
      flag: bool({ default: false, description: 'flag' }),
      norm: oneOf(['linf', 'l2'], { default: 'linf', description: 'norm' }),
      step: num({ min: 0, minExclusive: true, description: 'no default' }),
    },
    [(p) => (p.step !== undefined && p.steps > 5 ? `step needs steps <= 5 (got ${p.steps})` : undefined)],
  );

  it('fills defaults, converts command-line strings, keeps the schema order and leaves default-less parameters absent', () => {
    expect(schema.parse({})).toEqual({ steps: 10, rate: 0.5, pairs: 2, flag: false, norm: 'linf' });
    expect(Object.keys(schema.parse({ flag: 'true', steps: '3', step: '0.1' }))).toEqual(['steps', 'rate', 'pairs', 'flag', 'norm', 'step']);
    expect(schema.parse({ flag: 'true', steps: '3', step: '0.1' })).toMatchObject({ flag: true, steps: 3, step: 0.1 });
    expect(schema.parse({ steps: undefined })).toHaveProperty('steps', 10);
  });

  it.each([
    [{ steps: 0 }, "toy: bad steps '0': expected an integer >= 1"],
    [{ steps: 2.5 }, "toy: bad steps '2.5': expected an integer >= 1"],
    [{ rate: 1 }, "toy: bad rate '1': expected a number in [0, 1)"],
    [{ rate: 'x' }, "toy: bad rate 'x': expected a number in [0, 1)"],
    [{ pairs: 3 }, "toy: bad pairs '3': expected an even integer >= 2"],
    [{ flag: 'yes' }, "toy: bad flag 'yes': expected true or false"],
    [{ norm: 'l1' }, "toy: bad norm 'l1': expected one of linf, l2"],
    [{ step: -1 }, "toy: bad step '-1': expected a number > 0"],
    [{ stpes: 3 }, "toy: unknown parameter 'stpes': expected one of steps, rate, pairs, flag, norm, step"],
    [{ step: 0.1 }, 'toy: step needs steps <= 5 (got 10)'],
  ])('%j is one line: %s', (raw, expected) => {
    expect(message(() => schema.parse(raw))).toBe(expected);
  });

  it('reads recorded parameters leniently (extra keys ignored, bad values defaulted, no rules)', () => {
    expect(schema.read({ steps: 20, seed: 3, rate: 7, step: 0.1 })).toEqual({ steps: 20, rate: 0.5, pairs: 2, flag: false, norm: 'linf', step: 0.1 });
  });

  it('types plugin parameters by their defaults', () => {
    const s = schemaFromDefaults("defense plugin 'x.js'", { bits: 4, mode: 'a', on: true });
    expect(s.parse({ bits: '3', on: 'false' })).toEqual({ bits: 3, mode: 'a', on: false });
    expect(message(() => s.parse({ mode: 3 }))).toBe("defense plugin 'x.js': bad mode '3': expected a string");
    expect(message(() => schemaFromDefaults('p', {}).parse({ a: 1 }))).toBe("p: unknown parameter 'a': expected none (it takes no parameters)");
  });
});

describe('every built-in attack declares its parameters and facts', () => {
  it('each registry attack has a schema, and its defaults build the attack', () => {
    for (const d of BUILTIN_ATTACKS) {
      expect(attackNames()).toContain(d.name);
      const a = createAttack(d.name);
      expect(a.name).toBe(d.name);
      expect(a.facts).toBeDefined();
      expect(a.facts!.threat).toBe(a.threat);
      expect(a.facts!.norms).toContain(a.norm);
      // every parameter with a default is recorded (records may add fixed descriptive keys such as loss: 'margin')
      for (const r of d.params.rows()) if (r.default !== '-' && (r.name !== 'norm' || a.facts!.takesNorm)) expect(a.params).toHaveProperty(r.name);
    }
  });

  it.each([
    ['fgsm', {}],
    ['pgd', { steps: 1 }],
    ['pgd', { steps: 20, loss: 'dlr', norm: 'l2' }],
    ['apgd-dlr', { steps: 7 }],
    ['apgd-ce', {}],
    ['square', { maxQueries: 300, norm: 'l2' }],
    ['square-autoattack', { maxQueries: 40 }],
    ['hsja-linf', {}],
    ['nes', {}],
    ['bandits-reference', {}],
    ['parsimonious', { maxQueries: 30 }],
    ['mi-fgsm', { steps: 3 }],
    ['di-fgsm', {}],
    ['noise', { norm: 'l2' }],
  ])('%s %j: the facts the registry derives from the recorded params are the attack\'s own', (name, params) => {
    const a = createAttack(name, params);
    // as evaluate.ts records them: the attack's params plus seed, batch size and a resolved step size
    const recorded = { ...a.params, seed: 1, batchSize: 10, ...(a.params.relStepSize !== undefined ? { stepSize: 0.01 } : {}) };
    expect(attackFactsByName(name, recorded)).toEqual(a.facts);
    expect(attackFactsByName(a.name, recorded)).toEqual(a.facts);
  });

  it('facts say what the name used to: steps, iterative, margin loss, own step size, budget', () => {
    expect(createAttack('fgsm').facts).toMatchObject({ iterative: false, steps: 1, marginLoss: false, takesNorm: true });
    expect(createAttack('fgsm', { loss: 'cw' }).facts).toMatchObject({ marginLoss: true });
    expect(createAttack('pgd', { steps: 1 }).facts).toMatchObject({ iterative: false, steps: 1 });
    expect(createAttack('apgd-dlr').facts).toMatchObject({ iterative: true, steps: 100, loss: 'dlr', marginLoss: true, ownStepSize: true });
    expect(createAttack('square', { maxQueries: 99 }).facts).toMatchObject({ threat: 'black-box-score', queryBudget: 99, iterative: true, marginLoss: true });
    expect(createAttack('hsja').facts).toMatchObject({ threat: 'decision', norms: ['l2', 'linf'], queryBudget: 5000, marginLoss: false });
    expect(attackFactsByName('no-such-attack')).toBeUndefined();
  });

  it('the runner fills the norm exactly for the attacks that take one (the L-inf-only ones and their presets take none)', () => {
    const req = (attack: string): AttackRequest => ({ attack, params: {}, norm: 'l2', eps: [], epsSpace: 'pixel', gradient: 'natural', signSurrogate: 'ste', eot: 0, batchSize: 1, seed: 0 });
    const noNorm = attackNames().filter((n) => attackParams(req(n), [0.5]).norm === undefined);
    expect(noNorm.sort()).toEqual(['bandits', 'bandits-reference', 'di-fgsm', 'mi-fgsm', 'nes', 'nes-reference', 'parsimonious', 'parsimonious-reference']);
    expect(attackParams(req('./not-loaded-plugin.js'), [0.5]).norm).toBe('l2');
  });
});

describe('reports read the facts, not the names', () => {
  const base: RunRecord = { model: 'm', attack: 'pgd', threat: 'white-box', norm: 'linf', eps: 8 / 255, epsSpace: 'pixel', params: { steps: 50 }, n: 10, cleanAccuracy: 0.9, robustAccuracy: 0.1 };

  it('a recorded fact wins over the name; old runs get the registry facts of their exact name; unknown names their params', () => {
    expect(isIterative(base)).toBe(true);
    expect(isIterative({ ...base, params: { steps: 1 } })).toBe(false);
    expect(isSingleStep({ ...base, attack: 'fgsm', params: {} })).toBe(true);
    expect(isAdaptive({ ...base, attack: 'apgd-dlr', params: {} })).toBe(true);
    expect(choosesOwnStepSize({ ...base, attack: 'apgd-ce', params: {} })).toBe(true);
    expect(choosesOwnStepSize(base)).toBe(false);
    // a name is only looked up exactly: 'my-pgd' is nobody the registry knows
    expect(factsOf({ ...base, attack: 'my-pgd', params: {} })).toBeUndefined();
    expect(isIterative({ ...base, attack: 'my-pgd', params: {} })).toBe(false);
    expect(isIterative({ ...base, attack: 'my-pgd', params: { steps: 5 } })).toBe(true);
    expect(isAdaptive({ ...base, attack: 'my-pgd', params: { loss: 'dlr' } })).toBe(true);
    const declared = { ...base, attack: 'my-pgd', params: {}, facts: { ...createAttack('apgd-dlr').facts! } };
    expect(isAdaptive(declared) && isIterative(declared) && choosesOwnStepSize(declared)).toBe(true);
  });

  it('the checks of a results file are the same with the facts recorded in every run and without', () => {
    const file = path.join(root, 'test', 'fixtures', 'results-report.json');
    const old = JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile;
    const withFacts = JSON.parse(JSON.stringify(old)) as ResultsFile;
    let recorded = 0;
    for (const r of withFacts.runs) {
      const f = attackFactsByName(r.attack, r.params);
      if (f) {
        r.facts = r.threat === 'transfer' ? { ...f, threat: 'transfer' } : f;
        recorded++;
      }
    }
    expect(recorded).toBeGreaterThan(10);
    expect(computeChecks(withFacts, () => null)).toEqual(computeChecks(old, () => null));
  });
});

describe('attack plugins declare parameters in the same schema', () => {
  it('declared params are checked with one-line errors, defaulted, and listed', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-params-'));
    const file = path.join(dir, 'declared.js');
    fs.writeFileSync(
      file,
      `module.exports = { name: 'declared-noise', threat: 'white-box', norm: 'linf',
        params: { steps: { type: 'integer', min: 1, default: 3, description: 'steps' }, loss: { type: 'enum', options: ['ce', 'dlr'], default: 'ce', description: 'loss' } },
        create: (p) => ({ name: 'declared-noise', threat: 'white-box', norm: 'linf', params: { ...p }, run: async (m, x, labels, eps) => eps.map((e) => ({ eps: e, adversarial: x.clone(), success: Array.from(labels, () => false) })) }) };`,
    );
    loadAttackPlugin(file);
    expect(createAttack('declared-noise', { steps: '5' }).params).toEqual({ steps: 5, loss: 'ce' });
    expect(message(() => createAttack('declared-noise', { steps: 0 }))).toBe(`attack plugin '${file}': bad steps '0': expected an integer >= 1`);
    expect(message(() => createAttack('declared-noise', { los: 'dlr' }))).toMatch(/unknown parameter 'los': expected one of steps, loss$/);
    expect(describeAttacks().find((a) => a.name === 'declared-noise')?.params?.names()).toEqual(['steps', 'loss']);
    const bad = path.join(dir, 'bad-params.js');
    fs.writeFileSync(bad, `module.exports = { name: 'bad-params', threat: 'white-box', norm: 'linf', params: { steps: { type: 'int' } }, create: () => ({}) };`);
    expect(message(() => loadAttackPlugin(bad))).toMatch(/params\.steps\.type must be one of number, integer, boolean, enum, string/);
  });
});

describe('generated docs', () => {
  it("the README's attack parameter tables are the ones generated from the schemas (npm run docs:attacks)", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(withAttackParamReference(readme) === readme).toBe(true);
    expect(readme).toContain('| `steps` | integer | `50` | >= 1 | gradient steps per run |');
  });

  it('the attack --help summary names every built-in attack with its defaults', () => {
    const s = attackParamSummary();
    for (const d of BUILTIN_ATTACKS) expect(s).toContain(`  ${d.name}: `);
    expect(s).toContain('pgd: norm=linf, steps=50, randomStart=true, restarts=1, loss=ce, stepSize, relStepSize=2.5/steps');
  });
});

describe('the norm when none is given', () => {
  it("is the preset's own (square-l2-autoattack, hsja-l2: l2), else linf; a given norm wins", () => {
    expect(defaultNorm('square-l2-autoattack')).toBe('l2');
    expect(defaultNorm('hsja-l2')).toBe('l2');
    expect(defaultNorm('hsja-linf')).toBe('linf');
    expect(defaultNorm('square')).toBe('linf');
    expect(defaultNorm('pgd')).toBe('linf');
    const spec = parseSpec({
      models: [{ name: 'm' }],
      attacks: [
        { attack: 'square-l2-autoattack', eps: [0.5] },
        { attack: 'square-l2-autoattack', eps: [0.5], norm: 'linf' },
        { attack: 'pgd', eps: ['8/255'] },
      ],
    });
    expect(spec.attacks.map((a) => a.norm)).toEqual(['l2', 'linf', 'linf']);
    const req: AttackRequest = { attack: 'square-l2-autoattack', params: {}, norm: spec.attacks[0].norm, eps: [0.5], epsSpace: 'pixel', gradient: 'natural', signSurrogate: 'ste', eot: 0, batchSize: 10, seed: 0 };
    expect(createAttack(req.attack, attackParams(req, [0.5, 0.5, 0.5])).params.norm).toBe('l2');
  });
});
