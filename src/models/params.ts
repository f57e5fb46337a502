/**
 * Named parameters of a model: the single place where variables are created, so checkpoints can list them
 * (name, shape, dtype) and optimizers can find the trainable ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, fillNormal } from '../util/rng';

export interface NamedParam {
  name: string;
  variable: tf.Variable;
  trainable: boolean;
}

export class ParamStore {
  private readonly params = new Map<string, NamedParam>();

  add(name: string, init: tf.Tensor, trainable = true): tf.Variable {
    if (this.params.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    const variable = tf.variable(init, trainable, `${name}_${uniqueSuffix()}`);
    init.dispose();
    this.params.set(name, { name, variable, trainable });
    return variable;
  }

  /** He-normal (Kaiming) init as in the reference VGG: N(0, sqrt(2 / (k*k*out_channels))). */
  addNormal(name: string, shape: number[], std: number, rng: Rng, trainable = true): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.add(name, tf.tensor(fillNormal(rng, new Float32Array(size), std), shape), trainable);
  }

  addConst(name: string, shape: number[], value: number, trainable = true): tf.Variable {
    return this.add(name, tf.fill(shape, value), trainable);
  }

  list(): NamedParam[] {
    return [...this.params.values()];
  }

  trainable(): tf.Variable[] {
    return this.list()
      .filter((p) => p.trainable)
      .map((p) => p.variable);
  }

  get(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`no parameter '${name}'`);
    return p.variable;
  }

  nameOf(v: tf.Variable): string {
    for (const p of this.params.values()) if (p.variable === v) return p.name;
    throw new Error(`variable ${v.name} is not in this store`);
  }

  dispose(): void {
    for (const p of this.params.values()) p.variable.dispose();
    this.params.clear();
  }
}

let counter = 0;
function uniqueSuffix(): number {
  return counter++;
}
