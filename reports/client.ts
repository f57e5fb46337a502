/**
 * The browser side of the report, as source text inlined into the HTML (the project's TypeScript lib has
 * no DOM types, so this is plain ES5-style JavaScript in a string). It reads the chart specs from the
 * JSON data block, draws them with Chart.js, wires the eps-axis toggle, and writes a render status
 * (charts drawn, non-blank canvases, errors) into #render-status for the end-to-end test.
 * It never writes data into innerHTML: labels go to canvas text or textContent only.
 */

/** Runs first (in <head>): collects errors, including a Chart.js load failure, into the page. */
export const ERROR_CAPTURE_SCRIPT = `
window.__reportErrors = [];
window.addEventListener('error', function (e) {
  window.__reportErrors.push(String((e && e.message) || e));
  if (window.__showReportError) window.__showReportError(String((e && e.message) || e));
});
`;

export const CLIENT_SCRIPT = `
(function () {
  var status = document.getElementById('render-status');
  var errorBox = document.getElementById('report-errors');
  function showError(msg) {
    errorBox.hidden = false;
    var li = document.createElement('li');
    li.textContent = msg;
    errorBox.querySelector('ul').appendChild(li);
    status.setAttribute('data-errors', String(errorBox.querySelectorAll('li').length));
  }
  window.__showReportError = showError;
  (window.__reportErrors || []).forEach(showError);
  status.setAttribute('data-errors', String((window.__reportErrors || []).length));

  // Per-row toggles: one button opens or closes every row's details; printing opens them all.
  function setDetails(root, open) {
    var all = root.querySelectorAll('details');
    for (var j = 0; j < all.length; j++) all[j].open = open;
  }
  var toggles = document.querySelectorAll('button.toggle-all');
  for (var t = 0; t < toggles.length; t++) {
    toggles[t].addEventListener('click', function (e) {
      var btn = e.currentTarget, root = document.getElementById(btn.getAttribute('data-target'));
      var open = btn.getAttribute('aria-pressed') !== 'true';
      setDetails(root, open);
      btn.setAttribute('aria-pressed', String(open));
      btn.textContent = open ? 'hide parameters' : 'show all parameters';
    });
  }
  var openedForPrint = [];
  window.addEventListener('beforeprint', function () {
    var all = document.querySelectorAll('details:not([open])');
    for (var j = 0; j < all.length; j++) { all[j].open = true; openedForPrint.push(all[j]); }
  });
  window.addEventListener('afterprint', function () {
    openedForPrint.forEach(function (d) { d.open = false; });
    openedForPrint = [];
  });

  var data = JSON.parse(document.getElementById('report-data').textContent);
  if (typeof Chart === 'undefined') { showError('Chart.js did not load; charts are missing'); status.setAttribute('data-ready', '1'); return; }

  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';
  Chart.defaults.font.size = 12;
  Chart.defaults.color = '#333';

  var axisMode = 'pixel';
  function fmt(v) { var n = Number(v); return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(3))); }
  function as255(v) { var k = v * 255, r = Math.round(k); return (Math.abs(k - r) < 0.02 ? String(r) : k.toFixed(1)) + '/255'; }
  function pct(v) { return (v * 100).toFixed(1) + '%'; }

  function datasetsFor(spec) {
    return spec.datasets.map(function (d) {
      var pts = spec.xKind === 'eps'
        ? d.data.map(function (p) { return { x: axisMode === 'normalized' && p.xn !== undefined ? p.xn : p.x, y: p.y }; })
        : d.data.map(function (p) {
            // a missing bar (NaN in the spec) arrives as null: JSON has no NaN
            if (p === null || typeof p === 'number') return p === null || isNaN(p) ? null : p;
            return { x: p.x, y: p.y };
          });
      return {
        label: d.label, data: pts, borderColor: d.color, backgroundColor: spec.type === 'bar' ? d.color + 'cc' : d.color,
        borderWidth: spec.type === 'bar' ? 0 : (d.bold ? 3.5 : 2), borderDash: d.dashed ? [6, 4] : undefined,
        pointRadius: d.reference ? 0 : d.pointsOnly ? 6 : (spec.type === 'line' ? 3 : 0), pointStyle: d.pointsOnly ? 'rectRot' : 'circle',
        showLine: !d.pointsOnly, tension: 0, spanGaps: true, clip: 10
      };
    });
  }

  function xScale(spec) {
    var title = { display: true, text: spec.xTitle };
    if (spec.xKind === 'eps') {
      // Pixel mode: ticks at multiples of k/255 (k a power of two), labelled "k/255" over the decimal.
      var max = 0;
      spec.datasets.forEach(function (d) { d.data.forEach(function (p) { if (p && p.x > max) max = p.x; }); });
      var step = 1 / 255;
      while (max / step > 8) step *= 2;
      var ticks = axisMode === 'normalized'
        ? { maxTicksLimit: 8, maxRotation: 0, callback: function (v) { return fmt(v); } }
        : { stepSize: step, maxRotation: 0, autoSkip: false, callback: function (v) { return [as255(v), fmt(v)]; } };
      // Eps values are often rounded (0.031373 for 8/255): allow 1% slack before adding another step.
      var nSteps = Math.max(1, Math.ceil(max / step - 0.01));
      var xmax = axisMode === 'normalized' ? undefined : nSteps * step;
      var fixedTicks = axisMode === 'normalized' ? undefined : function (axis) {
        var t = [];
        for (var i = 0; i <= nSteps; i++) t.push({ value: i * step });
        axis.ticks = t;
      };
      return { type: 'linear', min: 0, max: xmax, afterBuildTicks: fixedTicks, title: { display: true, text: axisMode === 'normalized' ? 'eps (normalized units, L-inf)' : 'eps (pixel units of [0,1] images, L-inf)' }, ticks: ticks };
    }
    if (spec.xKind === 'queries') return { type: 'logarithmic', title: title, ticks: { callback: function (v) { var l = Math.log10(v); return Math.abs(l - Math.round(l)) < 1e-9 ? String(v) : ''; } } };
    return { type: 'category', labels: spec.labels, title: title };
  }

  function build(spec) {
    var canvas = document.getElementById('chart-' + spec.id);
    if (!canvas) throw new Error('no canvas for chart ' + spec.id);
    var yTicks = spec.yPercent ? { callback: function (v) { return Math.round(v * 100) + '%'; } } : {};
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.xKind === 'category' ? spec.labels : undefined, datasets: datasetsFor(spec) },
      options: {
        responsive: true, maintainAspectRatio: false, devicePixelRatio: Math.max(window.devicePixelRatio || 1, 2),
        plugins: {
          title: { display: true, text: spec.title, font: { size: 13, weight: '600' } },
          legend: { position: 'bottom', labels: { boxWidth: 14, usePointStyle: false } },
          tooltip: { callbacks: { label: function (ctx) {
            var y = ctx.parsed.y; var v = spec.yPercent ? pct(y) : Number(y).toFixed(3);
            var x = spec.xKind === 'eps' ? (' at eps ' + (axisMode === 'pixel' ? as255(ctx.parsed.x) + ' (' + fmt(ctx.parsed.x) + ')' : fmt(ctx.parsed.x) + ' normalized')) : '';
            return ctx.dataset.label + ': ' + v + x;
          } } }
        },
        scales: { x: xScale(spec), y: { min: spec.yPercent ? 0 : undefined, max: spec.yPercent ? 1 : undefined, title: { display: true, text: spec.yTitle }, ticks: yTicks } }
      }
    });
    chart.$spec = spec;
    return chart;
  }

  var charts = [];
  data.charts.forEach(function (spec) {
    try { charts.push(build(spec)); } catch (e) { showError('chart ' + spec.id + ': ' + (e && e.message)); }
  });

  function setAxis(mode) {
    axisMode = mode;
    charts.forEach(function (c) {
      if (c.$spec.xKind !== 'eps') return;
      c.data.datasets = datasetsFor(c.$spec);
      c.options.scales.x = xScale(c.$spec);
      c.update('none');
    });
  }
  var radios = document.querySelectorAll('input[name="eps-axis"]');
  var anyNormalized = data.charts.some(function (s) { return s.xKind === 'eps' && s.normalizationStd; });
  for (var i = 0; i < radios.length; i++) {
    if (radios[i].value === 'normalized' && !anyNormalized) radios[i].disabled = true;
    radios[i].addEventListener('change', function (e) { setAxis(e.target.value); });
  }

  // Self-check: a canvas counts as drawn when enough of its pixels are painted.
  var drawn = 0;
  charts.forEach(function (c) {
    var cv = c.canvas, ctx = cv.getContext('2d'), painted = 0;
    if (!cv.width || !cv.height) { cv.setAttribute('data-painted', '0'); return; } // hidden (display:none)
    var px = ctx.getImageData(0, 0, cv.width, cv.height).data;
    for (var k = 3; k < px.length; k += 4) if (px[k] !== 0) painted++;
    var frac = painted / (cv.width * cv.height);
    cv.setAttribute('data-painted', frac.toFixed(4));
    if (frac > 0.01) drawn++;
  });
  status.setAttribute('data-charts', String(data.charts.length));
  status.setAttribute('data-built', String(charts.length));
  status.setAttribute('data-drawn', String(drawn));
  status.setAttribute('data-ready', '1');
})();
`;
