// The admin console (/admin): issuance and verification dashboard,
// certificate search and revocation, the audit log and its chain check,
// terminals, staff and issuer keys.
//
// Shapes this console expects from the server, beyond API.md's tables:
//
//   GET /api/v1/admin/stats?from=RFC3339&to=RFC3339&bucket=hour →
//     { "from": "...", "to": "...", "bucket": "hour",
//       "issuance":      [{"at": RFC3339 hour start, "count": n}],
//       "verifications": [{"at": RFC3339 hour start, "valid": n, "invalid": n}],
//       "failures":      [{"reason": "code_expired", "count": n}],   // verification reasons
//       "cities":        [{"code": "110100", "name": "北京市", "count": n}],
//       "channels":      [{"channel": "app"|"window"|"kiosk", "count": n}],
//       "applicants":    [{"applicant": "guest"|"account", "count": n}],   // app certificates only
//       "officers":      [{"id", "username", "station_code", "slips": n}] }
//     Hours with nothing may be left out; the console fills them with zeros.
//   GET /api/v1/admin/certificates?id_number=&status=&from=&to= →
//     { "certificates": [certificate] } where certificate is API.md's shape,
//     (with "channel": app, window or kiosk), optionally with
//     "holder": {"name_masked", "id_number_masked"} and
//     "revoked_at", "revocation_reason".
//   POST /api/v1/admin/certificates/{id}/revoke {"reason"} → { "certificate" }
//   GET /api/v1/admin/audit?after=ID&limit=N →
//     { "entries": [{"id", "at", "actor", "action", "object", "detail"}] }
//     oldest first, ids increasing; "after" is the last id already shown.
//     "detail" may be a string or an object (shown as JSON).
//   GET /api/v1/admin/audit/verify → { "ok": bool, "entries": n, "first_bad"?: id }
//   POST /api/v1/admin/terminals {"name", "station_code", "offline", "kind"} → 201 { "terminal", "api_key" }
//   GET /api/v1/admin/terminals → { "terminals": [{"id", "name", "station_code", "offline", "kind", "created_at", "revoked_at"}] }
//   POST /api/v1/admin/terminals/{id}/revoke → 200 { "terminal" } (any 2xx does)
//   POST /api/v1/admin/staff {"username", "password", "role", "station_code"?} → 201 { "staff": {...} } (any 2xx does)
//   GET /api/v1/admin/staff → { "staff": [{"id", "username", "role", "station_code"}] }
//   POST /api/v1/admin/keys/rotate → 2xx (body ignored; the key list is reloaded)
//   GET /.well-known/tempid/keys → { "keys": [{"kid", "alg", "public_key", "not_before", "not_after"}] }
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import QRCode from 'qrcode';
import { html, useConsoleSession, useLang, initLang, LangSwitch, StaffLogin, Icon, Spinner, Alert, Field, mountDemoRibbon } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { get, post, del, qs, setCsrf, onAuthLost } from '../lib/api.js';
import { errorText, shortReason } from '../lib/errors.js';
import { fmtDateTime, toMs, dateInputToRFC3339 } from '../lib/format.js';
import { normalize } from '../lib/idnumber.js';
import { now } from '../lib/clock.js';
import { AreaChart, StackedBars, HBars } from './charts.js';
import { Replays } from './replays.js';
import './admin.css';

const TABS = [
  ['dashboard', 'train'],
  ['certificates', 'id'],
  ['audit', 'history'],
  ['terminals', 'scan'],
  ['replays', 'warn'],
  ['staff', 'face'],
  ['keys', 'key'],
];

function App() {
  useLang();
  const [state, account, setState, setAccount] = useConsoleSession(['admin']);
  useEffect(() => onAuthLost(() => setState('out')), []);
  if (state === 'loading') return html`<div class="console-login"><${Spinner} /></div>`;
  if (state === 'out') {
    return html`<${StaffLogin} title=${t('admin.title')} subtitle="tempid · 12306" roles=${['admin']}
      onLoggedIn=${(r) => { setAccount(r.account); setState('in'); }} />`;
  }
  return html`<${Shell} account=${account} onLogout=${async () => {
    try { await del('/api/v1/session'); } catch { /* log out locally anyway */ }
    setCsrf(''); setAccount(null); setState('out');
  }} />`;
}

function useHashTab() {
  const read = () => {
    const h = location.hash.replace('#', '');
    return TABS.some(([k]) => k === h) ? h : 'dashboard';
  };
  const [tab, setTab] = useState(read);
  useEffect(() => {
    const f = () => setTab(read());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return [tab, (k) => { location.hash = k; setTab(k); }];
}

function Shell({ account, onLogout }) {
  useLang();
  const [tab, setTab] = useHashTab();
  const views = { dashboard: Dashboard, certificates: Certificates, audit: Audit, terminals: Terminals, replays: Replays, staff: Staff, keys: Keys };
  const View = views[tab];
  return html`<div class="admin">
    <aside class="side">
      <div class="side-brand"><div class="side-logo"><${Icon} name="train" size=${24} /></div><div><strong>tempid</strong><small>${t('admin.title')}</small></div></div>
      <nav>${TABS.map(([k, icon]) => html`<button class=${'nav' + (tab === k ? ' on' : '')} id=${'tab-' + k} data-testid=${'tab-' + k} onClick=${() => setTab(k)}>
        <${Icon} name=${icon} size=${20} /> ${t('admin.tab.' + k)}</button>`)}</nav>
      <div class="side-foot">
        <div class="who" data-testid="admin-user">${account?.username}</div>
        <div class="side-actions"><${LangSwitch} /><button class="btn btn-small btn-side" onClick=${onLogout} id="logout" data-testid="logout"><${Icon} name="logout" size=${16} /> ${t('common.logout')}</button></div>
      </div>
    </aside>
    <main class="main" id=${'view-' + tab} data-testid=${'view-' + tab}>
      <h1 class="page-title">${t('admin.tab.' + tab)}</h1>
      <${View} />
    </main>
  </div>`;
}

/** useLoad runs a GET and keeps {data, error, loading}; reload() runs it again. */
function useLoad(fn, deps) {
  const [s, set] = useState({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    set((x) => ({ ...x, loading: true, error: null }));
    fn()
      .then((data) => live && set({ data, error: null, loading: false }))
      .catch((error) => {
        if (live) set({ data: null, error, loading: false });
      });
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...s, reload: () => setN((x) => x + 1) };
}

/**
 * List is a panel's list: a spinner while it loads, its error, the empty
 * text when it has no items (none while empty is ''), or the table given
 * as its child.
 */
function List({ loading, error, items, empty, emptyTestid, children }) {
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${Alert}>${errorText(error)}</${Alert}>`;
  if (items.length === 0 && empty) return html`<div class="muted empty" data-testid=${emptyTestid}>${empty}</div>`;
  return children;
}

const HOUR = 3600 * 1000;

/** fillHours returns one point per hour from fromMs to toMs, taking values from points. */
function fillHours(points, fromMs, toMs_, make) {
  const by = new Map();
  for (const p of points || []) by.set(Math.floor(toMs(p.at) / HOUR), p);
  const out = [];
  for (let hr = Math.floor(fromMs / HOUR); hr <= Math.floor((toMs_ - 1) / HOUR); hr++) {
    out.push(make(by.get(hr), new Date(hr * HOUR).toISOString()));
  }
  return out;
}

const PALETTE = ['#1b5fd6', '#12a150', '#e88a00', '#8b5cf6', '#d92d20', '#0ea5e9', '#db2777', '#65a30d', '#64748b', '#0d9488'];

function Dashboard() {
  useLang();
  const [range, setRange] = useState('24h');
  const [stamp, setStamp] = useState(() => now());
  const span = range === '7d' ? 7 * 24 * HOUR : 24 * HOUR;
  const toMs_ = Math.ceil(stamp / HOUR) * HOUR;
  const fromMs = toMs_ - span;
  const { data, error, loading } = useLoad(
    () => get('/api/v1/admin/stats' + qs({ from: new Date(fromMs).toISOString(), to: new Date(toMs_).toISOString(), bucket: 'hour' })),
    [range, stamp]);
  const issuance = fillHours(data?.issuance, fromMs, toMs_, (p, at) => ({ at, count: p?.count || 0 }));
  const verifs = fillHours(data?.verifications, fromMs, toMs_, (p, at) => ({ at, valid: p?.valid || 0, invalid: p?.invalid || 0 }));
  const issued = issuance.reduce((s, p) => s + p.count, 0);
  const valid = verifs.reduce((s, p) => s + p.valid, 0);
  const invalid = verifs.reduce((s, p) => s + p.invalid, 0);
  const rate = valid + invalid ? Math.round((valid / (valid + invalid)) * 1000) / 10 + '%' : '—';
  const failures = (data?.failures || []).map((f, i) => ({ label: shortReason(f.reason), value: f.count, color: PALETTE[(i + 4) % PALETTE.length] }));
  const cities = (data?.cities || []).map((c) => ({ label: c.name || c.code || t('admin.chart.no_city'), value: c.count }));
  const channels = (data?.channels || []).map((c, i) => ({ label: channelName(c.channel), value: c.count, color: PALETTE[i % PALETTE.length] }));
  const applicants = (data?.applicants || []).map((a, i) => ({ label: t('admin.applicant.' + a.applicant), value: a.count, color: PALETTE[(i + 2) % PALETTE.length] }));
  // The most slips first: an officer issuing unusually many stands out at the top.
  const officers = [...(data?.officers || [])].sort((a, b) => b.slips - a.slips || String(a.username).localeCompare(String(b.username)));

  return html`<div class="dash" data-testid="dashboard">
    <div class="toolbar">
      <div class="seg">${['24h', '7d'].map((r) => html`<button class=${range === r ? 'on' : ''} data-testid=${'range-' + r} onClick=${() => setRange(r)}>${t('admin.range.' + r)}</button>`)}</div>
      <button class="btn btn-small btn-outline" onClick=${() => setStamp(now())} data-testid="stats-refresh">${t('common.refresh')}</button>
      ${loading ? html`<span class="spinner"></span>` : null}
    </div>
    ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
    <div class="kpis">
      <${Kpi} label=${t('admin.kpi.issued')} value=${issued} tone="blue" testid="kpi-issued" />
      <${Kpi} label=${t('admin.kpi.verifications')} value=${valid + invalid} tone="teal" testid="kpi-verifications" />
      <${Kpi} label=${t('admin.kpi.valid_rate')} value=${rate} tone="green" testid="kpi-valid-rate" />
      <${Kpi} label=${t('admin.kpi.failures')} value=${invalid} tone="red" testid="kpi-failures" />
    </div>
    <div class="grid2">
      <div class="panel"><div class="panel-title">${t('admin.chart.issuance')}</div>
        <${AreaChart} points=${issuance} label=${t('admin.chart.issuance')} testid="chart-issuance" /></div>
      <div class="panel"><div class="panel-title row"><span>${t('admin.chart.verifications')}</span>
        <span class="legend"><i class="ok"></i>${t('admin.chart.valid')} <i class="bad"></i>${t('admin.chart.invalid')}</span></div>
        <${StackedBars} points=${verifs} names=${[t('admin.chart.valid'), t('admin.chart.invalid')]} label=${t('admin.chart.verifications')} testid="chart-verifications" /></div>
      <div class="panel"><div class="panel-title">${t('admin.chart.failures')}</div>
        ${failures.length ? html`<${HBars} items=${failures} testid="chart-failures" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel"><div class="panel-title">${t('admin.chart.cities')}</div>
        ${cities.length ? html`<${HBars} items=${cities} testid="chart-cities" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel"><div class="panel-title">${t('admin.chart.channels')}</div>
        ${channels.length ? html`<${HBars} items=${channels} testid="chart-channels" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel"><div class="panel-title">${t('admin.chart.applicants')}</div>
        ${applicants.length ? html`<${HBars} items=${applicants} testid="chart-applicants" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel table-wrap"><div class="panel-title">${t('admin.officers.title')}</div>
        ${officers.length ? html`<table class="table" data-testid="officer-slips">
          <thead><tr><th>${t('admin.officers.username')}</th><th>${t('admin.officers.station')}</th><th>${t('admin.officers.slips')}</th></tr></thead>
          <tbody>${officers.map((o) => html`<tr data-testid="officer-row" data-id=${o.id} data-username=${o.username} data-slips=${o.slips}>
            <td>${o.username}</td><td class="mono">${o.station_code || '—'}</td><td class="num">${o.slips}</td></tr>`)}</tbody></table>`
          : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
    </div>
  </div>`;
}

function Kpi({ label, value, tone, testid }) {
  return html`<div class=${'kpi kpi-' + tone} data-testid=${testid}><div class="kpi-label">${label}</div><div class="kpi-value">${value}</div></div>`;
}

/** channelName is how a certificate's channel (app, window, kiosk) reads; an unknown one as it came. */
const channelName = (c) => (['app', 'window', 'kiosk'].includes(c) ? t('admin.channel.' + c) : c || '—');

const STATUSES = ['active', 'superseded', 'revoked', 'expired'];
const statusBadge = (s) => html`<span class=${'badge ' + ({ active: 'badge-ok', revoked: 'badge-bad', superseded: 'badge-warn' }[s] || 'badge-muted')}>${t('status.' + s)}</span>`;

function Certificates() {
  useLang();
  const [f, setF] = useState({ id_number: '', status: '', from: '', to: '' });
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [revoking, setRevoking] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  async function search(e) {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await get('/api/v1/admin/certificates' + qs({
        id_number: f.id_number ? normalize(f.id_number) : '', status: f.status,
        from: dateInputToRFC3339(f.from), to: dateInputToRFC3339(f.to, true),
      }));
      setRes(r.certificates || []);
    } catch (err) {
      if (err.status === 401) return; // onAuthLost shows the login
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return html`<div>
    <form class="panel search" onSubmit=${search} data-testid="cert-search-form">
      <${Field} label=${t('admin.search.id_number')} id="search-id-number"><input id="search-id-number" data-testid="search-id-number" value=${f.id_number} onInput=${set('id_number')} autocomplete="off" /></${Field}>
      <${Field} label=${t('admin.search.status')} id="search-status"><select id="search-status" data-testid="search-status" value=${f.status} onChange=${set('status')}>
        <option value="">${t('admin.search.status.any')}</option>${STATUSES.map((s) => html`<option value=${s}>${t('status.' + s)}</option>`)}</select></${Field}>
      <${Field} label=${t('admin.search.from')} id="search-from"><input type="date" id="search-from" data-testid="search-from" value=${f.from} onInput=${set('from')} /></${Field}>
      <${Field} label=${t('admin.search.to')} id="search-to"><input type="date" id="search-to" data-testid="search-to" value=${f.to} onInput=${set('to')} /></${Field}>
      <div class="search-go"><button class="btn btn-primary" type="submit" id="search-submit" data-testid="search-submit" disabled=${busy}>${t('admin.search.submit')}</button>
        <small class="muted">${t('admin.search.note')}</small></div>
    </form>
    ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
    ${res === null ? null : html`<div class="panel table-wrap">
      <${List} items=${res} empty=${t('admin.search.empty')} emptyTestid="cert-results-empty"><table class="table" data-testid="cert-results">
        <thead><tr><th>${t('admin.col.id')}</th><th>${t('admin.col.holder')}</th><th>${t('admin.col.id_number')}</th><th>${t('admin.col.city')}</th>
          <th>${t('admin.col.channel')}</th><th>${t('admin.col.status')}</th><th>${t('admin.col.issued_at')}</th><th>${t('admin.col.expires_at')}</th><th>${t('admin.col.actions')}</th></tr></thead>
        <tbody>${res.map((c) => html`<tr data-testid="cert-row" data-id=${c.id} data-status=${c.status} data-channel=${c.channel}>
          <td class="mono small" title=${c.id}>${String(c.id).slice(0, 12)}…</td>
          <td>${c.holder?.name_masked}</td><td class="mono">${c.holder?.id_number_masked}</td><td>${c.city?.name || ''}</td>
          <td data-testid="cert-channel">${channelName(c.channel)}</td><td>${statusBadge(c.status)}</td><td>${fmtDateTime(c.issued_at)}</td><td>${fmtDateTime(c.expires_at)}</td>
          <td>${c.status === 'active' ? (revoking === c.id
            ? html`<${RevokeForm} id=${c.id} onDone=${(cert) => { setRevoking(null); setRes(res.map((x) => (x.id === c.id ? { ...x, ...cert } : x))); }} onCancel=${() => setRevoking(null)} />`
            : html`<button class="btn btn-small btn-danger" data-testid="cert-revoke" data-id=${c.id} onClick=${() => setRevoking(c.id)}>${t('admin.revoke')}</button>`)
            : c.revoke_reason ? html`<span class="muted small" data-testid="cert-revoke-reason">${c.revoke_reason}</span>` : null}</td>
        </tr>`)}</tbody></table></${List}>
    </div>`}
  </div>`;
}

function RevokeForm({ id, onDone, onCancel }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    try {
      const r = await post(`/api/v1/admin/certificates/${encodeURIComponent(id)}/revoke`, { reason });
      onDone(r?.certificate || { status: 'revoked' });
    } catch (err) {
      setError(err);
    }
  }
  return html`<form class="inline-form" onSubmit=${submit} data-testid="revoke-form">
    <input placeholder=${t('admin.revoke.reason')} value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} required data-testid="revoke-reason" id="revoke-reason" />
    <button class="btn btn-small btn-danger" type="submit" data-testid="revoke-confirm" id="revoke-confirm">${t('admin.revoke.confirm')}</button>
    <button class="btn btn-small btn-ghost" type="button" onClick=${onCancel}>${t('common.cancel')}</button>
    ${error ? html`<div class="field-error">${errorText(error)}</div>` : null}
  </form>`;
}

function Audit() {
  useLang();
  const [entries, setEntries] = useState([]);
  const [more, setMore] = useState(true);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [check, setCheck] = useState(null);
  const LIMIT = 100;
  async function load(reset) {
    setBusy(true);
    try {
      const after = reset || !entries.length ? '' : entries[entries.length - 1].id;
      const r = await get('/api/v1/admin/audit' + qs({ after, limit: LIMIT }));
      const got = r.entries || [];
      setEntries(reset ? got : [...entries, ...got]);
      setMore(got.length === LIMIT);
    } catch (err) {
      if (err.status === 401) return; // onAuthLost shows the login
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  useEffect(() => {
    load(true);
  }, []);
  async function verify() {
    setCheck({ busy: true });
    try {
      setCheck(await get('/api/v1/admin/audit/verify'));
    } catch (err) {
      setCheck({ error: err });
    }
  }
  return html`<div>
    <div class="toolbar">
      <button class="btn btn-primary btn-small" onClick=${verify} id="audit-verify" data-testid="audit-verify"><${Icon} name="shield" size=${16} /> ${t('admin.audit.verify')}</button>
      <button class="btn btn-outline btn-small" onClick=${() => load(true)} data-testid="audit-refresh">${t('common.refresh')}</button>
    </div>
    ${check && !check.busy ? check.error ? html`<${Alert}>${errorText(check.error)}</${Alert}>` : html`<div class=${'alert ' + (check.ok ? 'alert-ok' : 'alert-error')} id="audit-verify-result" data-testid="audit-verify-result" data-ok=${String(!!check.ok)}>
      ${check.ok ? t('admin.audit.ok', { entries: check.entries }) : t('admin.audit.bad', { entries: check.entries, first_bad: check.first_bad ?? '?' })}</div>` : null}
    ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
    <div class="panel table-wrap">
      <${List} items=${entries} empty=${busy ? '' : t('admin.audit.empty')}><table class="table" data-testid="audit-table">
        <thead><tr><th>#</th><th>${t('admin.audit.at')}</th><th>${t('admin.audit.actor')}</th><th>${t('admin.audit.action')}</th><th>${t('admin.audit.object')}</th><th>${t('admin.audit.detail')}</th></tr></thead>
        <tbody>${entries.map((e) => html`<tr data-testid="audit-row" data-id=${e.id}>
          <td class="mono small">${e.id}</td><td class="nowrap">${fmtDateTime(e.at, true)}</td><td>${e.actor}</td>
          <td><span class="badge badge-blue">${e.action}</span></td><td class="mono small">${e.object}</td>
          <td class="small detail">${typeof e.detail === 'string' ? e.detail : e.detail ? JSON.stringify(e.detail) : ''}</td></tr>`)}</tbody></table></${List}>
      ${busy ? html`<${Spinner} />` : more && entries.length ? html`<div class="center"><button class="btn btn-ghost" onClick=${() => load(false)} data-testid="audit-more">${t('admin.audit.more')}</button></div>` : null}
    </div>
  </div>`;
}

// PairingQR shows a new offline terminal's API key as a QR code, once, for
// the terminal's camera to read at pairing. It is drawn here, in the
// browser: the key goes into no URL, no request and no log.
function PairingQR({ apiKey }) {
  useLang();
  const canvas = useRef(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    setFailed(false);
    QRCode.toCanvas(canvas.current, apiKey, { errorCorrectionLevel: 'M', margin: 4, width: 280, color: { dark: '#000000', light: '#ffffff' } })
      .catch(() => setFailed(true));
  }, [apiKey]);
  return html`<figure class="pair-qr" data-testid="terminal-pair-qr-box">
    <canvas ref=${canvas} id="terminal-pair-qr" data-testid="terminal-pair-qr" role="img" aria-label=${t('admin.terminal.pair_qr')}></canvas>
    <figcaption>${failed ? t('admin.terminal.pair_qr.failed') : t('admin.terminal.pair_qr')}</figcaption>
  </figure>`;
}

const TERMINAL_KINDS = ['gate', 'handheld', 'kiosk'];

function Terminals() {
  useLang();
  const list = useLoad(() => get('/api/v1/admin/terminals'), []);
  const [f, setF] = useState({ name: '', station_code: '', offline: false, kind: 'handheld' });
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const [copied, setCopied] = useState(false);
  async function create(e) {
    e.preventDefault();
    setError(null);
    try {
      const r = await post('/api/v1/admin/terminals', { name: f.name.trim(), station_code: f.station_code.trim(), offline: f.offline, kind: f.kind });
      setCreated(r);
      setCopied(false);
      setF({ name: '', station_code: '', offline: false, kind: 'handheld' });
      list.reload();
    } catch (err) {
      setError(err);
    }
  }
  async function revoke(id) {
    try {
      await post(`/api/v1/admin/terminals/${encodeURIComponent(id)}/revoke`, {});
      list.reload();
    } catch (err) {
      setError(err);
    }
  }
  const terminals = list.data?.terminals || [];
  return html`<div class="grid-side">
    <form class="panel" onSubmit=${create} data-testid="terminal-form">
      <div class="panel-title">${t('admin.terminal.new')}</div>
      <${Field} label=${t('admin.terminal.name')} id="terminal-name"><input id="terminal-name" data-testid="terminal-name" value=${f.name} onInput=${(e) => setF({ ...f, name: e.currentTarget.value })} required /></${Field}>
      <${Field} label=${t('admin.terminal.station')} id="terminal-station"><input id="terminal-station" data-testid="terminal-station" value=${f.station_code} onInput=${(e) => setF({ ...f, station_code: e.currentTarget.value })} required /></${Field}>
      <${Field} label=${t('admin.terminal.kind')} id="terminal-kind"><select id="terminal-kind" data-testid="terminal-kind" value=${f.kind} onChange=${(e) => setF({ ...f, kind: e.currentTarget.value })}>
        ${TERMINAL_KINDS.map((k) => html`<option value=${k}>${t('admin.terminal.kind.' + k)}</option>`)}</select></${Field}>
      <label class="check-line"><input type="checkbox" id="terminal-offline" data-testid="terminal-offline" checked=${f.offline} onChange=${(e) => setF({ ...f, offline: e.currentTarget.checked })} /> ${t('admin.terminal.offline')}</label>
      ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
      <button class="btn btn-primary btn-block" type="submit" id="terminal-create" data-testid="terminal-create">${t('admin.terminal.create')}</button>
      ${created ? html`<div class="once" data-testid="terminal-key-box">
        <p>${t('admin.terminal.key_once')}</p>
        <code id="terminal-api-key" data-testid="terminal-api-key">${created.api_key}</code>
        <button type="button" class="btn btn-small btn-outline" onClick=${() => navigator.clipboard?.writeText(created.api_key).then(() => setCopied(true))}>${copied ? t('common.copied') : t('common.copy')}</button>
        ${created.terminal?.offline ? html`<${PairingQR} apiKey=${created.api_key} />` : null}
      </div>` : null}
    </form>
    <div class="panel table-wrap">
      <div class="panel-title">${t('admin.terminal.list')}</div>
      <${List} loading=${list.loading && !list.data} error=${list.error} items=${terminals} empty=${t('admin.terminal.empty')}><table class="table" data-testid="terminal-table">
        <thead><tr><th>${t('admin.terminal.name')}</th><th>${t('admin.terminal.station')}</th><th>${t('admin.terminal.kind')}</th><th>${t('admin.terminal.offline.column')}</th><th>${t('admin.terminal.created_at')}</th><th>${t('admin.col.status')}</th><th><span class="visually-hidden">${t('admin.col.actions')}</span></th></tr></thead>
        <tbody>${terminals.map((x) => html`<tr data-testid="terminal-row" data-id=${x.id} data-kind=${x.kind}>
          <td>${x.name}</td><td class="mono">${x.station_code}</td><td data-testid="terminal-row-kind">${TERMINAL_KINDS.includes(x.kind) ? t('admin.terminal.kind.' + x.kind) : x.kind || '—'}</td><td>${x.offline ? t('common.yes') : t('common.no')}</td><td>${fmtDateTime(x.created_at)}</td>
          <td>${x.revoked_at ? html`<span class="badge badge-muted">${t('admin.terminal.revoked')}</span>` : html`<span class="badge badge-ok">${t('admin.terminal.active')}</span>`}</td>
          <td>${x.revoked_at ? null : html`<button class="btn btn-small btn-danger" data-testid="terminal-revoke" data-id=${x.id} onClick=${() => revoke(x.id)}>${t('admin.revoke')}</button>`}</td></tr>`)}</tbody></table></${List}>
    </div>
  </div>`;
}

function Staff() {
  useLang();
  const list = useLoad(() => get('/api/v1/admin/staff'), []);
  const [f, setF] = useState({ username: '', password: '', role: 'staff', station_code: '' });
  const [msg, setMsg] = useState('');
  const [error, setError] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  async function create(e) {
    e.preventDefault();
    setError(null);
    setMsg('');
    try {
      const body = { username: f.username.trim(), password: f.password, role: f.role };
      if (f.station_code.trim()) body.station_code = f.station_code.trim();
      await post('/api/v1/admin/staff', body);
      setMsg(t('admin.staff.created', { username: body.username }));
      setF({ username: '', password: '', role: 'staff', station_code: '' });
      list.reload();
    } catch (err) {
      setError(err);
    }
  }
  const staff = list.data?.staff || [];
  return html`<div class="grid-side">
    <form class="panel" onSubmit=${create} data-testid="staff-form">
      <div class="panel-title">${t('admin.staff.new')}</div>
      <${Field} label=${t('admin.staff.username')} id="staff-username"><input id="staff-username" data-testid="staff-username" value=${f.username} onInput=${set('username')} autocomplete="off" required /></${Field}>
      <${Field} label=${t('admin.staff.password')} id="staff-password"><input id="staff-password" data-testid="staff-password" type="password" autocomplete="new-password" value=${f.password} onInput=${set('password')} required /></${Field}>
      <${Field} label=${t('admin.staff.role')} id="staff-role"><select id="staff-role" data-testid="staff-role" value=${f.role} onChange=${set('role')}>
        <option value="staff">${t('admin.staff.role.staff')}</option><option value="officer">${t('admin.staff.role.officer')}</option><option value="admin">${t('admin.staff.role.admin')}</option></select></${Field}>
      <${Field} label=${t('admin.staff.station')} id="staff-station"><input id="staff-station" data-testid="staff-station" value=${f.station_code} onInput=${set('station_code')} required=${f.role === 'staff' || f.role === 'officer'} /></${Field}>
      ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
      ${msg ? html`<${Alert} kind="ok" testid="staff-created">${msg}</${Alert}>` : null}
      <button class="btn btn-primary btn-block" type="submit" id="staff-create" data-testid="staff-create">${t('admin.staff.create')}</button>
    </form>
    <div class="panel table-wrap">
      <div class="panel-title">${t('admin.staff.list')}</div>
      <${List} loading=${list.loading && !list.data} error=${list.error} items=${staff} empty=${t('admin.staff.empty')}><table class="table" data-testid="staff-table">
        <thead><tr><th>${t('admin.staff.username')}</th><th>${t('admin.staff.role')}</th><th>${t('admin.terminal.station')}</th></tr></thead>
        <tbody>${staff.map((x) => html`<tr data-testid="staff-row" data-id=${x.id}><td>${x.username}</td>
          <td><span class=${'badge ' + (x.role === 'admin' ? 'badge-blue' : x.role === 'officer' ? 'badge-warn' : 'badge-muted')}>${t('admin.staff.role.' + x.role)}</span></td><td class="mono">${x.station_code || '—'}</td></tr>`)}</tbody></table></${List}>
    </div>
  </div>`;
}

function Keys() {
  useLang();
  const list = useLoad(() => get('/.well-known/tempid/keys'), []);
  const [msg, setMsg] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function rotate() {
    setBusy(true);
    setError(null);
    setMsg('');
    try {
      await post('/api/v1/admin/keys/rotate', {});
      setMsg(t('admin.keys.rotated'));
      list.reload();
    } catch (err) {
      if (err.status === 401) return; // onAuthLost shows the login
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const keys = list.data?.keys || [];
  const nowMs = now();
  return html`<div>
    <div class="panel rotate">
      <div><div class="panel-title">${t('admin.keys.rotate')}</div><p class="muted">${t('admin.keys.rotate.desc')}</p></div>
      <button class="btn btn-primary" onClick=${rotate} disabled=${busy} id="keys-rotate" data-testid="keys-rotate"><${Icon} name="key" size=${18} /> ${t('admin.keys.rotate')}</button>
    </div>
    ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
    ${msg ? html`<${Alert} kind="ok" testid="keys-rotated">${msg}</${Alert}>` : null}
    <div class="panel table-wrap">
      <div class="panel-title">${t('admin.keys.published')}</div>
      <${List} loading=${list.loading && !list.data} error=${list.error} items=${keys} empty=${t('admin.keys.empty')}><table class="table" data-testid="keys-table">
        <thead><tr><th>${t('admin.keys.kid')}</th><th>${t('admin.keys.alg')}</th><th>${t('admin.keys.public_key')}</th><th>${t('admin.keys.not_before')}</th><th>${t('admin.keys.not_after')}</th><th><span class="visually-hidden">${t('admin.col.actions')}</span></th></tr></thead>
        <tbody>${keys.map((k) => {
          const live = toMs(k.not_before) <= nowMs && (!k.not_after || nowMs < toMs(k.not_after));
          return html`<tr data-testid="key-row" data-kid=${k.kid}><td class="mono">${k.kid}</td><td>${k.alg}</td>
            <td class="mono small key">${k.public_key}</td><td>${fmtDateTime(k.not_before)}</td><td>${k.not_after ? fmtDateTime(k.not_after) : '—'}</td>
            <td>${live ? html`<span class="badge badge-ok">${t('status.active')}</span>` : toMs(k.not_before) > nowMs ? html`<span class="badge badge-blue">${fmtDateTime(k.not_before)}</span>` : html`<span class="badge badge-muted">${t('status.expired')}</span>`}</td></tr>`;
        })}</tbody></table></${List}>
    </div>
  </div>`;
}

initLang();
mountDemoRibbon();
render(html`<${App} />`, document.getElementById('app'));
