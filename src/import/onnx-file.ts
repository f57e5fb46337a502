/**
 * Reading an ONNX model file (onnx-proto): the graph's nodes with decoded attributes, its constant tensors
 * (initializers and Constant nodes), its one float image input and its first output, and what can be read from
 * them before anything runs: the input layout (NCHW or NHWC), the class count, and whether the output is logits
 * or probabilities (a final Softmax or Sigmoid).
 */
import { onnx } from 'onnx-proto';
import { UserError } from '../util/errors';

/** An int64 field as protobufjs decodes it: a number or a Long. */
type IntLike = number | { toNumber(): number };

export function intOf(v: IntLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** A constant of the graph, as float32 values (integer tensors converted; shapes, axes and indices are small). */
export interface ConstTensor {
  dims: number[];
  data: Float32Array;
  /** True for integer and boolean element types. */
  integer: boolean;
  /** The ONNX element type's name (FLOAT, INT64, UINT8, ...). */
  elem: string;
}

export type AttrValue = number | number[] | string | ConstTensor;

export interface OnnxNode {
  opType: string;
  /** The node's name, or `#index` when it has none. */
  name: string;
  /** Input value names ('' = an omitted optional input). */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** Operator set domain ('' = the default ONNX domain). */
  domain: string;
}

export type Layout = 'nchw' | 'nhwc';
export type OutputKind = 'logits' | 'probabilities' | 'log-probabilities';

export interface OnnxGraphInfo {
  nodes: OnnxNode[];
  constants: Map<string, ConstTensor>;
  input: { name: string; dims: (number | string)[] };
  output: { name: string; dims: (number | string)[] };
  /** Layout read from the graph, or null when it cannot be told (a flag must say it). */
  layout: Layout | null;
  /** Why the layout was read so (recorded). */
  layoutReason: string;
  /** Class count read from the output shape, or null when it is symbolic. */
  classes: number | null;
  outputKind: OutputKind;
  /** The node that makes the output what it is (e.g. the final Softmax), for the record. */
  outputReason: string;
  /** metadata_props of the model. */
  metadata: Record<string, string>;
  opset: number;
  producer: string;
}

const T = onnx.TensorProto.DataType;

/** The values of a TensorProto as float32 (float, double, the integer types and bool). */
export function tensorValues(t: onnx.ITensorProto, where: string): ConstTensor {
  const dims = (t.dims ?? []).map((d) => intOf(d as IntLike));
  const size = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new UserError(`${where}: tensor '${t.name}' keeps its data in an external file: expected the weights inside the .onnx file (save without external data)`);
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const data = new Float32Array(size);
  const elem = String(onnx.TensorProto.DataType[type] ?? type);
  const read = (bytes: number, get: (off: number) => number, field: ArrayLike<IntLike> | null | undefined): void => {
    if (view) {
      if (raw!.byteLength < size * bytes) throw new UserError(`${where}: tensor '${t.name}' holds ${raw!.byteLength} bytes for shape [${dims}]`);
      for (let i = 0; i < size; i++) data[i] = get(i * bytes);
    } else {
      const f = field ?? [];
      if (f.length !== size) throw new UserError(`${where}: tensor '${t.name}' holds ${f.length} values for shape [${dims}]`);
      for (let i = 0; i < size; i++) data[i] = intOf(f[i]);
    }
  };
  switch (type) {
    case T.FLOAT:
      read(4, (o) => view!.getFloat32(o, true), t.floatData);
      return { dims, data, integer: false, elem };
    case T.DOUBLE:
      read(8, (o) => view!.getFloat64(o, true), t.doubleData);
      return { dims, data, integer: false, elem };
    case T.INT64:
      read(8, (o) => Number(view!.getBigInt64(o, true)), t.int64Data as IntLike[]);
      return { dims, data, integer: true, elem };
    case T.INT32:
      read(4, (o) => view!.getInt32(o, true), t.int32Data);
      return { dims, data, integer: true, elem };
    case T.INT8:
      read(1, (o) => view!.getInt8(o), t.int32Data);
      return { dims, data, integer: true, elem };
    case T.UINT8:
    case T.BOOL:
      read(1, (o) => view!.getUint8(o), t.int32Data);
      return { dims, data, integer: true, elem };
    default:
      throw new UserError(`${where}: tensor '${t.name}' has element type ${onnx.TensorProto.DataType[type] ?? type}: expected float, double, int64, int32, int8, uint8 or bool`);
  }
}

function attrValue(a: onnx.IAttributeProto, where: string): AttrValue | undefined {
  const A = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case A.INT:
      return intOf(a.i as IntLike);
    case A.FLOAT:
      return a.f ?? 0;
    case A.INTS:
      return (a.ints ?? []).map((v) => intOf(v as IntLike));
    case A.FLOATS:
      return Array.from(a.floats ?? []);
    case A.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case A.TENSOR:
      return a.t ? tensorValues(a.t, where) : undefined;
    default:
      return undefined;
  }
}

function dimsOf(v: onnx.IValueInfoProto): (number | string)[] {
  const shape = v.type?.tensorType?.shape?.dim ?? [];
  return shape.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null && intOf(d.dimValue as IntLike) > 0 ? intOf(d.dimValue as IntLike) : '?'));
}

const PASS_THROUGH = new Set(['Identity', 'Dropout', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

/** Parse and describe an ONNX model (see the module comment). `label` names the file in errors. */
export function readOnnxGraph(bytes: Uint8Array, label: string): OnnxGraphInfo {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new UserError(`'${label}' is not an ONNX model (${e instanceof Error ? e.message.split('\n')[0] : String(e)}): expected a .onnx file`);
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0) throw new UserError(`'${label}' holds no ONNX graph: expected a .onnx model file`);
  const constants = new Map<string, ConstTensor>();
  for (const t of graph.initializer ?? []) constants.set(t.name ?? '', tensorValues(t, label));
  const nodes: OnnxNode[] = graph.node.map((n, i) => {
    const name = n.name || `#${i}`;
    const attrs: Record<string, AttrValue> = {};
    for (const a of n.attribute ?? []) {
      const v = attrValue(a, `${label}: node '${name}'`);
      if (v !== undefined && a.name) attrs[a.name] = v;
    }
    return { opType: n.opType ?? '', name, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs, domain: n.domain ?? '' };
  });
  for (const n of nodes) {
    if (n.opType === 'Constant' && n.attrs.value && typeof n.attrs.value === 'object' && !Array.isArray(n.attrs.value)) constants.set(n.outputs[0], n.attrs.value);
  }
  const inputs = (graph.input ?? []).filter((v) => !constants.has(v.name ?? ''));
  if (inputs.length !== 1) {
    throw new UserError(`'${label}' has ${inputs.length} graph inputs (${inputs.map((v) => v.name).join(', ')}): expected one image input`);
  }
  const inputInfo = inputs[0];
  const elem = inputInfo.type?.tensorType?.elemType;
  if (elem !== T.FLOAT) throw new UserError(`'${label}': input '${inputInfo.name}' has element type ${onnx.TensorProto.DataType[elem ?? 0]}: expected float32 images`);
  const inDims = dimsOf(inputInfo);
  if (inDims.length !== 4) throw new UserError(`'${label}': input '${inputInfo.name}' has shape [${inDims}]: expected 4 dimensions (NCHW or NHWC images)`);
  const outputInfo = (graph.output ?? [])[0];
  if (!outputInfo?.name) throw new UserError(`'${label}' declares no graph output: expected the class scores as its first output`);
  const outDims = dimsOf(outputInfo);

  // Layout: the channel axis is the one of size 1 or 3 (4 for RGBA) when only one of axes 1 and 3 is; otherwise the
  // first consumer of the input tells it (a Conv reads NCHW; a Transpose to NCHW means NHWC).
  const isCh = (d: number | string): boolean => d === 1 || d === 3 || d === 4;
  let layout: Layout | null = null;
  let layoutReason = '';
  if (isCh(inDims[1]) && !isCh(inDims[3])) [layout, layoutReason] = ['nchw', `input shape [${inDims}]`];
  else if (isCh(inDims[3]) && !isCh(inDims[1])) [layout, layoutReason] = ['nhwc', `input shape [${inDims}]`];
  else {
    const consumer = nodes.find((n) => n.inputs.includes(inputInfo.name!));
    const perm = consumer?.attrs.perm;
    if (consumer?.opType === 'Conv') [layout, layoutReason] = ['nchw', `input read by Conv '${consumer.name}'`];
    else if (consumer?.opType === 'Transpose' && Array.isArray(perm) && perm.join(',') === '0,3,1,2') [layout, layoutReason] = ['nhwc', `input transposed to NCHW by '${consumer.name}'`];
  }
  const classes = outDims.length === 2 && typeof outDims[1] === 'number' ? outDims[1] : null;

  // Output kind: walk back from the output through shape-only nodes to the node that computes it.
  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  let kind: OutputKind = 'logits';
  let outputReason = 'no final Softmax, LogSoftmax or Sigmoid';
  let p = producer.get(outputInfo.name);
  while (p && PASS_THROUGH.has(p.opType)) p = producer.get(p.inputs[0]);
  if (p?.opType === 'Softmax' || p?.opType === 'Sigmoid') [kind, outputReason] = ['probabilities', `final ${p.opType} '${p.name}'`];
  else if (p?.opType === 'LogSoftmax') [kind, outputReason] = ['log-probabilities', `final LogSoftmax '${p.name}'`];

  const metadata: Record<string, string> = {};
  for (const m of model.metadataProps ?? []) if (m.key) metadata[m.key] = m.value ?? '';
  const opset = intOf((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version as IntLike);
  return {
    nodes,
    constants,
    input: { name: inputInfo.name!, dims: inDims },
    output: { name: outputInfo.name, dims: outDims },
    layout,
    layoutReason,
    classes,
    outputKind: kind,
    outputReason,
    metadata,
    opset,
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
  };
}
