/**
 * How the report shows a model's defense: its name, its parameters and, for a plugin, the file and a short
 * sha256 (results schema /2 `defenseInfo`; /1 files carry only the name).
 */
import * as path from 'path';
import type { ModelRecord } from '../src/results/schema';
import { escapeHtml as h } from './format';

/** HTML cell: the name in bold-free text, parameters and source muted, full path and hash in the tooltip. */
export function defenseCell(m: ModelRecord | undefined): string {
  const info = m?.defenseInfo;
  if (!info) return h(m?.defense ?? '—');
  const params = Object.entries(info.params ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  const head = info.head && info.head !== 'none' ? ` on ${info.head} head` : '';
  const source = info.source === 'file' ? `plugin ${path.basename(info.path ?? '?')}` : '';
  const title = info.source === 'file' ? `${info.path ?? ''}${info.sha256 ? ` sha256 ${info.sha256}` : ''}` : 'built-in';
  const extra = [params.join(', '), head.trim(), source].filter(Boolean).join(' · ');
  return `<span title="${h(title)}">${h(info.name)}</span>${extra ? ` <span class="muted">${h(extra)}</span>` : ''}`;
}

/** Record keys the defense cell already shows (kept out of a generic "details" column). */
export const DEFENSE_KEYS = ['defense', 'defenseInfo'];
