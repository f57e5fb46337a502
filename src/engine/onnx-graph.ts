/**
 * A small ONNX graph builder on the `onnx-proto` protobuf definitions: float32 initializers, nodes with
 * attributes, graph inputs/outputs with symbolic batch dimensions, and model serialization with metadata
 * properties. Names are made unique by the builder; every method returns the name of the value it produced.
 */
import { onnx } from 'onnx-proto';

/** ONNX opset the builder targets (ORT 1.30 supports it fully; every op used here exists in it). */
export const OPSET = 17;
/** ONNX IR version of opset 17. */
export const IR_VERSION = 8;

/** A JS number is an INT attribute when it is an integer, else FLOAT; `{ float }` forces FLOAT (e.g. 0 or 1e38). */
export type AttrValue = number | number[] | string | { ints: number[] } | { floats: number[] } | { float: number };

export interface NodeAttrs {
  [name: string]: AttrValue;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if ('ints' in v) return { name, type: A.INTS, ints: v.ints };
  if ('float' in v) return { name, type: A.FLOAT, f: v.float };
  return { name, type: A.FLOATS, floats: v.floats };
}

/** A dimension: a fixed size or a symbolic name (e.g. 'N' for the batch). */
export type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly scalars = new Map<string, string>();
  /** Float values held in initializers (for reporting the graph size). */
  parameterCount = 0;

  /** A fresh value name starting with `base`. */
  name(base: string): string {
    let n = base.replace(/[^A-Za-z0-9_/.:-]/g, '_');
    if (this.used.has(n)) {
      let i = 1;
      while (this.used.has(`${n}_${i}`)) i++;
      n = `${n}_${i}`;
    }
    this.used.add(n);
    return n;
  }

  input(base: string, dims: Dim[], elemType: 'float' | 'int64' = 'float'): string {
    const n = this.name(base);
    this.inputs.push(valueInfo(n, elemType === 'float' ? FLOAT : INT64, dims));
    return n;
  }

  /** Declare `value` a graph output under the name `base` (an Identity node renames it). */
  output(value: string, base: string, dims: Dim[]): string {
    const n = this.name(base);
    this.nodes.push({ opType: 'Identity', input: [value], output: [n], name: this.name(`out_${base}`) });
    this.outputs.push(valueInfo(n, FLOAT, dims));
    return n;
  }

  /** A float32 initializer (a constant weight). */
  float(base: string, data: Float32Array, dims: number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`initializer '${base}': ${data.length} values for shape [${dims}]`);
    const n = this.name(base);
    // rawData holds the little-endian bytes (copied: the source array may be a view into a larger buffer).
    this.initializers.push({ name: n, dims, dataType: FLOAT, rawData: new Uint8Array(data.slice().buffer) });
    this.parameterCount += size;
    return n;
  }

  /** An int64 initializer (shapes, axes, indices). */
  int64(base: string, values: number[]): string {
    const n = this.name(base);
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name: n, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) });
    return n;
  }

  /** A float scalar constant (shared between uses of the same value). */
  scalar(v: number): string {
    const key = String(Math.fround(v));
    let n = this.scalars.get(key);
    if (!n) {
      n = this.float(`c_${key}`, new Float32Array([v]), []);
      this.scalars.set(key, n);
    }
    return n;
  }

  /** Add a node with one output; returns the output name. */
  op(opType: string, inputs: string[], attrs: NodeAttrs = {}, base?: string): string {
    return this.opN(opType, inputs, 1, attrs, base)[0];
  }

  /** Add a node with `count` outputs. */
  opN(opType: string, inputs: string[], count: number, attrs: NodeAttrs = {}, base?: string): string[] {
    const outs = Array.from({ length: count }, (_, i) => this.name(`${base ?? opType.toLowerCase()}${count > 1 ? `_${i}` : ''}`));
    this.nodes.push({
      opType,
      input: inputs,
      output: outs,
      name: this.name(`n_${outs[0]}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Serialize as an ONNX ModelProto with `metadata` as its metadata_props. */
  serialize(graphName: string, metadata: Record<string, string> = {}, producerVersion = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'opulab',
      producerVersion,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
