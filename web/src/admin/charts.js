// Small SVG charts of the admin console, drawn by hand (no chart library):
// an area chart, a stacked bar chart and horizontal bars. Every mark has a
// <title> so hovering shows its value.
import { html } from '../lib/ui.js';
import { fmtHour } from '../lib/format.js';

/** niceMax rounds a maximum up so that its quarters are round numbers (1, 2 or 5 times a power of ten). */
export function niceMax(v) {
  if (!(v > 0)) return 4;
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return Math.max(4, 4 * m * p);
  return 40 * p;
}

const W = 640;
const H = 220;
const PAD = { l: 40, r: 12, t: 12, b: 28 };

// showLabel labels every few buckets and always the newest one (the hour
// now running), leaving out a regular label that would crowd it.
function showLabel(i, n, every) {
  return i === n - 1 || (i % every === 0 && n - 1 - i >= every / 2);
}

function axes(max, labels, n, multiDay) {
  const ih = H - PAD.t - PAD.b;
  const iw = W - PAD.l - PAD.r;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ y: PAD.t + ih * (1 - f), v: Math.round(max * f) }));
  const every = Math.max(1, Math.ceil(n / 8));
  return html`<g class="axes">
    ${ticks.map((tk) => html`<line x1=${PAD.l} x2=${W - PAD.r} y1=${tk.y} y2=${tk.y} class="grid" />
      <text x=${PAD.l - 6} y=${tk.y + 4} text-anchor="end" class="tick">${tk.v}</text>`)}
    ${labels.map((at, i) => (showLabel(i, n, every) ? html`<text x=${PAD.l + (iw * (i + 0.5)) / n} y=${H - 8} text-anchor="middle" class="tick">${fmtHour(at, multiDay && i % (every * 3) === 0)}</text>` : null))}
  </g>`;
}

function spansDays(points) {
  if (points.length < 2) return false;
  return Date.parse(points[points.length - 1].at) - Date.parse(points[0].at) > 24 * 3600 * 1000;
}

/** AreaChart draws [{at, count}] as a filled line. */
export function AreaChart({ points, color = '#1b5fd6', label, testid }) {
  const n = points.length;
  const max = niceMax(Math.max(0, ...points.map((p) => p.count)));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (i) => PAD.l + (iw * (i + 0.5)) / n;
  const y = (v) => PAD.t + ih * (1 - v / max);
  const line = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.count).toFixed(1)}`).join(' ');
  const area = n ? `${line} L${x(n - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z` : '';
  const gid = 'g' + (testid || 'area');
  return html`<svg viewBox=${`0 0 ${W} ${H}`} class="chart" role="img" aria-label=${label} data-testid=${testid}>
    <defs><linearGradient id=${gid} x1="0" x2="0" y1="0" y2="1">
      <stop offset="0%" stop-color=${color} stop-opacity="0.35" /><stop offset="100%" stop-color=${color} stop-opacity="0.02" /></linearGradient></defs>
    ${axes(max, points.map((p) => p.at), n, spansDays(points))}
    ${n ? html`<path d=${area} fill=${`url(#${gid})`} /><path d=${line} fill="none" stroke=${color} stroke-width="2.5" stroke-linejoin="round" />` : null}
    ${points.map((p, i) => html`<circle cx=${x(i)} cy=${y(p.count)} r=${n > 48 ? 0 : 3} fill="#fff" stroke=${color} stroke-width="2">
      </circle><rect x=${x(i) - iw / n / 2} y=${PAD.t} width=${iw / n} height=${ih} fill="transparent"><title>${fmtHour(p.at, true)}: ${p.count}</title></rect>`)}
  </svg>`;
}

/** StackedBars draws [{at, valid, invalid}] as stacked columns. */
export function StackedBars({ points, colors = ['#12a150', '#d92d20'], names = ['valid', 'invalid'], label, testid }) {
  const n = points.length;
  const max = niceMax(Math.max(0, ...points.map((p) => (p.valid || 0) + (p.invalid || 0))));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const bw = Math.max(1, (iw / Math.max(n, 1)) * 0.7);
  const y = (v) => (ih * v) / max;
  return html`<svg viewBox=${`0 0 ${W} ${H}`} class="chart" role="img" aria-label=${label} data-testid=${testid}>
    ${axes(max, points.map((p) => p.at), n, spansDays(points))}
    ${points.map((p, i) => {
      const cx = PAD.l + (iw * (i + 0.5)) / n;
      const hv = y(p.valid || 0);
      const hi = y(p.invalid || 0);
      const base = PAD.t + ih;
      return html`<g><title>${fmtHour(p.at, true)} — ${names[0]}: ${p.valid || 0}, ${names[1]}: ${p.invalid || 0}</title>
        <rect x=${cx - bw / 2} y=${base - hv} width=${bw} height=${hv} fill=${colors[0]} rx="2" />
        <rect x=${cx - bw / 2} y=${base - hv - hi} width=${bw} height=${hi} fill=${colors[1]} rx="2" /></g>`;
    })}
  </svg>`;
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
