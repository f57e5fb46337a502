/** The ONNX Runtime profile summary of `node dist/src/bench/ort-layout.js --profile` (src/bench/ort-layout.ts). */
import { summarizeProfile } from '../src/bench/ort-layout';

describe('ort-layout profile summary', () => {
  it('averages node times per operator and per node over the runs after the first', () => {
    const run = (ts: number, dur: number) => ({ cat: 'Session', name: 'model_run', ts, dur });
    const node = (name: string, op: string, ts: number, dur: number) => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: op } });
    const s = summarizeProfile([
      run(0, 100),
      node('conv1', 'Conv', 10, 999), // the warm-up run: left out
      run(200, 100),
      node('conv1', 'Conv', 210, 40),
      node('conv2', 'Conv', 250, 20),
      node('pool1', 'MaxPool', 270, 6),
      { cat: 'Node', name: 'conv1_fence_before', ts: 209, dur: 1, args: { op_name: 'Conv' } },
      run(400, 100),
      node('conv1', 'Conv', 410, 60),
      node('conv2', 'Conv', 450, 20),
      node('pool1', 'MaxPool', 470, 2),
    ]);
    expect(s.runs).toBe(2);
    expect(s.byOp).toEqual([
      ['Conv', 70],
      ['MaxPool', 4],
    ]);
    expect(s.byNode).toEqual([
      ['conv1', 50],
      ['conv2', 20],
      ['pool1', 4],
    ]);
  });
});
