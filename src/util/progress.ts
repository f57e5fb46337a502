/**
 * Progress for long work: a redrawn bar on a TTY, periodic log lines otherwise (CI logs, pipes).
 * Writes to stderr so stdout stays clean for machine-readable output.
 */
export interface Progress {
  update(done: number, message?: string): void;
  done(message?: string): void;
  /** Erase the bar (TTY) without a closing line, for a caller that prints its own summary. */
  clear(): void;
}

/** Where progress goes: stderr, or anything that takes lines (a worker forwards them to its parent). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Minimum seconds between log lines when not on a TTY. */
  logEverySec?: number;
  stream?: ProgressStream;
  quiet?: boolean;
}

export function progress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const logEvery = (opts.logEverySec ?? 10) * 1000;
  const start = Date.now();
  let lastLog = 0;
  const line = (done: number, message?: string): string => {
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const elapsed = (Date.now() - start) / 1000;
    const eta = frac > 0 ? (elapsed * (1 - frac)) / frac : NaN;
    const etaText = Number.isFinite(eta) ? ` eta ${formatSeconds(eta)}` : '';
    return `${label} ${done}/${total} (${(frac * 100).toFixed(0)}%) ${formatSeconds(elapsed)}${etaText}${message ? ' ' + message : ''}`;
  };
  return {
    update(done, message) {
      if (opts.quiet) return;
      if (tty) {
        const frac = total > 0 ? Math.min(1, done / total) : 0;
        const width = 24;
        const filled = Math.round(frac * width);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line(done, message)}\x1b[K`);
      } else if (Date.now() - lastLog >= logEvery) {
        lastLog = Date.now();
        stream.write(line(done, message) + '\n');
      }
    },
    clear() {
      if (!opts.quiet && tty) stream.write('\r\x1b[K');
    },
    done(message) {
      if (opts.quiet) return;
      if (tty) stream.write('\r\x1b[K');
      stream.write(`${label} done in ${formatSeconds((Date.now() - start) / 1000)}${message ? ': ' + message : ''}\n`);
    },
  };
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)
    .toString()
    .padStart(2, '0')}s`;
}
