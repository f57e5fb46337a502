/**
 * relu(conv2d(x, filter) + bias) as one `FusedConv2D` kernel call that stays fused under a gradient tape.
 *
 * tf.fused.conv2d falls back to three ops (conv, add, relu) whenever a gradient is being recorded and the
 * activation is not linear, and its linear fused path uses tf.customGrad, whose gradient computes the
 * filter gradient eagerly even when only the input gradient is wanted (an attack step). Here the kernel
 * runs directly and its gradient is registered per input, so the engine evaluates only the gradients on
 * the path being differentiated:
 *   g = dy * step(y)  (y > 0 exactly where the pre-activation is > 0)
 *   dx = Conv2DBackpropInput(g, filter), dfilter = Conv2DBackpropFilter(x, g), dbias = sum(g) over N,H,W.
 * The gradient is registered (from the list in kernels/index.ts) for the kernel name 'FusedConv2D', which tfjs
 * itself never records on the tape (its fused ops run it inside customGrad); if some other package registered
 * one first, or none is registered yet, the plain tf.fused.conv2d is used instead, as on backends other than wasm
 * and cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GradConfig, NamedAttrMap } from '@tensorflow/tfjs-core';

const KERNEL = 'FusedConv2D';

/** The gradient of a relu FusedConv2D, per input (see the file comment). */
export const fusedConvReluGradient: GradConfig = {
  kernelName: KERNEL,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    if (attrs.activation !== 'relu') throw new Error(`${KERNEL} gradient: activation '${String(attrs.activation)}' not supported`);
    const strides = attrs.strides as [number, number];
    const pad = attrs.pad as 'same' | 'valid' | number;
    // the relu mask, shared by the three gradients (computed once in the backward scope)
    const g = tf.mul(dy as tf.Tensor4D, tf.step(y)) as tf.Tensor4D;
    return {
      x: () => tf.conv2dTranspose(g, filter, x.shape, strides, pad),
      filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g }, { strides, pad, dataFormat: 'NHWC', filterShape: filter.shape }) as tf.Tensor,
      bias: () => tf.sum(g, [0, 1, 2]),
    };
  },
};

/** relu(conv2d(x, filter, stride, pad) + bias), NHWC, dilation 1. */
export function convBiasRelu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  strides: number | [number, number],
  pad: 'same' | 'valid',
): tf.Tensor4D {
  // wasm and cpu only (the backends this is tested on); others keep tfjs's own fused op
  const backend = tf.getBackend();
  const ownGradient = tf.getGradient(KERNEL) === fusedConvReluGradient;
  if (!ownGradient || (backend !== 'wasm' && backend !== 'cpu') || tf.getKernel(KERNEL, backend) == null) {
    return tf.fused.conv2d({ x, filter, strides, pad, bias, activation: 'relu' }) as tf.Tensor4D;
  }
  const s: [number, number] = typeof strides === 'number' ? [strides, strides] : strides;
  return tf.engine().runKernel(
    KERNEL,
    { x, filter, bias },
    { strides: s, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined, activation: 'relu', leakyreluAlpha: undefined } as unknown as NamedAttrMap,
  ) as tf.Tensor4D;
}
