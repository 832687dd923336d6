// The railway terminal (/terminal): a handheld or a gate's screen that
// verifies codes offline, in the browser, with the trust bundle it keeps
// fresh, and uploads its scan log when the network is there. Paired once
// with a terminal API key (offline grant), typed or read by the camera from
// the QR the admin console shows. Input is a keyboard-wedge scanner (the
// code typed and Enter) or the camera; both go through one path. A verdict
// is seen, felt (vibration) and heard (a tone, unless switched off).
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, useLang, initLang, LangSwitch, Icon, Alert, useScreen, mountDemoRibbon } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { CameraScanner } from '../lib/camera.js';
import { Terminal } from './engine.js';
import { beep, soundOn, setSoundOn } from './sound.js';
import './terminal.css';

const OPS = ['entry', 'ticket_check', 'id_check', 'ticket_purchase', 'refund', 'change', 'reimbursement_voucher'];
const term = new Terminal();

function useTerminal() {
  const [, set] = useState(0);
  useEffect(() => term.on(() => set((n) => n + 1)), []);
  return term;
}

function App() {
  useLang();
  const tm = useTerminal();
  const [loaded, setLoaded] = useState(false);
  useScreen(tm.pairing ? 'scanner' : 'pairing', t('terminal.title'), t('terminal.title'));
  useEffect(() => {
    tm.load().then(() => setLoaded(true));
    const refresh = setInterval(() => tm.refresh(), 60 * 1000);
    const upload = setInterval(() => tm.upload(), 5 * 1000);
    const online = () => { tm.refresh(); tm.upload(); };
    addEventListener('online', online);
    return () => { clearInterval(refresh); clearInterval(upload); removeEventListener('online', online); };
  }, []);
  if (!loaded) return html`<div class="term" data-testid="terminal-loading"></div>`;
  return tm.pairing ? html`<${Scanner} tm=${tm} />` : html`<${Pairing} tm=${tm} />`;
}

function Pairing({ tm }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [camera, setCamera] = useState(false);
  const lastCam = useRef({ text: '', at: 0 });
  async function pair(k) {
    setBusy(true);
    setError('');
    try {
      await tm.pair(k.trim());
    } catch (err) {
      setError(err.status === 401 || err.status === 403 ? t('terminal.pair.refused') : t('terminal.pair.failed'));
    } finally {
      setBusy(false);
    }
  }
  function submit(e) {
    e.preventDefault();
    pair(key);
  }
  // The camera sees the pairing QR many times a second: one try every 5 s
  // while a key is held in view, not a request per frame. The key is not shown in the
  // field: it is a secret, and the admin's screen is the place to read it.
  function onCameraCode(text) {
    const last = lastCam.current;
    if (busy || (text === last.text && Date.now() - last.at < 5000)) return;
    lastCam.current = { text, at: Date.now() };
    pair(text);
  }
  return html`<main class="term pairing" id="screen" data-testid="screen-pairing">
    <div class="pair-card">
      <div class="pair-head"><${Icon} name="scan" size=${30} /><h1>${t('terminal.title')}</h1><${LangSwitch} /></div>
      <p>${t('terminal.pair.desc')}</p>
      <form onSubmit=${submit}>
        <label for="pair-key">${t('terminal.pair.key')}</label>
        <input id="pair-key" data-testid="pair-key" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} autocomplete="off" required />
        <${Alert}>${error}</${Alert}>
        <button class="btn btn-primary btn-block" id="pair-submit" data-testid="pair-submit" disabled=${busy}>${t('terminal.pair.submit')}</button>
      </form>
      <button type="button" class="btn btn-outline btn-block" id="pair-camera-toggle" data-testid="pair-camera-toggle" aria-pressed=${String(camera)}
        onClick=${() => setCamera(!camera)}><${Icon} name="camera" size=${18} /> ${camera ? t('terminal.camera.stop') : t('terminal.pair.camera')}</button>
      ${camera ? html`<${CameraScanner} onCode=${onCameraCode} error=${() => t('terminal.camera.error')} />` : null}
    </div>
  </main>`;
}

function age(ms) {
  if (!isFinite(ms)) return t('terminal.bundle.none');
  const min = Math.max(0, Math.floor(ms / 60000));
  return min < 60 ? t('terminal.bundle.minutes', { n: min }) : t('terminal.bundle.hours', { n: Math.floor(min / 60) });
}

function Scanner({ tm }) {
  useLang();
  const [line, setLine] = useState('');
  const [result, setResult] = useState(null);
  const input = useRef(null);
  const [camera, setCamera] = useState(false);
  const [sound, setSound] = useState(soundOn);
  const lastCam = useRef({ code: '', at: 0 });
  const [, tick] = useState(0);
  useEffect(() => {
    const i = setInterval(() => tick((n) => n + 1), 15 * 1000);
    return () => clearInterval(i);
  }, []);
  // A keyboard-wedge scanner types into whatever has the focus: keep it here.
  useEffect(() => { input.current?.focus(); });
  async function submit(e) {
    e.preventDefault();
    // The field's own value: a scanner types faster than renders, so the
    // state may lag a keystroke behind at Enter.
    const code = input.current?.value ?? line;
    if (input.current) input.current.value = '';
    setLine('');
    if (!code.trim()) return;
    await verify(code);
  }
  // verify is the one path of a scan, from the wedge scanner or the camera.
  async function verify(code) {
    const r = await tm.scan(code);
    setResult((prev) => ({ ...r, n: (prev?.n || 0) + 1 }));
    if (navigator.vibrate) navigator.vibrate(r.valid ? 80 : [80, 60, 80]);
    beep(r.valid, { on: sound });
  }
  // The camera sees a code many times a second: it is verified once while
  // it stays in view. Shown again after 5 s out of view, it is a new scan
  // (and flagged as a replay, as a second wedge scan would be).
  function onCameraCode(code) {
    const last = lastCam.current;
    if (code === last.code && Date.now() - last.at < 5000) {
      last.at = Date.now();
      return;
    }
    lastCam.current = { code, at: Date.now() };
    verify(code);
  }
  function toggleSound() {
    setSoundOn(!sound);
    setSound(!sound);
  }
  const stale = tm.stale();
  return html`<main class="term" id="screen" data-testid="screen-scanner">
    <header class="term-bar">
      <div class="brand"><${Icon} name="train" size=${24} /><h1>${t('terminal.title')}</h1></div>
      <div class=${'bundle-age' + (stale ? ' stale' : '')} id="bundle-age" data-testid="bundle-age" data-stale=${String(stale)}>${t('terminal.bundle.age')} ${age(tm.ageMs())}</div>
      <div class="net" id="net" data-online=${String(tm.online)}>${tm.online ? t('terminal.online') : t('terminal.offline')}</div>
      <div class="pending" id="pending" data-testid="pending" data-count=${tm.pending}>${t('terminal.pending', { n: tm.pending })}</div>
      <button type="button" class="sound" id="sound-toggle" data-testid="sound-toggle" aria-pressed=${String(sound)} onClick=${toggleSound}>
        ${sound ? t('terminal.sound.on') : t('terminal.sound.off')}</button>
      <${LangSwitch} />
    </header>
    ${tm.logFull ? html`<div class="alert alert-error" id="log-full" data-testid="log-full">${t('terminal.log_full')}</div>` : null}
    ${tm.refused ? html`<div class="alert alert-error" id="bundle-refused" data-testid="bundle-refused">${t('terminal.bundle.refused')}</div>` : null}
    <div class="ops">${OPS.map((op) => html`<button type="button" class=${'op' + (tm.pairing.operation === op ? ' on' : '')} data-testid=${'op-' + op} id=${'op-' + op}
      onClick=${() => tm.setOperation(op)}>${t('op.' + op)}</button>`)}</div>
    <form class="scan-row" onSubmit=${submit}>
      <input ref=${input} id="scan-input" data-testid="scan-input" value=${line} onInput=${(e) => setLine(e.currentTarget.value)}
        placeholder=${t('terminal.scan.placeholder')} autocomplete="off" autocapitalize="off" spellcheck="false" />
      <button type="button" class="cam-toggle" id="camera-toggle" data-testid="camera-toggle" aria-pressed=${String(camera)} onClick=${() => setCamera(!camera)}>
        <${Icon} name="camera" size=${20} /> ${camera ? t('terminal.camera.stop') : t('terminal.camera.start')}</button>
    </form>
    ${camera ? html`<${CameraScanner} onCode=${onCameraCode} error=${() => t('terminal.camera.error')} />` : null}
    <${Verdict} r=${result} />
  </main>`;
}

function Verdict({ r }) {
  if (!r) return html`<div class="verdict-panel idle" id="result" data-testid="result" data-verdict="">${t('terminal.scan.waiting')}</div>`;
  // A slip's fields are shown as a code's; its kind says it is paper.
  const c = r.code || r.slip;
  const kind = r.kind || 'code';
  const showHolder = c && !['malformed', 'stale_bundle', 'unknown_key', 'bad_signature'].includes(r.reason);
  const counter = ['ticket_purchase', 'refund', 'change', 'reimbursement_voucher', 'id_check'].includes(r.operation);
  return html`<div class=${'verdict-panel ' + (r.valid ? 'valid' : 'invalid')} id="result" data-testid="result"
      data-verdict=${r.valid ? 'valid' : 'invalid'} data-reason=${r.valid ? '' : r.reason} data-kind=${kind} data-ms=${r.ms.toFixed(2)} data-n=${r.n}>
    <div class="big"><${Icon} name=${r.valid ? 'check' : 'cross'} size=${64} /> ${r.valid ? t('staff.valid') : t('staff.invalid')}</div>
    <div class="kind" id="result-kind" data-testid="result-kind" data-kind=${kind}>${t('terminal.kind.' + kind)}</div>
    ${r.valid ? null : html`<div class="reason" id="result-reason" data-testid="result-reason">${t('reason.' + r.reason)}</div>`}
    ${showHolder ? html`<div class="holder"><span id="result-name">${c.nameMasked}</span>
      <span class="mono" id="result-id">${r.valid && counter && r.idNumber ? r.idNumber : c.idMasked}</span></div>` : null}
  </div>`;
}

initLang();
mountDemoRibbon();
render(html`<${App} />`, document.getElementById('app'));
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/terminal-sw.js', { scope: '/terminal' }).then(() => navigator.serviceWorker.ready).then((reg) => {
    const shell = ['/terminal', ...performance.getEntriesByType('resource').map((e) => e.name).filter((u) => u.includes('/assets/'))];
    reg.active?.postMessage({ shell });
  }).catch(() => {});
}
