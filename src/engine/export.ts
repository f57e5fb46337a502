/**
 * `opulab export`: a checkpoint as a standalone ONNX file. The logits graph (or, with a gradient mode, the
 * logits + per-example loss + input-gradient graph) with the input normalization inside, a dynamic batch, and
 * metadata properties describing the model and its input convention.
 */
import type { Network } from '../models/network';
import { classifierFor, resolveGradientMode } from '../models/classifier';
import { modelId } from '../models/config';
import { opulabVersion } from '../util/version';
import { UserError } from '../util/errors';
import { deriveSeed } from '../util/rng';
import { buildGraph, GraphRequest, GraphSignature } from './builder';
import { describeModel } from './describe';
import { networkWeights } from './weights';
import type { EngineLossName } from './loss-spec';

export interface ExportOptions {
  /** Gradient mode of a logits+gradient graph; absent = logits only. */
  gradient?: string;
  signSurrogate?: string;
  loss?: EngineLossName;
  targeted?: boolean;
  /** Class names, in label order (default: the label numbers). */
  classNames?: string[];
  /** Seed of the system identification (bpda-estimated). */
  seed?: number;
  /** Fixed batch size (default: dynamic). */
  batch?: number;
}

export interface ExportedModel {
  bytes: Uint8Array;
  signature: GraphSignature;
  metadata: Record<string, string>;
}

export function exportModel(net: Network, opts: ExportOptions = {}): ExportedModel {
  const desc = describeModel(net.config, net.defense);
  if (desc.unsupported.length) throw new UserError(`cannot export '${modelId(net.config)}' to ONNX: ${desc.unsupported.join('; ')}`);
  // the engine runs a plugin's input transform on tfjs in front of its graphs; a standalone file would lack it
  if (desc.inputTransform) throw new UserError(`cannot export '${modelId(net.config)}' to ONNX: the input transform of defense plugin '${desc.inputTransform.name}' is JavaScript and has no ONNX form; expected a model without an input transform`);
  const loss = opts.loss ?? 'ce';
  if (!['ce', 'cw', 'dlr'].includes(loss)) throw new UserError(`unknown loss '${loss}': expected ce, cw or dlr`);
  if (opts.batch !== undefined && (!Number.isInteger(opts.batch) || opts.batch < 1)) throw new UserError(`bad batch ${opts.batch}: expected a positive integer`);
  let request: GraphRequest = { kind: 'logits' };
  let label = '';
  if (opts.gradient !== undefined) {
    // the tfjs classifier resolves the mode as attacks see it (and runs system identification for bpda-estimated)
    const c = classifierFor(net, opts.gradient, opts.signSurrogate ?? 'ste', deriveSeed(opts.seed ?? 0, 'sysid'));
    const spec = resolveGradientMode(net, opts.gradient, opts.signSurrogate ?? 'ste');
    const path = spec.label === 'natural' && !net.feedback ? { dfa: false, sign: 'zero' as const, opu: 'true' as const } : spec.path;
    request = { kind: 'grad', path, loss: { name: loss, targeted: opts.targeted ?? false } };
    label = c.gradientMode;
  }
  const classes = opts.classNames ?? Array.from({ length: desc.numClasses }, (_, i) => String(i));
  const metadataOf = (sig: GraphSignature): Record<string, string> => {
    const inputs = [`${sig.x}: float32 [N,32,32,3] NHWC RGB pixels in [0,1] (normalization is inside the graph)`];
    if (sig.labels) inputs.push(`${sig.labels}: float32 [N,1] class labels${opts.targeted ? ' (the targets)' : ''}`);
    if (sig.trueLabels) inputs.push(`${sig.trueLabels}: float32 [N,1] true class labels`);
    if (sig.cameraNoise) inputs.push(`${sig.cameraNoise}: float32 [N,${sig.noiseWidth}] standard-normal camera noise (shot and read noise in one draw, scaled inside the graph by sqrt(gain * signal + readNoiseStd^2))`);
    const outputs = [`${sig.logits}: float32 [N,${desc.numClasses}] logits`];
    if (sig.loss) outputs.push(`${sig.loss}: float32 [N] per-example ${loss}${opts.targeted ? ' (targeted)' : ''} loss, to maximise`);
    if (sig.grad) outputs.push(`${sig.grad}: float32 [N,32,32,3] gradient of the summed loss w.r.t. the input (pixel units), gradient mode ${label}`);
    const metadata: Record<string, string> = {
      'opulab.version': opulabVersion(),
      'opulab.model_id': modelId(net.config),
      'opulab.classes': JSON.stringify(classes),
      'opulab.eps_units': 'pixel: inputs and eps in [0,1] pixel units; normalized eps = pixel eps / std per channel',
      'opulab.normalization': JSON.stringify(net.config.normalization),
      'opulab.inputs': inputs.join('; '),
      'opulab.outputs': outputs.join('; '),
      'opulab.config': JSON.stringify(net.config),
    };
    if (label) metadata['opulab.gradient_mode'] = label;
    return metadata;
  };
  // The plain convolution layout: an exported file is read by other tools (and by opulab's importer, which maps
  // it to tfjs for gradients), so it keeps each image's maps as they are.
  const graph = buildGraph(desc, networkWeights(net), request, { batch: opts.batch ?? 'N', metadata: metadataOf, producerVersion: opulabVersion(), rowLayout: 'never', winograd: 'never', dense2x2: 'never' });
  return { bytes: graph.bytes, signature: graph.signature, metadata: metadataOf(graph.signature) };
}
