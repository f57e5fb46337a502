/**
 * Direct Feedback Alignment (Nøkland 2016; TinyDFA, Launay et al. 2020) as two custom-gradient ops that live
 * in the ordinary autodiff graph:
 *
 *   - `tap` sits on the logits. Its forward is the identity; on the backward pass it records the output error
 *     e = dL/dlogits (for mean cross-entropy: (softmax - onehot) / batch) and passes it on unchanged.
 *   - `feedbackPoint(h)` sits where the synthetic gradient is injected. Its forward is the identity; its
 *     backward IGNORES the true upstream gradient (backprop is cut: the point's input is detached from what is
 *     above) and returns e·B[:, :size], reshaped like h, where B is the fixed random feedback matrix.
 *
 * The tape runs backward in reverse recording order, so the tap (recorded last) always fires before any feedback
 * point. Layers above a feedback point get true backprop; layers below get backprop of the synthetic signal.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRng } from '../util/rng';

export class FeedbackMatrix {
  /** B: [classes, size], uniform in [-1, 1) divided by sqrt(size) (docs/method.md §3). */
  readonly matrix: tf.Tensor2D;

  constructor(readonly classes: number, readonly size: number, readonly seed: number) {
    const rng = makeRng(seed, 'dfa-feedback');
    const data = new Float32Array(classes * size);
    const scale = 1 / Math.sqrt(size);
    for (let i = 0; i < data.length; i++) data[i] = rng.range(-1, 1) * scale;
    this.matrix = tf.keep(tf.tensor2d(data, [classes, size]));
  }

  /** The first `cols` columns (each feedback point takes its own prefix of the one global B). */
  columns(cols: number): tf.Tensor2D {
    if (cols > this.size) throw new Error(`feedback point of size ${cols} exceeds feedback matrix size ${this.size}`);
    return cols === this.size ? this.matrix : tf.slice(this.matrix, [0, 0], [this.classes, cols]);
  }

  dispose(): void {
    this.matrix.dispose();
  }
}

type CustomGradArg = Parameters<typeof tf.customGrad>[0];

/** An op whose forward is the identity and whose backward is `backward(dy, shape)`. */
export function identityWithGradient(backward: (dy: tf.Tensor, shape: number[]) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  const f = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const z = args[0] as tf.Tensor;
    const shape = z.shape.slice();
    return { value: tf.clone(z), gradFunc: (dy: tf.Tensor) => backward(dy, shape) };
  };
  return tf.customGrad(f as CustomGradArg) as (x: tf.Tensor) => tf.Tensor;
}

/** One backward pass's shared state between the logits tap and the feedback points. */
export class DfaSession {
  private error: tf.Tensor2D | null = null;
  private readonly tapOp: (x: tf.Tensor) => tf.Tensor;
  private readonly feedbackOp: (x: tf.Tensor) => tf.Tensor;

  constructor(private readonly feedback: FeedbackMatrix) {
    this.tapOp = identityWithGradient((dy) => {
      this.error?.dispose();
      this.error = tf.keep(tf.clone(dy)) as tf.Tensor2D;
      return dy;
    });
    this.feedbackOp = identityWithGradient((_dy, shape) => {
      if (!this.error) throw new Error('DFA feedback point reached before the logits tap recorded the error');
      const size = shape.slice(1).reduce((a, b) => a * b, 1);
      return tf.reshape(tf.matMul(this.error, this.feedback.columns(size)), shape);
    });
  }

  /** Identity on the logits; records e = dL/dlogits during the backward pass. */
  tap(logits: tf.Tensor2D): tf.Tensor2D {
    return this.tapOp(logits) as tf.Tensor2D;
  }

  /** Identity forward; backward returns e·B[:, :size] and ignores the true upstream gradient. */
  feedbackPoint<T extends tf.Tensor>(h: T): T {
    return this.feedbackOp(h) as T;
  }

  /** Release the recorded error after the backward pass. */
  dispose(): void {
    this.error?.dispose();
    this.error = null;
  }
}

/** Identity forward, zero gradient: detaches a tensor from what is below it. */
export const stopGradient = identityWithGradient((dy) => tf.zerosLike(dy)) as <T extends tf.Tensor>(x: T) => T;
