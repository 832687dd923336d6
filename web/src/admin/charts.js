// The admin console's charts. Time series (issuance, verifications by
// outcome) are drawn by uPlot on a canvas, with axes labelled in China
// Standard Time and text no smaller than 12 px; the horizontal bars of
// counts by reason, city and channel are plain HTML, so their labels are
// text the page's font settings reach.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { html } from '../lib/ui.js';
import { fmtHour } from '../lib/format.js';

/** AXIS_FONT_PX is the size of the charts' axis text, in CSS pixels. */
export const AXIS_FONT_PX = 13;
const FONT = `${AXIS_FONT_PX}px system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif`;
const INK = '#3d4757';
const GRID = '#e6ebf2';

/** cst reads a Unix time in seconds as China Standard Time for uPlot's axis. */
const cst = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Shanghai');

/**
 * TimeChart draws series over hourly buckets with uPlot.
 *   xs      bucket starts, Unix seconds
 *   series  [{label, color, values, stack?}]; stacked series are drawn as
 *           stacked bars (in order, bottom first), the others as lines
 *   label   the chart's accessible name
 */
export function TimeChart({ xs, series, label, yLabel, xLabel, testid, height = 240 }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const stacked = series.some((s) => s.stack);
    // Stacked bars: each series is drawn at its running total, the top
    // one first so that the lower ones paint over it; the legend and the
    // cursor still show each series' own count.
    const data = [xs];
    const shown = [];
    if (stacked) {
      const totals = series.map((_, i) => xs.map((__, j) => series.slice(0, i + 1).reduce((sum, s) => sum + (s.values[j] || 0), 0)));
      for (let i = series.length - 1; i >= 0; i--) {
        data.push(totals[i]);
        shown.push(series[i]);
      }
    } else {
      for (const s of series) {
        data.push(s.values);
        shown.push(s);
      }
    }
    const bars = uPlot.paths.bars({ size: [0.7, 40], align: 0 });
    const opts = {
      width: Math.max(280, el.clientWidth || 600),
      height,
      tzDate: cst,
      cursor: { drag: { x: false, y: false }, points: { show: !stacked } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
      axes: [
        { label: xLabel, labelSize: AXIS_FONT_PX + 8, labelFont: FONT, font: FONT, stroke: INK, grid: { stroke: GRID }, ticks: { stroke: GRID },
          // 24-hour China Standard Time; midnight carries the date.
          values: (u, splits) => splits.map((ts) => (fmtHour(ts * 1000) === '00:00' ? fmtHour(ts * 1000, true) : fmtHour(ts * 1000))) },
        { label: yLabel, labelSize: AXIS_FONT_PX + 8, labelFont: FONT, font: FONT, stroke: INK, grid: { stroke: GRID }, ticks: { stroke: GRID }, size: 48,
          values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) },
      ],
      series: [
        { label: xLabel, value: (u, ts) => (ts == null ? '—' : fmtHour(ts * 1000, true)) },
        ...shown.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: stacked ? s.color : s.color + '22',
          width: stacked ? 0 : 2,
          paths: stacked ? bars : undefined,
          points: { show: false },
          value: (u, v, si, idx) => (idx == null ? '—' : String(s.values[idx] ?? 0)),
        })),
      ],
    };
    const chart = new uPlot(opts, data, el);
    // The sizes the chart really draws its axis text at (CSS px), as uPlot
    // keeps them after scaling for the screen, for anyone checking them.
    const sizes = chart.axes.flatMap((a) => [a.font, a.labelFont]).map((f) => (Array.isArray(f) ? f[2] : parseFloat(f)));
    el.dataset.axisFontPx = String(Math.min(...sizes));
    const canvas = el.querySelector('canvas');
    if (canvas) {
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', label);
    }
    const resize = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - chart.width) > 4) chart.setSize({ width: Math.max(280, w), height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [xs.join(','), JSON.stringify(series), label, yLabel, xLabel, height]);
  return html`<div class="uchart" ref=${box} data-testid=${testid}></div>`;
}

/** HBars draws [{label, value}] as horizontal bars, largest first. */
export function HBars({ items, color = '#1b5fd6', testid, max: maxItems = 10 }) {
  const rows = [...items].sort((a, b) => b.value - a.value).slice(0, maxItems);
  const max = Math.max(1, ...rows.map((r) => r.value));
  const total = rows.reduce((s, r) => s + r.value, 0) || 1;
  return html`<div class="hbars" data-testid=${testid}>
    ${rows.map((r) => html`<div class="hbar" title=${`${r.label}: ${r.value}`}>
      <div class="hbar-label">${r.label}</div>
      <div class="hbar-track"><span style=${`width:${(r.value / max) * 100}%;background:${r.color || color}`}></span></div>
      <div class="hbar-value">${r.value}<small>${Math.round((r.value / total) * 100)}%</small></div>
    </div>`)}
  </div>`;
}
