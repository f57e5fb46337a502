/** Small HTML builders shared by the report and the compare view. Every user string is escaped by the caller with `h`. */
import { epsAs255, escapeHtml as h, points, sig3 } from './format';

export type Cell = string | { html: string; cls?: string; style?: string; title?: string };

/** Header cells are HTML (callers escape user text), so a header can break a line with <br>. */
/** The start of a self-contained report page, up to and including `<body>`; `extraHead` goes before `</head>`. */
export function pageStart(title: string, opulabVersion: string, css: string, extraHead = ''): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="opulab ${h(opulabVersion)}">
<title>${h(title)}</title>
<style>${css}</style>
${extraHead}</head>
<body>
`;
}

export function table(headers: string[], rows: Cell[][], cls = ''): string {
  const th = headers.map((x) => `<th>${x}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        '<tr>' +
        r
          .map((c) =>
            typeof c === 'string'
              ? `<td>${c}</td>`
              : `<td${c.cls ? ` class="${c.cls}"` : ''}${c.style ? ` style="${c.style}"` : ''}${c.title ? ` title="${h(c.title)}"` : ''}>${c.html}</td>`,
          )
          .join('') +
        '</tr>',
    )
    .join('\n');
  return `<div class="table-wrap"><table class="${cls}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** Plain-text headers, escaped. */
export function headers(...names: string[]): string[] {
  return names.map((n) => h(n));
}

export function section(id: string, title: string, body: string, intro = ''): string {
  return `<section id="${id}"><h2>${h(title)}</h2>${intro ? `<p class="intro">${intro}</p>` : ''}\n${body}\n</section>`;
}

/** Background for an accuracy cell: red (0%) through yellow to green (100%). */
export function heat(acc: number): string {
  const hue = Math.round(Math.max(0, Math.min(1, acc)) * 120);
  return `background:hsl(${hue},70%,85%)`;
}

/** An eps in a cell: "8/255" with the decimal beside it, muted. */
export function epsHtml(eps: number): string {
  return `${h(epsAs255(eps))} <span class="muted">${h(sig3(eps))}</span>`;
}

/** An eps as a column header: "8/255" over the decimal. */
export function epsHeader(eps: number, prefix = ''): string {
  return `${prefix ? `${h(prefix)} ` : ''}${h(epsAs255(eps))}<br><span class="muted small">${h(sig3(eps))}</span>`;
}

export const MUTED_DASH = '<span class="muted">—</span>';

/** A signed change in points, coloured: green when the change helps the model, red when it hurts. */
export function deltaHtml(delta: number | null): Cell {
  if (delta === null || !Number.isFinite(delta)) return { html: MUTED_DASH, cls: 'num' };
  const text = points(delta);
  const cls = Math.abs(delta) < 0.0005 ? 'num delta zero' : delta > 0 ? 'num delta up' : 'num delta down';
  return { html: text, cls };
}
