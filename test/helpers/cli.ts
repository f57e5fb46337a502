/** The CLI run in this process (main(argv) returns the exit code) with stdout and stderr captured. */
import { main } from '../../src/cli/main';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Run `opulab ARGS` in this process; what it writes to stdout and stderr is captured, not shown. */
export async function runCli(args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}
