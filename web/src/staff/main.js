// The staff console (/staff): a ticket clerk or ID-check lane chooses the
// operation and scans the passenger's code with a keyboard-wedge scanner
// or the camera; the verdict is shown large enough to read at a glance.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, useConsoleSession, useLang, initLang, LangSwitch, StaffLogin, Icon, Spinner, Field, useScreen, mountDemoRibbon } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { CameraScanner } from '../lib/camera.js';
import { get, post, del, setCsrf, onAuthLost } from '../lib/api.js';
import { errorText, reasonText, shortReason } from '../lib/errors.js';
import { fmtDateTime, fmtTime } from '../lib/format.js';
import { Window } from './window.js';
import './staff.css';

const OPERATIONS = ['ticket_purchase', 'refund', 'change', 'reimbursement_voucher', 'id_check', 'entry', 'ticket_check'];
const HISTORY_KEY = 'tempid.staff.history';
const OP_KEY = 'tempid.staff.operation';
const HISTORY_MAX = 50;
const STATION_KEY = 'tempid.staff.station';
// FULL_IDENTITY are the operations at which the clerk compares the full
// name and ID number with the booking (API.md); elsewhere they are masked.
const FULL_IDENTITY = ['ticket_purchase', 'refund', 'change', 'reimbursement_voucher', 'id_check'];

function loadHistory() {
  try {
    return JSON.parse(sessionStorage.getItem(HISTORY_KEY) || '[]');
  } catch {
    return [];
  }
}

/** cleanScan keeps the code as scanned: only line ends and text before the prefix go (a space is a Base45 character). */
function cleanScan(s) {
  const v = s.replace(/[\r\n]+/g, '');
  const m = /TIDS?1:/.exec(v);
  return m && m.index > 0 ? v.slice(m.index) : v;
}

function App() {
  useLang();
  const [state, account, setState, setAccount] = useConsoleSession(['staff', 'officer', 'admin']);
  useEffect(() => onAuthLost(() => setState('out')), []);
  if (state === 'loading') return html`<div class="console-login"><${Spinner} /></div>`;
  if (state === 'out') {
    return html`<${StaffLogin} title=${t('staff.title')} subtitle=${t('staff.console')} roles=${['staff', 'officer', 'admin']}
      onLoggedIn=${(r) => { setAccount(r.account); setState('in'); }} />`;
  }
  const logout = async () => {
    try { await del('/api/v1/session'); } catch { /* the local log-out still happens */ }
    sessionStorage.removeItem(HISTORY_KEY);
    sessionStorage.removeItem(STATION_KEY);
    setCsrf(''); setAccount(null); setState('out');
  };
  return html`<${StationGate} account=${account} onLogout=${logout} />`;
}

// StationGate binds the console to a station: staff and officers verify at
// their own; an administrator, bound to none, names one first, and every
// verification is then recorded there.
function StationGate({ account, onLogout }) {
  useLang();
  const own = account?.station_code || '';
  const [station, setStation] = useState(() => own || sessionStorage.getItem(STATION_KEY) || '');
  if (station) {
    return html`<${Console} account=${account} station=${station} onLogout=${onLogout}
      onChangeStation=${own ? null : () => { sessionStorage.removeItem(STATION_KEY); setStation(''); }} />`;
  }
  return html`<${StationPicker} account=${account} onLogout=${onLogout} onPick=${(code) => { sessionStorage.setItem(STATION_KEY, code); setStation(code); }} />`;
}

function StationPicker({ account, onPick, onLogout }) {
  useLang();
  const [code, setCode] = useState('');
  const [bad, setBad] = useState(false);
  function submit(e) {
    e.preventDefault();
    const c = code.trim().toUpperCase();
    if (!/^[A-Z]{3}$/.test(c)) {
      setBad(true);
      return;
    }
    onPick(c);
  }
  return html`<div class="console">
    <header class="console-bar">
      <div class="brand"><${Icon} name="train" size=${26} /><div><strong>${t('staff.title')}</strong><small>${t('staff.console')}</small></div></div>
      <div class="bar-right">
        <span class="who" data-testid="staff-user">${account?.username || ''}</span>
        <${LangSwitch} />
        <button class="btn btn-small btn-bar" onClick=${onLogout} id="logout" data-testid="logout"><${Icon} name="logout" size=${16} /> ${t('common.logout')}</button>
      </div>
    </header>
    <main class="station-pick">
      <form class="panel" onSubmit=${submit} data-testid="station-form">
        <h1 class="station-title">${t('staff.station.title')}</h1>
        <p class="station-desc">${t('staff.station.desc')}</p>
        <${Field} label=${t('staff.station.code')} id="station-code" error=${bad ? t('staff.station.invalid') : ''}>
          <input id="station-code" data-testid="station-code" value=${code} maxlength="3" autocomplete="off" autocapitalize="characters"
            aria-invalid=${bad ? 'true' : undefined} aria-describedby=${bad ? 'station-code-error' : undefined}
            onInput=${(e) => { setCode(e.currentTarget.value.toUpperCase()); setBad(false); }} />
        </${Field}>
        <button class="btn btn-primary btn-block" type="submit" data-testid="station-go">${t('staff.station.go')}</button>
      </form>
    </main>
  </div>`;
}

function Console({ account, station, onLogout, onChangeStation }) {
  useLang();
  const [operation, setOperation] = useState(() => {
    const saved = sessionStorage.getItem(OP_KEY);
    return OPERATIONS.includes(saved) ? saved : 'id_check';
  });
  const [scan, setScan] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const [history, setHistory] = useState(loadHistory);
  const [camera, setCamera] = useState(false);
  const inputRef = useRef(null);
  const busyRef = useRef(false);
  const lastCamRef = useRef({ code: '', at: 0 });
  const [mode, setMode] = useState('verify');
  useScreen(mode, t('staff.title'), t('staff.console'));

  // Keep the focus on the scanner input: a keyboard-wedge scanner types
  // into whatever has the focus.
  useEffect(() => {
    const refocus = () => {
      const a = document.activeElement;
      if (a && a !== document.body && a !== inputRef.current && (a.tagName === 'INPUT' || a.tagName === 'SELECT' || a.tagName === 'TEXTAREA')) return;
      inputRef.current?.focus();
    };
    refocus();
    const id = setInterval(refocus, 1000);
    document.addEventListener('click', refocus);
    return () => {
      clearInterval(id);
      document.removeEventListener('click', refocus);
    };
  }, []);

  useEffect(() => sessionStorage.setItem(OP_KEY, operation), [operation]);

  async function verify(raw, source) {
    const code = cleanScan(raw);
    if (!code || busyRef.current) return;
    busyRef.current = true;
    setBusy(true);
    try {
      const res = await post('/api/v1/verifications', { code, operation, station_code: station });
      const entry = { ...res, operation, source, at: res.verified_at || new Date().toISOString(), id: Date.now() + Math.random() };
      setResult(entry);
      setHistory((h) => {
        // Only masked data goes to sessionStorage; the full ID number stays on screen.
        const slim = { id: entry.id, at: entry.at, operation, verdict: res.verdict, reason: res.reason, replay: !!res.replay,
          name_masked: res.holder?.name_masked, id_number_masked: res.holder?.id_number_masked };
        const next = [slim, ...h].slice(0, HISTORY_MAX);
        sessionStorage.setItem(HISTORY_KEY, JSON.stringify(next));
        return next;
      });
    } catch (err) {
      if (err.status === 401) return; // onAuthLost shows the login
      setResult({ error: errorText(err), operation, at: new Date().toISOString() });
    } finally {
      busyRef.current = false;
      setBusy(false);
      setScan('');
      inputRef.current?.focus();
    }
  }

  function onCameraCode(code) {
    // The camera sees the same code many times a second: verify it once.
    const last = lastCamRef.current;
    if (code === last.code && Date.now() - last.at < 5000) return;
    lastCamRef.current = { code, at: Date.now() };
    verify(code, 'camera');
  }

  return html`<div class="console">
    <header class="console-bar">
      <div class="brand"><${Icon} name="train" size=${26} /><div><h1 class="brand-title">${t('staff.title')}</h1><small>${t('staff.console')}</small></div></div>
      <div class="bar-right">
        <span class="who" data-testid="staff-user">${t('staff.signed_in', { name: account?.username || '', role: account?.station_code || account?.role || '' })}</span>
        <span class="who" data-testid="staff-station" data-station=${station}>${t('staff.station.current', { station })}</span>
        ${onChangeStation ? html`<button class="btn btn-small btn-bar" onClick=${onChangeStation} data-testid="station-change">${t('staff.station.change')}</button>` : null}
        <${LangSwitch} />
        <button class="btn btn-small btn-bar" onClick=${onLogout} id="logout" data-testid="logout"><${Icon} name="logout" size=${16} /> ${t('common.logout')}</button>
      </div>
    </header>
    ${account?.role === 'officer' ? html`<nav class="modes no-print">
      <button class=${'btn btn-small ' + (mode === 'verify' ? 'btn-primary' : 'btn-outline')} id="mode-verify" data-testid="mode-verify" onClick=${() => setMode('verify')}>核验 Verify</button>
      <button class=${'btn btn-small ' + (mode === 'window' ? 'btn-primary' : 'btn-outline')} id="mode-window" data-testid="mode-window" onClick=${() => setMode('window')}>人工窗口 Window</button>
    </nav>` : null}
    ${mode === 'window' ? html`<main class="console-body window-body"><${Window} station=${account?.station_code || ''} /></main>` : html`<main class="console-body">
      <section class="left">
        <div class="panel">
          <h2 class="panel-title" id="operation-title">${t('staff.operation')}</h2>
          <div class="ops" role="radiogroup" aria-labelledby="operation-title" id="operation" data-testid="operation" data-value=${operation}>
            ${OPERATIONS.map((op) => html`<button role="radio" aria-checked=${op === operation} class=${'op' + (op === operation ? ' on' : '')}
              id=${'op-' + op} data-testid=${'op-' + op} onClick=${() => setOperation(op)}>${t('op.' + op)}</button>`)}
          </div>
        </div>
        <form class="panel scan" onSubmit=${(e) => { e.preventDefault(); verify(scan, 'scanner'); }} id="scan-form" data-testid="scan-form">
          <div class="scan-row">
            <${Icon} name="scan" size=${28} />
            <input ref=${inputRef} id="scan-input" data-testid="scan-input" value=${scan} placeholder=${t('staff.scan.placeholder')} aria-label=${t('staff.scan.placeholder')}
              autocomplete="off" autocapitalize="off" autocorrect="off" spellcheck="false" inputmode="none"
              onInput=${(e) => setScan(e.currentTarget.value)} disabled=${false} />
            <button class="btn btn-primary" type="submit" id="scan-submit" data-testid="scan-submit" disabled=${busy || !scan}>${busy ? t('staff.verifying') : t('staff.verify')}</button>
          </div>
          <div class="hint">${t('staff.scan.hint')}</div>
          <button type="button" class="btn btn-outline btn-small cam-toggle" id="camera-toggle" data-testid="camera-toggle" onClick=${() => setCamera(!camera)}>
            <${Icon} name="camera" size=${16} /> ${camera ? t('staff.camera.stop') : t('staff.camera.start')}</button>
          ${camera ? html`<${CameraScanner} onCode=${onCameraCode} />` : null}
        </form>
        <${History} history=${history} onClear=${() => { sessionStorage.removeItem(HISTORY_KEY); setHistory([]); }} />
      </section>
      <section class="right">
        <${ResultCard} result=${result} busy=${busy} />
      </section>
    </main>`}
  </div>`;
}

function ResultCard({ result, busy }) {
  useLang();
  if (busy && !result) return html`<div class="result waiting" id="result" data-testid="result" data-verdict="pending"><${Spinner} label=${t('staff.verifying')} /></div>`;
  if (!result) {
    return html`<div class="result waiting" id="result" data-testid="result" data-verdict="">
      <div class="big-icon"><${Icon} name="scan" size=${84} /></div>
      <h2>${t('staff.waiting')}</h2><p>${t('staff.waiting.desc')}</p></div>`;
  }
  if (result.error) {
    return html`<div class="result error" id="result" data-testid="result" data-verdict="error">
      <div class="big-icon"><${Icon} name="warn" size=${84} /></div>
      <h2 id="result-reason" data-testid="result-reason">${result.error}</h2></div>`;
  }
  const valid = result.verdict === 'valid';
  const h = result.holder || {};
  // The full identity is shown where the clerk compares it with the booking.
  const full = valid && FULL_IDENTITY.includes(result.operation) && !!h.id_number;
  return html`<div class=${'result ' + (valid ? 'valid' : 'invalid') + (busy ? ' dim' : '')} id="result" data-testid="result" data-verdict=${result.verdict} data-reason=${result.reason || ''} data-replay=${result.replay ? 'true' : 'false'}>
    <div class="verdict-row">
      <div class="big-icon"><${Icon} name=${valid ? 'check' : 'cross'} size=${92} /></div>
      <div>
        <div class="verdict" id="result-verdict" data-testid="result-verdict">${valid ? t('staff.valid') : t('staff.invalid')}</div>
        <div class="op-tag">${t('op.' + result.operation)} · ${fmtTime(result.at)}</div>
      </div>
    </div>
    ${!valid && result.reason ? html`<div class="reason" id="result-reason" data-testid="result-reason" data-reason=${result.reason}>${reasonText(result.reason)}</div>` : null}
    ${result.replay ? html`<div class="replay" id="result-replay" data-testid="result-replay"><${Icon} name="warn" size=${26} /> ${t('staff.replay')}</div>` : null}
    ${full ? html`<p class="compare" id="result-compare" data-testid="result-compare">${t('staff.compare')}</p>` : null}
    ${h.name_masked || h.id_number_masked || h.name ? html`<dl class="holder">
      <div class=${full ? 'full' : ''}><dt>${full ? t('staff.name_full') : t('staff.holder')}</dt><dd id="result-name" data-testid="result-name" data-full=${full ? 'true' : 'false'}>${h.name || h.name_masked}</dd></div>
      <div><dt>${t('staff.id_masked')}</dt><dd class="mono" id="result-id-masked" data-testid="result-id-masked">${h.id_number_masked}</dd></div>
      ${h.id_number ? html`<div class="full"><dt>${t('staff.id_full')}</dt><dd class="mono" id="result-id-full" data-testid="result-id-full">${h.id_number}</dd></div>` : null}
      ${result.certificate?.expires_at ? html`<div><dt>${t('staff.cert_expires')}</dt><dd id="result-cert-expires" data-testid="result-cert-expires">${fmtDateTime(result.certificate.expires_at)}</dd></div>` : null}
      ${result.pass_not_after ? html`<div><dt>${t('staff.pass_expires')}</dt><dd>${fmtDateTime(result.pass_not_after, true)}</dd></div>` : null}
    </dl>` : null}
    ${result.kind === 'slip' ? html`<div class="slip-info" data-testid="result-slip" data-used-elsewhere=${result.used_elsewhere ? 'true' : 'false'}>
      <div class="muted">纸质证明 · paper slip</div>
      ${h.photo ? html`<img class="holder-photo" src=${h.photo} alt="" data-testid="result-photo" />` : null}
      ${result.used_elsewhere ? html`<div class="replay" data-testid="result-used-elsewhere">⚠ 2 小时内已在其他车站进站 · admitted at another station within 2 h</div>` : null}
      ${result.uses?.length ? html`<ul class="uses" data-testid="result-uses">${result.uses.map((u) => html`<li>${fmtTime(u.at)} ${u.station_code} ${t('op.' + u.operation)}</li>`)}</ul>` : null}
    </div>` : null}
  </div>`;
}

function History({ history, onClear }) {
  useLang();
  return html`<div class="panel history-panel">
    <div class="panel-title row"><h2 class="panel-title" id="history-title">${t('staff.history')}</h2>
      ${history.length ? html`<button class="btn btn-ghost btn-small" onClick=${onClear} data-testid="history-clear">${t('staff.history.clear')}</button>` : null}</div>
    ${history.length === 0 ? html`<div class="muted empty">${t('staff.history.empty')}</div>` : html`<ul class="scans" id="scan-history" data-testid="scan-history" tabindex="0" aria-labelledby="history-title">
      ${history.map((e) => html`<li data-testid="scan-history-item" data-verdict=${e.verdict}>
        <span class=${'dot ' + (e.verdict === 'valid' ? 'ok' : 'bad')}></span>
        <span class="time">${fmtTime(e.at)}</span>
        <span class="h-op">${t('op.' + e.operation)}</span>
        <span class="who">${e.name_masked || '—'} <span class="mono muted">${e.id_number_masked || ''}</span></span>
        <span class=${'badge ' + (e.verdict === 'valid' ? 'badge-ok' : 'badge-bad')}>${e.verdict === 'valid' ? t('staff.valid') : shortReason(e.reason) || t('staff.invalid')}</span>
        ${e.replay ? html`<span class="badge badge-warn">${t('reason.short.replayed')}</span>` : null}
      </li>`)}
    </ul>`}
  </div>`;
}

initLang();
mountDemoRibbon();
render(html`<${App} />`, document.getElementById('app'));
