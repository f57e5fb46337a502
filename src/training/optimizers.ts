/**
 * Optimizers with explicit, checkpointable state: SGD (momentum, Nesterov), Adam, AdamW (decoupled weight decay,
 * Loshchilov & Hutter 2019), RMSprop. Update rules follow PyTorch's definitions so hyperparameters carry over.
 * Weight decay for sgd/adam/rmsprop is L2 added to the gradient (PyTorch `weight_decay`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';

export const OPTIMIZERS = ['sgd', 'adam', 'adamw', 'rmsprop'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerConfig {
  name: OptimizerName;
  lr: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** RMSprop smoothing constant. */
  alpha: number;
}

export function defaultOptimizerConfig(name: OptimizerName, partial: Partial<OptimizerConfig> = {}): OptimizerConfig {
  if (!OPTIMIZERS.includes(name)) throw new UserError(`unknown optimizer '${name}': expected one of ${OPTIMIZERS.join(', ')}`);
  const cfg: OptimizerConfig = {
    name,
    lr: name === 'sgd' ? 0.01 : 1e-3,
    weightDecay: name === 'adamw' ? 0.01 : 0,
    momentum: 0.9,
    nesterov: false,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: name === 'rmsprop' ? 1e-8 : 1e-8,
    alpha: 0.99,
    ...partial,
  };
  if (!(cfg.lr > 0)) throw new UserError(`bad learning rate ${cfg.lr}: expected a positive number`);
  if (!(cfg.weightDecay >= 0)) throw new UserError(`bad weight decay ${cfg.weightDecay}: expected >= 0`);
  return cfg;
}

export class Optimizer {
  private step = 0;
  private readonly slots = new Map<string, Record<string, tf.Variable>>();
  lr: number;

  constructor(readonly config: OptimizerConfig) {
    this.lr = config.lr;
  }

  get stepCount(): number {
    return this.step;
  }

  private slot(name: string, v: tf.Variable, key: string): tf.Variable {
    let s = this.slots.get(name);
    if (!s) {
      s = {};
      this.slots.set(name, s);
    }
    if (!s[key]) s[key] = tf.variable(tf.zerosLike(v), false);
    return s[key];
  }

  /** Apply one update. `grads` maps parameter names to gradients; `vars` maps the same names to variables. */
  apply(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>): void {
    this.step += 1;
    const c = this.config;
    const t = this.step;
    tf.tidy(() => {
      for (const [name, v] of vars) {
        const g0 = grads.get(name);
        if (!g0) continue;
        let g = g0;
        if (c.weightDecay > 0 && c.name !== 'adamw') g = tf.add(g, tf.mul(v, c.weightDecay));
        switch (c.name) {
          case 'sgd': {
            if (c.momentum > 0) {
              const buf = this.slot(name, v, 'momentum');
              // PyTorch: buf = momentum*buf + g (first step: buf = g); nesterov uses g + momentum*buf.
              const nb = t === 1 ? g : tf.add(tf.mul(buf, c.momentum), g);
              buf.assign(nb);
              g = c.nesterov ? tf.add(g, tf.mul(nb, c.momentum)) : nb;
            }
            v.assign(tf.sub(v, tf.mul(g, this.lr)));
            break;
          }
          case 'adam':
          case 'adamw': {
            if (c.name === 'adamw' && c.weightDecay > 0) v.assign(tf.mul(v, 1 - this.lr * c.weightDecay));
            const m = this.slot(name, v, 'm');
            const s = this.slot(name, v, 'v');
            m.assign(tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1)));
            s.assign(tf.add(tf.mul(s, c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
            const mHat = tf.div(m, 1 - Math.pow(c.beta1, t));
            const vHat = tf.div(s, 1 - Math.pow(c.beta2, t));
            v.assign(tf.sub(v, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), c.epsilon)), this.lr)));
            break;
          }
          case 'rmsprop': {
            const sq = this.slot(name, v, 'square_avg');
            sq.assign(tf.add(tf.mul(sq, c.alpha), tf.mul(tf.square(g), 1 - c.alpha)));
            let upd = tf.div(g, tf.add(tf.sqrt(sq), c.epsilon));
            if (c.momentum > 0) {
              const buf = this.slot(name, v, 'momentum');
              buf.assign(tf.add(tf.mul(buf, c.momentum), upd));
              upd = buf;
            }
            v.assign(tf.sub(v, tf.mul(upd, this.lr)));
            break;
          }
        }
      }
    });
  }

  /** State as named tensors (for checkpoints): `opt/<param>/<slot>`. */
  namedState(): { name: string; tensor: tf.Tensor }[] {
    const out: { name: string; tensor: tf.Tensor }[] = [];
    for (const [p, s] of this.slots) for (const [k, v] of Object.entries(s)) out.push({ name: `opt/${p}/${k}`, tensor: v });
    return out;
  }

  meta(): { step: number; lr: number } {
    return { step: this.step, lr: this.lr };
  }

  restore(meta: { step: number; lr: number }, tensors: Map<string, tf.Tensor>): void {
    this.step = meta.step;
    this.lr = meta.lr;
    for (const [key, t] of tensors) {
      const m = /^opt\/(.+)\/([^/]+)$/.exec(key);
      if (!m) continue;
      let s = this.slots.get(m[1]);
      if (!s) {
        s = {};
        this.slots.set(m[1], s);
      }
      s[m[2]]?.dispose();
      s[m[2]] = tf.variable(t, false);
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) for (const v of Object.values(s)) v.dispose();
    this.slots.clear();
  }
}
