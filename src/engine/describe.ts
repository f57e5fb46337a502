/**
 * A declarative description of an opulab network, the only thing the ONNX graph builder follows: the backbone as
 * a list of feature stages and the head as a list of head stages, each naming the parameters it reads. It is
 * computed in ONE function (`describeModel`) from a model's configuration, so a defense that describes its own
 * head only has to produce this list for the native engine to run it.
 *
 * The description mirrors Network.forward (src/models/network.ts) in eval mode: dropout is the identity,
 * BatchNorm uses running statistics (folded into the convolution), RepVGG blocks are in their fused deploy
 * form, the Sign uses its configured center and the OPU the true matrix and the camera.
 */
import type { BinarizeCenter, ModelConfig } from '../models/config';
import { isRepVggArchitecture, modelId } from '../models/config';
import { defenseContext, defenseForConfig } from '../../defenses/registry';
import type { Defense } from '../../defenses/types';
import { vggPlan } from '../models/vgg';
import { repvggPlan } from '../models/repvgg';
import type { CameraOptions } from '../optics/camera';
import type { OpuMode } from '../optics/transmission';

/**
 * A feature stage. `conv`: 3x3 convolution + bias + ReLU with weights folded for eval (`weights` says where they
 * come from); `dfaPoint`: a per-layer DFA feedback point sits on its output (training 'dfa').
 */
export type FeatureStageDesc =
  | {
      kind: 'conv';
      name: string;
      inChannels: number;
      outChannels: number;
      stride: 1 | 2;
      pad: number;
      /** 'vgg-bn': kernel/bias + BatchNorm running stats to fold; 'fused': kernel/bias as they are (RepVGG deploy). */
      weights: 'vgg-bn' | 'fused';
      /** Parameter-name prefix (e.g. features/conv3 or features/conv3/fused). */
      param: string;
      dfaPoint: boolean;
    }
  | { kind: 'maxpool'; name: string }
  | { kind: 'gap'; name: string };

/** When a DFA feedback point in the head is active: with any DFA training, or only with per-layer DFA. */
export type FeedbackWhen = 'dfa-or-hybrid' | 'dfa';

export type HeadStageDesc =
  | { kind: 'dense'; param: string; inFeatures: number; outFeatures: number; relu: boolean }
  | { kind: 'feedback'; when: FeedbackWhen }
  | { kind: 'sign'; center: BinarizeCenter; /** the running-mean center's parameter */ centerParam?: string }
  | { kind: 'opu'; mode: OpuMode; inFeatures: number; outFeatures: number; camera: CameraOptions }
  | { kind: 'relu' };

export interface ModelDescription {
  id: string;
  numClasses: number;
  inputShape: [number, number, number];
  normalization: { mean: number[]; std: number[] };
  training: ModelConfig['training'];
  features: FeatureStageDesc[];
  /** Output size of the features (flattened). */
  featureSize: number;
  head: HeadStageDesc[];
  /**
   * The defense's pixel-space input transform, which the graphs do not contain: a plugin's JavaScript transform
   * (and its surrogates) runs on tfjs before the graph, whose input is the transformed pixels (docs/architecture.md
   * §2, Engine). null: the graph's input is the model's input.
   */
  inputTransform: { name: string; stochastic: boolean } | null;
  /**
   * Parts the engine cannot express (the caller runs the model on tfjs); empty when the model is a graph, with
   * at most an input transform in front. Every head stage a defense can declare (src/models/head.ts) has a graph
   * form today, so only a stage kind added later without one would land here.
   */
  unsupported: string[];
}

/**
 * The description of a network from its configuration (see the module comment). `defense`: the model's defense
 * when the caller already has it (a Network's), so a plugin file is not read again.
 */
export function describeModel(config: ModelConfig, defense: Defense = defenseForConfig(config)): ModelDescription {
  const unsupported: string[] = [];
  const transform = defense.inputTransform;
  const dfaEverywhere = config.training === 'dfa';
  const features: FeatureStageDesc[] = [];
  let featureSize: number;
  if (isRepVggArchitecture(config.architecture)) {
    // Train-form weights are fused by the caller (Network.reparameterize) before they are read.
    for (const b of repvggPlan(config.architecture, config.width)) {
      features.push({
        kind: 'conv',
        name: b.name,
        inChannels: b.inChannels,
        outChannels: b.outChannels,
        stride: b.stride,
        pad: 1,
        weights: 'fused',
        param: `features/${b.name}/fused`,
        dfaPoint: dfaEverywhere,
      });
    }
    features.push({ kind: 'gap', name: 'gap' });
    featureSize = (features[features.length - 2] as { outChannels: number }).outChannels;
  } else {
    const depth = Number(config.architecture.replace('vgg', '')) as 11 | 13 | 16;
    let c = 3;
    let conv = 0;
    let pool = 0;
    for (const v of vggPlan(depth, config.width)) {
      if (v === 'M') features.push({ kind: 'maxpool', name: `pool${++pool}` });
      else {
        conv++;
        features.push({ kind: 'conv', name: `conv${conv}`, inChannels: c, outChannels: v, stride: 1, pad: 1, weights: 'vgg-bn', param: `features/conv${conv}`, dfaPoint: dfaEverywhere });
        c = v;
      }
    }
    featureSize = c;
  }
  return {
    id: modelId(config),
    numClasses: config.numClasses,
    inputShape: [32, 32, 3],
    normalization: { mean: [...config.normalization.mean], std: [...config.normalization.std] },
    training: config.training,
    features,
    featureSize,
    head: describeHead(config, defense, featureSize, unsupported),
    inputTransform: transform ? { name: transform.name, stochastic: transform.stochastic } : null,
    unsupported,
  };
}

/**
 * The head stages of Network.forward, translated from the stages the model's defense declares (defenses/,
 * src/models/head.ts): dropout is the identity in eval mode; parameter names follow Network (`head/<name>`).
 */
function describeHead(config: ModelConfig, defense: Defense, featureSize: number, unsupported: string[]): HeadStageDesc[] {
  const head: HeadStageDesc[] = [];
  let width = featureSize;
  let signs = 0;
  for (const stage of defense.head(defenseContext(config))) {
    switch (stage.op) {
      case 'dropout':
        break;
      case 'dense':
        head.push({ kind: 'dense', param: `head/${stage.name}`, inFeatures: width, outFeatures: stage.units, relu: stage.relu });
        width = stage.units;
        break;
      case 'feedback':
        head.push({ kind: 'feedback', when: stage.perLayerOnly ? 'dfa' : 'dfa-or-hybrid' });
        break;
      case 'sign': {
        const centerParam = signs++ === 0 ? 'head/sign/running_center' : `head/sign${signs}/running_center`;
        head.push(stage.center === 'running-mean' ? { kind: 'sign', center: 'running-mean', centerParam } : { kind: 'sign', center: stage.center });
        break;
      }
      case 'opu':
        head.push({ kind: 'opu', mode: stage.mode, inFeatures: width, outFeatures: stage.outFeatures, camera: { ...(stage.camera ?? {}) } as CameraOptions });
        width = stage.outFeatures;
        break;
      case 'relu':
        head.push({ kind: 'relu' });
        break;
      default:
        unsupported.push(`head stage '${(stage as { op: string }).op}' of defense '${defense.name}'`);
    }
  }
  return head;
}
