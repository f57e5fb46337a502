/**
 * System-identification queries on ONNX Runtime: the black-box OPU that `bpda-estimated:N` queries
 * (src/optics/sysid.ts `estimateTransmission`) as one ONNX graph of the OPU and its camera, in either mode:
 *
 *   x [N, n_in] -> pixels ((x + 1) / 2 for signed input in physical mode) -> MatMul with the true matrix
 *   (reference W, or [Re R | Im R] in physical mode) -> square (and the sum of both parts) -> camera
 *
 * The camera is the one of the logits graphs (builder.ts `emitCamera`); its noise is a graph input drawn from the
 * camera's own seeded stream (Camera.drawNoiseArrays), exactly as the tfjs readout draws it, so both engines answer the
 * same queries with the same numbers. Device use is counted as OpticalProcessingUnit.measure counts it. The
 * estimator's own arithmetic (least squares, eigenvectors) stays where it is; only the queries move.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpticalProcessingUnit } from '../optics/opu';
import type { BlackBoxOpu } from '../optics/sysid';
import type { OpuMode } from '../optics/transmission';
import { UserError } from '../util/errors';
import { GraphBuilder } from './onnx-graph';
import { emitCamera, GraphSignature } from './builder';
import { OrtSession, SessionOptions, trackSession } from './session';

/** The OPU + camera readout graph of `opu` (dynamic batch): input `x` [N, n_in], output `readout` [N, n_out]. */
export function buildOpuQueryGraph(opu: OpticalProcessingUnit): { bytes: Uint8Array; signature: Pick<GraphSignature, 'cameraNoise'> & { x: string; readout: string } } {
  const n = opu.inFeatures;
  const m = opu.outFeatures;
  const g = new GraphBuilder();
  const x = g.input('x', ['N', n]);
  const physical = opu.mode === 'physical';
  const pix = physical && opu.inputValues === 'signed' ? g.op('Div', [g.op('Add', [x, g.scalar(1)]), g.scalar(2)], {}, 'opu_pixels') : x;
  const { real, imag } = opu.transmission.toArrays();
  let matrix = real;
  if (physical) {
    // [Re R | Im R] as one [n, 2m] matrix: one MatMul for both parts
    matrix = new Float32Array(n * 2 * m);
    for (let i = 0; i < n; i++) {
      matrix.set(real.subarray(i * m, (i + 1) * m), i * 2 * m);
      matrix.set(imag!.subarray(i * m, (i + 1) * m), i * 2 * m + m);
    }
  }
  const q = g.op('MatMul', [pix, g.float('opu_matrix', matrix, [n, physical ? 2 * m : m])], {}, 'opu_field');
  const sq = g.op('Mul', [q, q]);
  const axis = g.int64('opu_axis', [1]);
  const at = (i: number): string => g.int64(`opu_slice_${i}`, [i * m]);
  const intensity = physical ? g.op('Add', [g.op('Slice', [sq, at(0), at(1), axis]), g.op('Slice', [sq, at(1), at(2), axis])], {}, 'opu_intensity') : sq;
  const sig: Pick<GraphSignature, 'cameraNoise'> = {};
  const readout = g.output(emitCamera(g, opu.camera, intensity, 'N', m, sig), 'readout', ['N', m]);
  return { bytes: g.serialize(`opu-${opu.mode}-${n}x${m}-queries`), signature: { ...sig, x, readout } };
}

/**
 * The OPU as a black box whose queries ONNX Runtime answers (see the module comment). One session, opened on the
 * first query; `dispose()` releases it.
 */
export class OrtOpuQueries implements BlackBoxOpu {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly mode: OpuMode;
  readonly inputValues: 'signed' | 'binary';
  /** Graph runs so far (tests, benchmarks). */
  runs = 0;
  private session: OrtSession | null = null;
  private signature: ReturnType<typeof buildOpuQueryGraph>['signature'] | null = null;

  constructor(
    readonly opu: OpticalProcessingUnit,
    private readonly opts: SessionOptions = {},
  ) {
    this.inFeatures = opu.inFeatures;
    this.outFeatures = opu.outFeatures;
    this.mode = opu.mode;
    this.inputValues = opu.inputValues;
  }

  measure(x: tf.Tensor2D): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) throw new UserError(`OPU input of shape [${x.shape.join(', ')}]: expected [batch, ${this.inFeatures}]`);
    if (!this.session) {
      const graph = buildOpuQueryGraph(this.opu);
      this.session = new OrtSession(graph.bytes, this.opts);
      trackSession(1);
      this.signature = graph.signature;
    }
    const sig = this.signature!;
    const rows = x.shape[0];
    const m = this.outFeatures;
    this.opu.account(x);
    const feeds: Record<string, { data: Float32Array; dims: readonly number[] }> = { [sig.x]: { data: x.dataSync() as Float32Array, dims: [rows, this.inFeatures] } };
    const noise = this.opu.camera.drawNoiseArrays(rows * m);
    if (noise && sig.cameraNoise) feeds[sig.cameraNoise] = { data: noise, dims: [rows, m] };
    const out = this.session.run(feeds);
    this.runs++;
    return tf.tensor2d(out[sig.readout], [rows, m]);
  }

  dispose(): void {
    if (!this.session) return;
    this.session.dispose();
    trackSession(-1);
    this.session = null;
  }
}
