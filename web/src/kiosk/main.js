// The station kiosk (自助制证机, /kiosk): a self-service machine that prints
// a paper certificate (slip) after a face check. Touch first, Chinese first
// (English switch). It is paired once with its terminal API key (a terminal
// of kind kiosk); of the people who use it, it keeps nothing in the browser:
// identity, picture and slip live in memory only, and the screen returns to
// the start after each person and after 60 s without a touch.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, Spinner, useScreen, mountDemoRibbon } from '../lib/ui.js';
import { request } from '../lib/api.js';
import { errorText } from '../lib/errors.js';
import { PrintPage } from '../staff/window.js';
import './kiosk.css';

const KEY = 'tempid.kiosk.key'; // the machine's pairing, not a person's data
// A test may shorten the idle time (window.__tempidKioskIdleMs) to watch the reset.
const IDLE_MS = () => globalThis.__tempidKioskIdleMs || 60 * 1000;

const words = {
  zh: {
    title: '临时乘车身份证明 自助制证', start: '点击开始', pair: '配对本机', pairHint: '请输入管理员提供的终端密钥（自助制证机）',
    pairBtn: '配对', name: '姓名', id: '身份证号码', next: '下一步', back: '返回', clear: '清除',
    consentTitle: '人脸识别授权', consentText: '为确认您本人身份，本机将采集您的面部图像，仅用于本次核验，核验后不保存图像。您也可以前往人工窗口办理，无需人脸识别。',
    agree: '同意并继续', decline: '不同意（前往人工窗口）', faceTitle: '请正对摄像头', capture: '拍照核验', checking: '正在核验…',
    failed: '核验未通过，请重试或前往人工窗口', printing: '正在打印，请取走您的证明', done: '完成', lang: 'English',
  },
  en: {
    title: 'Temporary boarding identity certificate · self-service', start: 'Tap to start', pair: 'Pair this kiosk', pairHint: 'Enter the terminal key (kind kiosk) from your administrator',
    pairBtn: 'Pair', name: 'Name', id: 'ID number', next: 'Next', back: 'Back', clear: 'Clear',
    consentTitle: 'Face recognition consent', consentText: 'To confirm it is you, this kiosk takes a picture of your face for this check only; the picture is not kept. You may instead go to the manual window, without face recognition.',
    agree: 'Agree and continue', decline: 'Decline (go to the manual window)', faceTitle: 'Please face the camera', capture: 'Take the picture', checking: 'Checking…',
    failed: 'The check did not pass; try again or go to the manual window', printing: 'Printing: please take your certificate', done: 'Done', lang: '中文',
  },
};

function App() {
  const [lang, setLang] = useState('zh');
  const w = (k) => words[lang][k];
  const [key, setKey] = useState(() => localStorage.getItem(KEY) || '');
  const [screen, setScreen] = useState('welcome');
  const [name, setName] = useState('');
  const [id, setId] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [slip, setSlip] = useState(null);
  const [station, setStation] = useState('');
  const idleRef = useRef(0);
  // The kiosk's language is its own (reset for each person), so the page's
  // lang and title follow it here.
  useEffect(() => {
    document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  }, [lang]);
  useScreen(screen, w('title'), w('title'));

  const api = (method, path, body, extra = {}) => request(method, path, body, { headers: { Authorization: 'Bearer ' + key, ...extra } });

  function reset() {
    setScreen('welcome'); setName(''); setId(''); setError(''); setBusy(false); setSlip(null); setLang('zh');
  }

  // Back to the start after 60 s without a touch, whatever the screen.
  useEffect(() => {
    const arm = () => {
      clearTimeout(idleRef.current);
      idleRef.current = setTimeout(reset, IDLE_MS());
    };
    arm();
    for (const ev of ['pointerdown', 'keydown', 'touchstart']) document.addEventListener(ev, arm, true);
    return () => {
      clearTimeout(idleRef.current);
      for (const ev of ['pointerdown', 'keydown', 'touchstart']) document.removeEventListener(ev, arm, true);
    };
  }, []);

  useEffect(() => {
    if (!key) return;
    api('GET', '/api/v1/verifier').then((v) => setStation(v.terminal?.station_code || '')).catch(() => {});
  }, [key]);

  if (!key) return html`<${Pair} w=${w} onPaired=${(k) => { localStorage.setItem(KEY, k); setKey(k); }} />`;

  let body;
  switch (screen) {
    case 'welcome':
      body = html`<button class="k-start" id="kiosk-start" data-testid="kiosk-start" onClick=${() => setScreen('entry')}>${w('start')}</button>`;
      break;
    case 'entry':
      body = html`<form class="k-form" onSubmit=${(e) => { e.preventDefault(); setScreen('consent'); }}>
        <label>${w('name')}<input id="kiosk-name" data-testid="kiosk-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} autocomplete="off" /></label>
        <label>${w('id')}<input id="kiosk-id" data-testid="kiosk-id" class="mono" value=${id} inputmode="none" autocomplete="off" onInput=${(e) => setId(e.currentTarget.value.toUpperCase())} /></label>
        <${Keypad} onKey=${(k) => setId((v) => (k === 'DEL' ? v.slice(0, -1) : (v + k).slice(0, 18)))} />
        <div class="k-actions"><button type="button" class="k-btn" onClick=${reset}>${w('back')}</button>
        <button class="k-btn k-primary" id="kiosk-next" data-testid="kiosk-next" disabled=${!name.trim() || id.length !== 18}>${w('next')}</button></div>
      </form>`;
      break;
    case 'consent':
      body = html`<div class="k-consent" data-testid="kiosk-consent"><h2>${w('consentTitle')}</h2><p>${w('consentText')}</p>
        <div class="k-actions"><button class="k-btn" id="kiosk-decline" onClick=${reset}>${w('decline')}</button>
        <button class="k-btn k-primary" id="kiosk-agree" data-testid="kiosk-agree" onClick=${() => setScreen('face')}>${w('agree')}</button></div></div>`;
      break;
    case 'face':
      body = html`<${Face} w=${w} api=${api} name=${name} id=${id} onError=${(m) => setError(m)}
        onSlip=${(s) => { setSlip(s); setName(''); setId(''); setScreen('print'); }} />`;
      break;
    case 'print':
      body = html`<div class="k-print"><p class="no-print">${w('printing')}</p>
        <${PrintPage} slip=${slip} station=${station} onDone=${reset} /></div>`;
      break;
  }
  return html`<div class="kiosk" data-testid="kiosk" data-screen=${screen}>
    <header class="k-bar no-print"><h1>${w('title')}</h1>
      <button class="k-lang" id="kiosk-lang" lang=${lang === 'zh' ? 'en' : 'zh-CN'} onClick=${() => setLang(lang === 'zh' ? 'en' : 'zh')}>${w('lang')}</button></header>
    <main class="k-main">
      ${error ? html`<div class="alert alert-error no-print" role="alert" data-testid="kiosk-error">${error}</div>` : null}
      ${busy ? html`<${Spinner} />` : null}
      ${body}
    </main>
  </div>`;
}

function Keypad({ onKey }) {
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'X', '0', 'DEL'];
  return html`<div class="k-keypad">${keys.map((k) => html`<button type="button" class="k-key" data-key=${k} onClick=${() => onKey(k)}>${k === 'DEL' ? '⌫' : k}</button>`)}</div>`;
}

function Pair({ w, onPaired }) {
  const [k, setK] = useState('');
  const [error, setError] = useState('');
  async function pair(e) {
    e.preventDefault();
    try {
      const v = await request('GET', '/api/v1/verifier', undefined, { headers: { Authorization: 'Bearer ' + k.trim() } });
      if (v.terminal?.kind !== 'kiosk') throw new Error('not a kiosk');
      onPaired(k.trim());
    } catch (err) {
      setError(err.status ? errorText(err) : 'not a kiosk terminal');
    }
  }
  return html`<main class="k-main"><form class="k-form k-pair" onSubmit=${pair} data-testid="kiosk-pair"><h1>${w('pair')}</h1>
    <label for="kiosk-key">${w('pairHint')}</label>
    <input id="kiosk-key" data-testid="kiosk-key" value=${k} onInput=${(e) => setK(e.currentTarget.value)} autocomplete="off"
      aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'kiosk-key-error' : undefined} />
    ${error ? html`<div class="alert alert-error" role="alert" id="kiosk-key-error">${error}</div>` : null}
    <button class="k-btn k-primary" id="kiosk-pair-btn" data-testid="kiosk-pair-btn">${w('pairBtn')}</button></form></main>`;
}

function Face({ w, api, name, id, onSlip, onError }) {
  const videoRef = useRef(null);
  const [check, setCheck] = useState(null);
  const [phase, setPhase] = useState('starting');
  useEffect(() => {
    let stream = null;
    let stopped = false;
    (async () => {
      try {
        const res = await api('POST', '/api/v1/kiosk/face-checks', { purpose: 'apply', subject: { name: name.trim(), id_number: id }, consent: true });
        if (stopped) return;
        setCheck(res.face_check);
        stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
        if (stopped) return stream.getTracks().forEach((tr) => tr.stop());
        videoRef.current.srcObject = stream;
        await videoRef.current.play().catch(() => {});
        setPhase('ready');
      } catch (err) {
        onError(errorText(err));
        setPhase('error');
      }
    })();
    return () => {
      stopped = true;
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, []);
  async function capture() {
    const v = videoRef.current;
    if (!v || !v.videoWidth || !check) return;
    setPhase('checking');
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    c.getContext('2d').drawImage(v, 0, 0);
    const blob = await new Promise((res) => c.toBlob(res, 'image/jpeg', 0.9));
    c.width = 0; // drop the picture
    try {
      const r = await api('POST', check.capture_url, blob);
      if (r.face_check.status !== 'passed') {
        setPhase('ready');
        onError(w('failed'));
        return;
      }
      const idem = Array.from(crypto.getRandomValues(new Uint8Array(16)), (x) => x.toString(16).padStart(2, '0')).join('');
      const s = await api('POST', '/api/v1/kiosk/slips', { face_check_id: check.id, name: name.trim(), id_number: id }, { 'Idempotency-Key': idem });
      onSlip(s);
    } catch (err) {
      setPhase('ready');
      onError(errorText(err));
    }
  }
  return html`<div class="k-face" data-testid="kiosk-face" data-phase=${phase}><h2>${w('faceTitle')}</h2>
    <video ref=${videoRef} playsinline muted></video>
    <button class="k-btn k-primary" id="kiosk-capture" data-testid="kiosk-capture" disabled=${phase !== 'ready'} onClick=${capture}>${phase === 'checking' ? w('checking') : w('capture')}</button></div>`;
}

mountDemoRibbon();
render(html`<${App} />`, document.getElementById('app'));
