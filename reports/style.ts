/** The report's stylesheet: light theme, readable typography, print-friendly (@media print). */
export const REPORT_CSS = `
:root { --fg:#1d2329; --muted:#66707a; --line:#dde2e7; --bg:#ffffff; --soft:#f5f7f9; --accent:#0b5cad;
  --pass:#1b7f3b; --pass-bg:#e3f4e8; --warn:#8a5a00; --warn-bg:#fff2d6; --fail:#b3261e; --fail-bg:#fde4e1; --skip:#56606a; --skip-bg:#eceff2; }
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header { padding: 28px 40px 0; border-bottom: 1px solid var(--line); background: var(--soft); }
h1 { margin: 0 0 4px; font-size: 1.7rem; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 1.3rem; margin: 0 0 8px; padding-top: 8px; font-weight: 650; }
h3 { font-size: 1.02rem; margin: 18px 0 6px; font-weight: 600; }
.subtitle { margin: 0; color: var(--muted); }
.checks-line { margin: 6px 0 10px; }
nav { display: flex; flex-wrap: wrap; gap: 2px 4px; padding: 6px 0 10px; }
nav a { color: var(--accent); text-decoration: none; padding: 3px 9px; border-radius: 6px; font-size: .93rem; }
nav a:hover { background: #e4edf7; }
main { padding: 8px 40px 40px; max-width: 1500px; }
section { padding: 18px 0 22px; border-bottom: 1px solid var(--line); }
.intro { color: var(--muted); margin: 0 0 12px; max-width: 80ch; }
.muted { color: var(--muted); }
.small { font-size: .8em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .9rem; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.center { text-align: center; }
table.summary td, table.matrix td { text-align: right; white-space: nowrap; }
table.summary td:first-child, table.matrix td:first-child { text-align: left; }
table.runs { font-size: .8rem; }
table.runs td { white-space: nowrap; }
table.kv td:first-child { white-space: nowrap; }
.badge { display: inline-block; min-width: 58px; text-align: center; padding: 1px 8px; border-radius: 10px;
  font-size: .78rem; font-weight: 650; text-transform: uppercase; letter-spacing: .03em; }
.badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.fail { color: var(--fail); background: var(--fail-bg); }
.badge.skipped { color: var(--skip); background: var(--skip-bg); }
.counts .badge { min-width: 0; margin-right: 4px; }
ul.checks { list-style: none; padding: 0; margin: 0; }
li.check { padding: 6px 10px; border-left: 4px solid var(--line); margin: 4px 0; background: #fbfcfd; }
li.check.pass { border-left-color: var(--pass); }
li.check.warn { border-left-color: #d99a00; background: #fffbf0; }
li.check.fail { border-left-color: var(--fail); background: #fff6f5; }
li.check strong { display: inline-block; min-width: 34px; }
td.num, table.summary td.num { text-align: right; white-space: nowrap; }
table.headline td:last-child { white-space: normal; min-width: 16em; }
table.headline th, table.summary th { vertical-align: bottom; }
table.runs td.more, table.models td.more { white-space: normal; }
table.models td { white-space: nowrap; }
details.row-more summary { cursor: pointer; color: var(--accent); font-size: .9em; white-space: nowrap; }
details.row-more dl { display: grid; grid-template-columns: max-content minmax(8em, 26em); gap: 1px 10px; margin: 4px 0 2px; }
details.row-more dt { color: var(--muted); }
details.row-more dd { margin: 0; overflow-wrap: anywhere; }
table.kv td { overflow-wrap: anywhere; }
table.kv td:last-child { max-width: 70ch; }
.table-tools { margin: 0 0 4px; }
.table-tools button { font: inherit; font-size: .85rem; padding: 2px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--soft); color: var(--accent); cursor: pointer; }
.headline-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 14px; }
.headline-card { border: 1px solid var(--line); border-left: 5px solid var(--accent); border-radius: 8px; padding: 4px 16px 10px; background: #fbfcfe; min-width: 0; }
.headline-card h3 { margin-top: 10px; }
p.lead { font-size: 1.02rem; margin: 4px 0 8px; max-width: 95ch; }
.tag { display: inline-block; font-size: .78rem; font-weight: 500; color: var(--muted); border: 1px solid var(--line); border-radius: 10px; padding: 0 8px; margin-left: 6px; vertical-align: middle; }
td.delta.up { color: var(--pass); font-weight: 600; }
td.delta.down { color: var(--fail); font-weight: 600; }
td.delta.zero { color: var(--muted); }
ul.checks.compact li.check { padding: 3px 8px; font-size: .9rem; }
.check-note { display: block; color: var(--muted); font-size: .88em; margin-top: 2px; }
.toggle { margin: 4px 0 10px; font-size: .93rem; }
ul.sides { list-style: none; padding: 0; margin: 4px 0 6px; }
ul.sides code { font-size: .9em; overflow-wrap: anywhere; }
.changed { color: var(--warn); font-weight: 600; }
td.nowrap { white-space: nowrap; }
td.check-text { min-width: 22em; max-width: 60ch; }
table.compare td:first-child { max-width: 34em; }
table.checks-compare { width: 100%; }
.toggle label { margin-left: 12px; cursor: pointer; }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 14px; }
.chart-grid.wide { grid-template-columns: 1fr; }
figure { margin: 0; }
figure.chart { border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: #fff; break-inside: avoid; }
.chart-box { position: relative; height: 320px; }
.chart-grid.wide .chart-box { height: 340px; max-width: 1100px; }
.matrix-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 6px 18px; }
table.matrix th { white-space: normal; max-width: 190px; }
.examples { display: flex; flex-wrap: wrap; gap: 18px; }
.example { display: grid; grid-template-columns: repeat(3, 136px); gap: 6px; border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
.example p { grid-column: 1 / -1; margin: 2px 0 0; font-size: .85rem; }
.example img { image-rendering: pixelated; display: block; border: 1px solid var(--line); }
.example figcaption { font-size: .8rem; color: var(--muted); }
.noimg { width: 128px; height: 128px; display: flex; align-items: center; justify-content: center; background: var(--soft); color: var(--muted); font-size: .8rem; }
.errors { margin: 12px 40px; padding: 10px 14px; border: 1px solid var(--fail); background: var(--fail-bg); border-radius: 6px; }
.notice { margin: 12px 40px; padding: 10px 14px; border: 1px solid #d99a00; background: var(--warn-bg); border-radius: 6px; }
footer { padding: 16px 40px 30px; color: var(--muted); font-size: .85rem; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  html { font-size: 10pt; }
  body { line-height: 1.35; }
  details.row-more summary { display: none; }
  details.row-more::details-content { content-visibility: visible; }
  .headline-grid { grid-template-columns: 1fr; }
  .headline-card { break-inside: avoid; background: none; }
  section#headline { break-after: page; }
  .matrix-grid { grid-template-columns: 1fr; }
  .chart-box { height: 240px; }
  header { background: none; padding: 0 0 6px; }
  main { padding: 0; max-width: none; }
  .no-print, nav { display: none !important; }
  section { break-inside: auto; padding: 10px 0; }
  h2, h3 { break-after: avoid; }
  tr, figure.chart, .example, li.check { break-inside: avoid; }
  .chart-grid { grid-template-columns: 1fr 1fr; }
  .chart-grid.wide { grid-template-columns: 1fr; }
  canvas { max-width: 100% !important; height: auto !important; }
  .table-wrap { overflow: visible; }
  table.runs, table.models { font-size: 7.5pt; }
  table.runs td, table.models td { white-space: normal; }
  details.row-more dl { display: block; margin: 0; }
  details.row-more dt, details.row-more dd { display: inline; }
  details.row-more dt { font-style: italic; margin-right: .3em; }
  details.row-more dd::after { content: " · "; color: var(--muted); }
  th, td { padding: 2px 5px; }
  table { font-size: 8.5pt; }
  table.summary td:first-child, table.headline td:last-child { white-space: normal; }
  table.summary th { white-space: normal; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  footer { padding: 8px 0; }
}
`;
