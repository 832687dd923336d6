// The admin console (/admin): issuance and verification dashboard,
// certificate search and revocation, the audit log and its chain check,
// terminals, staff and issuer keys.
//
// Shapes this console expects from the server:
//
//   The answers are those of API.md and docs/admin-api.md (stats,
//   certificates, revoke, audit and its check, terminals, staff, keys);
//   hours without anything may be left out of the stats, and the console
//   fills them with zeros.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import QRCode from 'qrcode';
import { html, useConsoleSession, useLang, initLang, LangSwitch, StaffLogin, Icon, Spinner, Alert, Field, useScreen, mountDemoRibbon } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { get, post, del, qs, request, setCsrf, onAuthLost } from '../lib/api.js';
import { errorText, shortReason } from '../lib/errors.js';
import { fmtDateTime, toMs, dateInputToRFC3339 } from '../lib/format.js';
import { normalize } from '../lib/idnumber.js';
import { now } from '../lib/clock.js';
import { TimeChart, HBars } from './charts.js';
import { AUDIT_ACTIONS, actionName, roleName, detailText, auditCSV, revokeReasonName } from './audit.js';
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
  const titleRef = useScreen(tab, t('admin.tab.' + tab), t('admin.title'));
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
      <h1 class="page-title" tabindex="-1" ref=${titleRef}>${t('admin.tab.' + tab)}</h1>
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
  // Failures split three ways: real rejections, codes shown again, and
  // scans that are no code at all (a misread, another QR code).
  const verifs = fillHours(data?.verifications, fromMs, toMs_, (p, at) => ({
    at, valid: p?.valid || 0, invalid: p?.invalid || 0, replayed: p?.replayed || 0, malformed: p?.malformed || 0,
    rejected: Math.max(0, (p?.invalid || 0) - (p?.replayed || 0) - (p?.malformed || 0)),
  }));
  const issued = issuance.reduce((s, p) => s + p.count, 0);
  const valid = verifs.reduce((s, p) => s + p.valid, 0);
  const invalid = verifs.reduce((s, p) => s + p.invalid, 0);
  const rate = valid + invalid ? Math.round((valid / (valid + invalid)) * 1000) / 10 + '%' : '—';
  const xs = issuance.map((p) => Math.floor(toMs(p.at) / 1000));
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
      <div class="panel"><h2 class="panel-title">${t('admin.chart.issuance')}</h2>
        <${TimeChart} xs=${xs} label=${t('admin.chart.issuance')} xLabel=${t('admin.chart.time_axis')} yLabel=${t('admin.chart.count_axis')} testid="chart-issuance"
          series=${[{ label: t('admin.chart.issued'), color: '#1b5fd6', values: issuance.map((p) => p.count) }]} /></div>
      <div class="panel"><h2 class="panel-title">${t('admin.chart.verifications')}</h2>
        <${TimeChart} xs=${xs} label=${t('admin.chart.verifications')} xLabel=${t('admin.chart.time_axis')} yLabel=${t('admin.chart.count_axis')} testid="chart-verifications"
          series=${[
            { label: t('admin.chart.valid'), color: '#12a150', values: verifs.map((p) => p.valid), stack: true },
            { label: t('admin.chart.rejected'), color: '#d92d20', values: verifs.map((p) => p.rejected), stack: true },
            { label: t('admin.chart.replayed'), color: '#e88a00', values: verifs.map((p) => p.replayed), stack: true },
            { label: t('admin.chart.malformed'), color: '#64748b', values: verifs.map((p) => p.malformed), stack: true },
          ]} />
        <div class="split" data-testid="failure-split">
          <span data-testid="split-rejected" data-count=${verifs.reduce((s, p) => s + p.rejected, 0)}>${t('admin.chart.rejected')} ${verifs.reduce((s, p) => s + p.rejected, 0)}</span>
          <span data-testid="split-replayed" data-count=${verifs.reduce((s, p) => s + p.replayed, 0)}>${t('admin.chart.replayed')} ${verifs.reduce((s, p) => s + p.replayed, 0)}</span>
          <span data-testid="split-malformed" data-count=${verifs.reduce((s, p) => s + p.malformed, 0)}>${t('admin.chart.malformed')} ${verifs.reduce((s, p) => s + p.malformed, 0)}</span>
        </div></div>
      <div class="panel"><h2 class="panel-title">${t('admin.chart.failures')}</h2>
        ${failures.length ? html`<${HBars} items=${failures} testid="chart-failures" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel"><h2 class="panel-title">${t('admin.chart.cities')}</h2>
        ${cities.length ? html`<${HBars} items=${cities} testid="chart-cities" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel"><h2 class="panel-title">${t('admin.chart.channels')}</h2>
        ${channels.length ? html`<${HBars} items=${channels} testid="chart-channels" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel"><h2 class="panel-title">${t('admin.chart.applicants')}</h2>
        ${applicants.length ? html`<${HBars} items=${applicants} testid="chart-applicants" />` : html`<div class="muted empty">${t('admin.chart.empty')}</div>`}</div>
      <div class="panel table-wrap" tabindex="0" role="region" aria-label=${t('admin.officers.title')}><h2 class="panel-title">${t('admin.officers.title')}</h2>
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
    ${res === null ? null : html`<div class="panel table-wrap" tabindex="0" role="region" aria-label=${t('admin.tab.certificates')}>
      <${List} items=${res} empty=${t('admin.search.empty')} emptyTestid="cert-results-empty"><table class="table" data-testid="cert-results">
        <thead><tr><th>${t('admin.col.id')}</th><th>${t('admin.col.holder')}</th><th>${t('admin.col.id_number')}</th><th>${t('admin.col.city')}</th>
          <th>${t('admin.col.channel')}</th><th>${t('admin.col.status')}</th><th>${t('admin.col.issued_at')}</th><th>${t('admin.col.expires_at')}</th><th>${t('admin.col.actions')}</th></tr></thead>
        <tbody>${res.map((c) => html`<tr data-testid="cert-row" data-id=${c.id} data-status=${c.status} data-channel=${c.channel}>
          <td class="mono small" title=${c.id}>${String(c.id).slice(0, 12)}…</td>
          <td>${c.holder?.name_masked}</td><td class="mono">${c.holder?.id_number_masked}</td><td class="nowrap">${c.city?.name || ''}</td>
          <td data-testid="cert-channel">${channelName(c.channel)}</td><td>${statusBadge(c.status)}</td><td>${fmtDateTime(c.issued_at)}</td><td>${fmtDateTime(c.expires_at)}</td>
          <td>${c.status === 'active' ? (revoking === c.id
            ? html`<${RevokeForm} id=${c.id} onDone=${(cert) => { setRevoking(null); setRes(res.map((x) => (x.id === c.id ? { ...x, ...cert } : x))); }} onCancel=${() => setRevoking(null)} />`
            : html`<button class="btn btn-small btn-danger" data-testid="cert-revoke" data-id=${c.id} onClick=${() => setRevoking(c.id)}>${t('admin.revoke')}</button>`)
            : c.revoke_reason ? html`<span class="muted small" data-testid="cert-revoke-reason" data-reason=${c.revoke_reason}>${revokeReasonName(c.revoke_reason)}</span>` : null}</td>
        </tr>`)}</tbody></table></${List}>
    </div>`}
  </div>`;
}

const REVOKE_REASONS = ['found_id_card', 'wrong_details', 'suspected_misuse', 'other'];

// RevokeForm revokes a certificate with a reason from the list (the
// passenger is shown its words) and a note for the audit log, which
// "other" needs; it says beforehand what the passenger will see.
function RevokeForm({ id, onDone, onCancel }) {
  useLang();
  const [reason, setReason] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState(null);
  const [missing, setMissing] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setError(null);
    if (reason === 'other' && !note.trim()) {
      setMissing(true);
      return;
    }
    try {
      const body = { reason };
      if (note.trim()) body.note = note.trim();
      const r = await post(`/api/v1/admin/certificates/${encodeURIComponent(id)}/revoke`, body);
      onDone(r?.certificate || { status: 'revoked', revoke_reason: reason });
    } catch (err) {
      setError(err);
    }
  }
  const noteId = 'revoke-note';
  return html`<form class="revoke-form" onSubmit=${submit} data-testid="revoke-form">
    <label for="revoke-reason" class="small">${t('admin.revoke.choose')}</label>
    <select id="revoke-reason" data-testid="revoke-reason" value=${reason} required onChange=${(e) => { setReason(e.currentTarget.value); setMissing(false); }}>
      <option value="" disabled>${t('admin.revoke.choose')}</option>
      ${REVOKE_REASONS.map((r) => html`<option value=${r}>${t('admin.revoke.reason.' + r)}</option>`)}
    </select>
    <label for=${noteId} class="small">${t('admin.revoke.note')}</label>
    <input id=${noteId} data-testid="revoke-note" value=${note} maxlength="500" onInput=${(e) => { setNote(e.currentTarget.value); setMissing(false); }}
      required=${reason === 'other'} aria-invalid=${missing ? 'true' : undefined} aria-describedby=${missing ? noteId + '-error' : undefined} />
    ${missing ? html`<div class="field-error" id=${noteId + '-error'} data-testid="revoke-note-required">${t('admin.revoke.note.required')}</div>` : null}
    ${reason ? html`<p class="revoke-sees" data-testid="revoke-passenger-sees">${t('admin.revoke.passenger_sees', { reason: t('admin.revoke.reason.' + reason) })}</p>` : null}
    <div class="inline-form">
      <button class="btn btn-small btn-danger" type="submit" data-testid="revoke-confirm" id="revoke-confirm" disabled=${!reason}>${t('admin.revoke.confirm')}</button>
      <button class="btn btn-small btn-ghost" type="button" onClick=${onCancel}>${t('common.cancel')}</button>
    </div>
    ${error ? html`<div class="field-error" role="alert">${errorText(error)}</div>` : null}
  </form>`;
}

/** shortObject shortens an audit object's id ("certificate:01a23b90…"); the full one is its title. */
const shortObject = (o) => {
  const [kind, id] = String(o || '').split(/:(.*)/s);
  return id && id.length > 12 ? `${kind}:${id.slice(0, 10)}…` : o;
};

/** nextDayRFC3339 is the CST start of the day after a 'YYYY-MM-DD' date input: the end of a range that includes that day. */
function nextDayRFC3339(s) {
  if (!s) return '';
  const d = new Date(s + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10) + 'T00:00:00+08:00';
}

// Audit reads the log newest first, each entry with its actor's name and
// role, its action in words and its detail as a sentence, filtered by
// actor, action and dates; it exports what the filters select as CSV and
// checks the hash chain.
function Audit() {
  useLang();
  const [entries, setEntries] = useState([]);
  const [more, setMore] = useState(true);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [check, setCheck] = useState(null);
  const [f, setF] = useState({ actor_name: '', action: '', from: '', to: '' });
  const [applied, setApplied] = useState(f);
  const [csv, setCsv] = useState(null);
  const LIMIT = 100;
  const query = (filters, after) => qs({
    order: 'desc', limit: LIMIT, after, actor_name: filters.actor_name.trim(), action: filters.action,
    from: dateInputToRFC3339(filters.from), to: nextDayRFC3339(filters.to),
  });
  async function load(reset, filters = applied) {
    setBusy(true);
    setError(null);
    try {
      const after = reset || !entries.length ? '' : entries[entries.length - 1].id;
      const r = await get('/api/v1/admin/audit' + query(filters, after));
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
  useEffect(() => () => csv && URL.revokeObjectURL(csv.url), [csv]);
  function filter(e) {
    e.preventDefault();
    setApplied(f);
    setCsv(null);
    load(true, f);
  }
  function clear() {
    const none = { actor_name: '', action: '', from: '', to: '' };
    setF(none);
    setApplied(none);
    setCsv(null);
    load(true, none);
  }
  // The export holds every entry the filters select, not only the pages
  // shown: it pages through the log until the end.
  async function exportCSV() {
    setBusy(true);
    setError(null);
    try {
      let all = [];
      for (;;) {
        const r = await get('/api/v1/admin/audit' + query(applied, all.length ? all[all.length - 1].id : ''));
        const got = r.entries || [];
        all = all.concat(got);
        if (got.length < LIMIT) break;
      }
      const text = '\ufeff' + auditCSV(all);
      const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
      setCsv({ url, n: all.length, name: 'tempid-audit-' + new Date().toISOString().slice(0, 10) + '.csv' });
      const a = document.createElement('a');
      a.href = url;
      a.download = 'tempid-audit-' + new Date().toISOString().slice(0, 10) + '.csv';
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (err) {
      if (err.status === 401) return;
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  async function verify() {
    setCheck({ busy: true });
    try {
      setCheck(await get('/api/v1/admin/audit/verify'));
    } catch (err) {
      setCheck({ error: err });
    }
  }
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const bad = check?.first_bad;
  return html`<div>
    <form class="panel audit-filters" onSubmit=${filter} data-testid="audit-filters">
      <${Field} label=${t('admin.audit.filter.actor')} id="audit-actor"><input id="audit-actor" data-testid="audit-actor" value=${f.actor_name} onInput=${set('actor_name')} autocomplete="off" /></${Field}>
      <${Field} label=${t('admin.audit.filter.action')} id="audit-action"><select id="audit-action" data-testid="audit-action" value=${f.action} onChange=${set('action')}>
        <option value="">${t('admin.audit.filter.action.any')}</option>${AUDIT_ACTIONS.map((a) => html`<option value=${a}>${actionName(a)}</option>`)}</select></${Field}>
      <${Field} label=${t('admin.audit.filter.from')} id="audit-from"><input type="date" id="audit-from" data-testid="audit-from" value=${f.from} onInput=${set('from')} /></${Field}>
      <${Field} label=${t('admin.audit.filter.to')} id="audit-to"><input type="date" id="audit-to" data-testid="audit-to" value=${f.to} onInput=${set('to')} /></${Field}>
      <div class="audit-go">
        <button class="btn btn-primary btn-small" type="submit" data-testid="audit-filter" disabled=${busy}>${t('admin.audit.filter.submit')}</button>
        <button class="btn btn-ghost btn-small" type="button" onClick=${clear} data-testid="audit-clear">${t('admin.audit.filter.clear')}</button>
      </div>
    </form>
    <div class="toolbar">
      <button class="btn btn-primary btn-small" onClick=${verify} id="audit-verify" data-testid="audit-verify"><${Icon} name="shield" size=${16} /> ${t('admin.audit.verify')}</button>
      <button class="btn btn-outline btn-small" onClick=${() => load(true)} data-testid="audit-refresh">${t('common.refresh')}</button>
      <button class="btn btn-outline btn-small" onClick=${exportCSV} data-testid="audit-export" disabled=${busy}>${t('admin.audit.export')}</button>
      ${csv ? html`<a class="small" href=${csv.url} download=${csv.name} data-testid="audit-csv-link" data-count=${csv.n}>${t('admin.audit.export.link')} (${t('admin.audit.export.ready', { n: csv.n })})</a>` : null}
      <span class="muted small" data-testid="audit-zone">${t('admin.audit.zone')}</span>
    </div>
    ${check && !check.busy ? check.error ? html`<${Alert}>${errorText(check.error)}</${Alert}>` : html`<div class=${'alert ' + (check.ok ? 'alert-ok' : 'alert-error')} id="audit-verify-result" data-testid="audit-verify-result" data-ok=${String(!!check.ok)} data-first-bad=${bad ? bad.entry_id : ''} role="status">
      ${check.ok ? t('admin.audit.ok', { entries: check.entries }) : t('admin.audit.bad_entry', { entry: bad?.entry_id ?? '?', seq: bad?.seq ?? '?', entries: check.entries, reason: bad?.reason || '—' })}</div>` : null}
    ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
    <div class="panel table-wrap" tabindex="0" role="region" aria-label=${t('admin.tab.audit')}>
      <${List} items=${entries} empty=${busy ? '' : t('admin.audit.empty')} emptyTestid="audit-empty"><table class="table" data-testid="audit-table">
        <thead><tr><th scope="col">#</th><th scope="col">${t('admin.audit.at')}</th><th scope="col">${t('admin.audit.actor')}</th><th scope="col">${t('admin.audit.role')}</th><th scope="col">${t('admin.audit.action')}</th><th scope="col">${t('admin.audit.object')}</th><th scope="col">${t('admin.audit.detail')}</th></tr></thead>
        <tbody>${entries.map((e) => html`<tr data-testid="audit-row" data-id=${e.id} data-action=${e.action} data-actor-name=${e.actor_name}>
          <td class="mono small">${e.id}</td><td class="nowrap">${fmtDateTime(e.at, true)}</td>
          <td data-testid="audit-actor-name" title=${e.actor}>${e.actor_name || e.actor}</td><td class="nowrap" data-testid="audit-actor-role">${roleName(e.actor_role)}</td>
          <td><span class="badge badge-blue" data-testid="audit-action-name">${actionName(e.action)}</span></td><td class="mono small nowrap" title=${e.object}>${shortObject(e.object)}</td>
          <td class="small detail" data-testid="audit-detail">${detailText(e)}</td></tr>`)}</tbody></table></${List}>
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
  const [editing, setEditing] = useState(null);
  async function change(id, body) {
    setError(null);
    try {
      await request('PATCH', `/api/v1/admin/terminals/${encodeURIComponent(id)}`, body);
      setEditing(null);
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
    <div class="panel table-wrap" tabindex="0" role="region" aria-label=${t('admin.terminal.list')}>
      <h2 class="panel-title">${t('admin.terminal.list')}</h2>
      <${List} loading=${list.loading && !list.data} error=${list.error} items=${terminals} empty=${t('admin.terminal.empty')}><table class="table" data-testid="terminal-table">
        <thead><tr><th scope="col">${t('admin.terminal.name')}</th><th scope="col">${t('admin.terminal.station')}</th><th scope="col">${t('admin.terminal.kind')}</th><th scope="col">${t('admin.terminal.offline.column')}</th><th scope="col">${t('admin.terminal.created_at')}</th><th scope="col">${t('admin.col.status')}</th><th scope="col">${t('admin.terminal.actions')}</th></tr></thead>
        <tbody>${terminals.map((x) => html`<tr data-testid="terminal-row" data-id=${x.id} data-kind=${x.kind} data-name=${x.name} data-disabled=${x.disabled_at ? 'true' : 'false'} data-offline=${x.offline ? 'true' : 'false'}>
          <td>${editing?.id === x.id ? html`<input aria-label=${t('admin.terminal.name')} data-testid="terminal-edit-name" value=${editing.name} maxlength="64" onInput=${(e) => setEditing({ ...editing, name: e.currentTarget.value })} />` : x.name}</td>
          <td class="mono">${x.station_code}</td><td class="nowrap" data-testid="terminal-row-kind">${TERMINAL_KINDS.includes(x.kind) ? t('admin.terminal.kind.' + x.kind) : x.kind || '—'}</td>
          <td>${editing?.id === x.id ? html`<label class="check-line"><input type="checkbox" data-testid="terminal-edit-offline" checked=${editing.offline} onChange=${(e) => setEditing({ ...editing, offline: e.currentTarget.checked })} /> ${t('admin.terminal.offline.column')}</label>` : x.offline ? t('common.yes') : t('common.no')}</td>
          <td class="nowrap">${fmtDateTime(x.created_at)}</td>
          <td class="nowrap" data-testid="terminal-status">${x.revoked_at ? html`<span class="badge badge-muted">${t('admin.terminal.revoked')}</span>` : x.disabled_at ? html`<span class="badge badge-warn">${t('admin.terminal.disabled')}</span>` : html`<span class="badge badge-ok">${t('admin.terminal.active')}</span>`}</td>
          <td><div class="row-actions">${x.revoked_at ? null : editing?.id === x.id ? html`
            <button class="btn btn-small btn-primary" data-testid="terminal-save" onClick=${() => change(x.id, { name: editing.name.trim(), offline: editing.offline })}>${t('admin.terminal.save')}</button>
            <button class="btn btn-small btn-ghost" onClick=${() => setEditing(null)}>${t('common.cancel')}</button>` : html`
            <button class="btn btn-small btn-outline" data-testid="terminal-edit" onClick=${() => setEditing({ id: x.id, name: x.name, offline: x.offline })}>${t('admin.terminal.edit')}</button>
            <button class="btn btn-small btn-outline" data-testid=${x.disabled_at ? 'terminal-enable' : 'terminal-disable'} onClick=${() => change(x.id, { disabled: !x.disabled_at })}>${x.disabled_at ? t('admin.terminal.enable') : t('admin.terminal.disable')}</button>
            <button class="btn btn-small btn-danger" data-testid="terminal-revoke" data-id=${x.id} onClick=${() => revoke(x.id)}>${t('admin.revoke')}</button>`}</div></td></tr>`)}</tbody></table></${List}>
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
  const [editing, setEditing] = useState(null);
  async function change(id, body) {
    setError(null);
    setMsg('');
    try {
      await request('PATCH', `/api/v1/admin/staff/${encodeURIComponent(id)}`, body);
      setEditing(null);
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
    <div class="panel table-wrap" tabindex="0" role="region" aria-label=${t('admin.staff.list')}>
      <h2 class="panel-title">${t('admin.staff.list')}</h2>
      <${List} loading=${list.loading && !list.data} error=${list.error} items=${staff} empty=${t('admin.staff.empty')}><table class="table" data-testid="staff-table">
        <thead><tr><th scope="col">${t('admin.staff.username')}</th><th scope="col">${t('admin.staff.role')}</th><th scope="col">${t('admin.terminal.station')}</th><th scope="col">${t('admin.staff.status')}</th><th scope="col">${t('admin.staff.actions')}</th></tr></thead>
        <tbody>${staff.map((x) => html`<tr data-testid="staff-row" data-id=${x.id} data-username=${x.username} data-station=${x.station_code || ''} data-disabled=${x.disabled_at ? 'true' : 'false'}><td>${x.username}</td>
          <td><span class=${'badge ' + (x.role === 'admin' ? 'badge-blue' : x.role === 'officer' ? 'badge-warn' : 'badge-muted')}>${t('admin.staff.role.' + x.role)}</span></td>
          <td class="mono">${editing?.id === x.id ? html`<input aria-label=${t('admin.staff.station')} data-testid="staff-edit-station" value=${editing.station_code} maxlength="3" size="4" onInput=${(e) => setEditing({ ...editing, station_code: e.currentTarget.value.toUpperCase() })} />` : x.station_code || '—'}</td>
          <td data-testid="staff-status">${x.disabled_at ? html`<span class="badge badge-warn">${t('admin.staff.disabled')}</span>` : html`<span class="badge badge-ok">${t('admin.staff.active')}</span>`}</td>
          <td><div class="row-actions">${editing?.id === x.id ? html`
            <button class="btn btn-small btn-primary" data-testid="staff-save" onClick=${() => change(x.id, { station_code: editing.station_code.trim() })}>${t('admin.staff.save')}</button>
            <button class="btn btn-small btn-ghost" onClick=${() => setEditing(null)}>${t('common.cancel')}</button>` : html`
            <button class="btn btn-small btn-outline" data-testid="staff-edit" onClick=${() => setEditing({ id: x.id, station_code: x.station_code || '' })}>${t('admin.staff.edit_station')}</button>
            <button class="btn btn-small btn-outline" data-testid=${x.disabled_at ? 'staff-enable' : 'staff-disable'} onClick=${() => change(x.id, { disabled: !x.disabled_at })}>${x.disabled_at ? t('admin.staff.enable') : t('admin.staff.disable')}</button>`}</div></td></tr>`)}</tbody></table></${List}>
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
    <div class="panel table-wrap" tabindex="0" role="region" aria-label=${t('admin.keys.published')}>
      <h2 class="panel-title">${t('admin.keys.published')}</h2>
      <${List} loading=${list.loading && !list.data} error=${list.error} items=${keys} empty=${t('admin.keys.empty')}><table class="table" data-testid="keys-table">
        <thead><tr><th>${t('admin.keys.kid')}</th><th>${t('admin.keys.alg')}</th><th>${t('admin.keys.public_key')}</th><th>${t('admin.keys.not_before')}</th><th>${t('admin.keys.not_after')}</th><th>${t('admin.col.status')}</th></tr></thead>
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
