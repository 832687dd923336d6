// The certificate screen: the QR code is made on the phone every 60 s from
// the stored pass and the device key, with no network call, until the pass
// ends; then it asks for a new face check (R3). A tap on the code shows it
// full screen for a station's scanner. A certificate the server reports
// revoked, superseded or expired draws no code, and the screen says why.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import QRCode from 'qrcode';
import { html, useLang, useDialog, Icon, Alert } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { now } from '../lib/clock.js';
import { fmtDateTime, fmtDuration, toMs } from '../lib/format.js';
import { buildCode, stepAt, base64urlDecode } from '../lib/code.js';
import { getDeviceKey } from '../lib/keystore.js';

// QUIET_ZONE is the margin of light modules ISO/IEC 18004 asks for around
// a QR code; gate scanners rely on it, so it is drawn in every view.
const QUIET_ZONE = 4;

/** revokeReasonText shows a revocation's reason code in words. */
export function revokeReasonText(code) {
  const known = ['found_id_card', 'wrong_details', 'suspected_misuse', 'other'];
  return t('pass.revoke_reason.' + (known.includes(code) ? code : 'other'));
}

/** endedText says why a certificate can no longer be shown. */
export function endedText(cert) {
  if (cert?.status === 'revoked') {
    // A guest's status answer carries no reason.
    return cert.revoke_reason ? t('pass.ended.revoked', { reason: revokeReasonText(cert.revoke_reason) }) : t('pass.ended.revoked_plain');
  }
  if (cert?.status === 'superseded') return t('pass.ended.superseded');
  return t('pass.ended.expired');
}

// drawQR draws text on canvas with the quiet zone, width device pixels
// wide, and records the module count (quiet zone included) on the canvas
// for whoever measures the module size.
function drawQR(canvas, text, width) {
  const segments = [{ data: text, mode: 'alphanumeric' }];
  canvas.dataset.modules = String(QRCode.create(segments, { errorCorrectionLevel: 'M' }).modules.size + 2 * QUIET_ZONE);
  return QRCode.toCanvas(canvas, segments, {
    errorCorrectionLevel: 'M',
    margin: QUIET_ZONE,
    width,
    color: { dark: '#000000', light: '#ffffff' },
  });
}

// useWakeLock keeps the screen on while active, where the browser offers
// the Screen Wake Lock API; the lock is taken again when the page comes
// back into view (the browser drops it when hidden) and released on leave.
function useWakeLock(active) {
  useEffect(() => {
    if (!active || !('wakeLock' in navigator)) return;
    let lock = null;
    let live = true;
    const take = () => {
      if (document.visibilityState !== 'visible') return;
      navigator.wakeLock.request('screen').then((l) => {
        if (live) lock = l;
        else l.release();
      }).catch(() => {
        // Refused (battery saver, policy): the code is shown anyway.
      });
    };
    take();
    document.addEventListener('visibilitychange', take);
    return () => {
      live = false;
      document.removeEventListener('visibilitychange', take);
      lock?.release().catch(() => {});
    };
  }, [active]);
}

// FullQR is the code over the whole screen: as wide as the screen allows,
// on white, with the quiet zone, the screen kept awake and a hint to turn
// the brightness up.
function FullQR({ text, onClose }) {
  useLang();
  const ref = useRef(null);
  const closeRef = useRef(null);
  // Escape closes it, Tab stays in it, and focus goes back to the code.
  const dialogRef = useDialog(onClose);
  useWakeLock(true);
  useEffect(() => {
    if (!ref.current || !text) return;
    const side = Math.min(window.innerWidth, window.innerHeight);
    drawQR(ref.current, text, Math.round(side * (window.devicePixelRatio || 1))).catch(() => {});
  }, [text]);
  useEffect(() => closeRef.current?.focus(), []);
  return html`<div class="qr-full" ref=${dialogRef} role="dialog" aria-modal="true" aria-labelledby="qr-full-title" id="qr-full" data-testid="qr-full" onClick=${onClose}>
    <h2 class="qr-full-title" id="qr-full-title">${t('pass.full.title')}</h2>
    <canvas ref=${ref} id="qr-full-canvas" data-testid="qr-full-canvas" role="img" aria-label="QR"></canvas>
    <p class="qr-full-hint" id="qr-full-hint">${t('pass.full.hint')}</p>
    <button type="button" class="btn btn-outline" ref=${closeRef} id="qr-full-close" data-testid="qr-full-close" onClick=${onClose}>${t('common.close')}</button>
  </div>`;
}

function useNow(intervalMs = 250) {
  const [ms, setMs] = useState(now());
  useEffect(() => {
    const id = setInterval(() => setMs(now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return ms;
}

export function CertScreen({ stored, offline, onFaceAgain, onRenew, onApplyNew, onCode, onLogout }) {
  useLang();
  const nowMs = useNow();
  const cert = stored?.certificate;
  const pass = stored?.pass;
  const [key, setKey] = useState(undefined); // undefined: loading, null: none
  const [code, setCode] = useState({ step: -1, text: '', pass: '' });
  const [codeError, setCodeError] = useState('');
  const [full, setFull] = useState(false);
  const canvasRef = useRef(null);

  useEffect(() => {
    let live = true;
    getDeviceKey().then((k) => live && setKey(k));
    return () => {
      live = false;
    };
  }, [pass?.pass]);

  const passBytes = useMemo(() => {
    try {
      return pass?.pass ? base64urlDecode(pass.pass) : null;
    } catch {
      return null;
    }
  }, [pass?.pass]);

  const stepSeconds = pass?.step_seconds || 60;
  const step = stepAt(nowMs, stepSeconds);
  const certExp = toMs(cert?.expires_at);
  const passExp = toMs(pass?.not_after);
  const certOver = cert?.status && cert.status !== 'active' ? true : nowMs >= certExp;
  const passOver = !passBytes || !(nowMs < passExp);
  const needFace = !certOver && (passOver || key === null);
  const showCode = !certOver && !needFace && key;
  const renewable = !certOver && cert?.renewable_at && nowMs >= toMs(cert.renewable_at);

  // One code per step: ECDSA signatures are randomised, so the code is made
  // once when the step (or the pass) changes, not on every tick.
  useEffect(() => {
    if (!showCode || !passBytes) return;
    if (code.step === step && code.pass === pass.pass) return;
    let live = true;
    buildCode(passBytes, step, key.privateKey)
      .then((text) => {
        if (live) {
          setCode({ step, text, pass: pass.pass });
          setCodeError('');
          onCode?.(text);
        }
      })
      .catch((e) => live && setCodeError(String(e?.message || e)));
    return () => {
      live = false;
    };
  }, [showCode, step, pass?.pass, key]);

  useEffect(() => {
    if (!showCode || !code.text || !canvasRef.current) return;
    drawQR(canvasRef.current, code.text, 600).catch((e) => setCodeError(String(e?.message || e)));
  }, [code.text, showCode]);

  if (!cert) {
    return html`<section class="screen" data-testid="cert-screen" id="cert-screen" data-state="none">
      <div class="card empty">${t('cert.none')}</div>
      <button class="btn btn-primary btn-block btn-lg" onClick=${onApplyNew} id="cert-apply-new" data-testid="cert-apply-new">${t('cert.apply_new')}</button>
    </section>`;
  }

  const state = certOver ? 'expired' : needFace ? 'need_face' : code.text && code.step === step ? 'code' : 'generating';
  const fullOpen = full && state === 'code';
  const secondsLeft = stepSeconds - (Math.floor(nowMs / 1000) % stepSeconds);
  const statusWord = certOver && cert.status === 'active' ? t('status.expired') : t('status.' + (cert.status || 'active'));

  return html`<section class="screen cert" data-testid="cert-screen" id="cert-screen" data-state=${state} data-id=${cert.id}>
    ${offline ? html`<div class="offline-banner" data-testid="offline-banner">${t('common.offline')}</div>` : null}
    <div class=${'cert-card ' + (certOver ? 'is-over' : '')}>
      <div class="cert-head">
        <div class="cert-emblem"><${Icon} name="train" size=${26} /></div>
        <div class="cert-title">${t('cert.title')}</div>
        <span class=${'badge badge-' + (certOver ? 'muted' : 'ok')} id="cert-status" data-testid="cert-status" data-status=${certOver ? (cert.status === 'active' ? 'expired' : cert.status) : 'active'}>${statusWord}</span>
      </div>
      <div class="cert-holder">
        <div class="cert-name" id="cert-holder-name" data-testid="cert-holder-name">${cert.holder?.name_masked}</div>
        <div class="cert-id" id="cert-holder-id" data-testid="cert-holder-id">${cert.holder?.id_number_masked}</div>
      </div>
      <div class="qr-area">
        ${state === 'code' || state === 'generating' ? html`
          <div class="qr-box">
            <canvas ref=${canvasRef} id="cert-qr" data-testid="cert-qr" class=${state === 'code' ? '' : 'stale'} aria-hidden="true"></canvas>
            ${state === 'generating' ? html`<div class="qr-veil">${t('cert.generating')}</div>` : null}
            ${state === 'code' ? html`<button type="button" class="qr-open" id="cert-qr-open" data-testid="cert-qr-open"
              aria-label=${t('pass.full.open')} onClick=${() => setFull(true)}></button>` : null}
          </div>
          <div class="qr-tap-hint">${t('pass.full.tap')}</div>
          <output id="cert-code" data-testid="cert-code" data-code=${state === 'code' ? code.text : ''} data-step=${code.step} hidden>${state === 'code' ? code.text : ''}</output>
          <div class="countdown" id="cert-countdown" data-testid="cert-countdown" data-seconds=${secondsLeft}>
            <div class="countdown-bar"><span style=${`width:${(secondsLeft / stepSeconds) * 100}%`}></span></div>
            <span>${t('cert.refresh_in', { seconds: secondsLeft })}</span>
          </div>
          <div class="face-left" id="cert-face-left" data-testid="cert-face-left" data-ms=${Math.max(0, passExp - nowMs)}>
            <${Icon} name="clock" size=${16} /> ${t('cert.face_left', { time: fmtDuration(passExp - nowMs) })}
          </div>` : null}
        ${state === 'need_face' ? html`
          <div class="qr-need-face" data-testid="cert-need-face">
            <div class="qr-placeholder"><${Icon} name="face" size=${72} /></div>
            <p>${key === null && !passOver ? t('cert.need_face') : t('cert.face_again.desc')}</p>
            <button class="btn btn-primary btn-lg" id="cert-face-again" data-testid="cert-face-again" onClick=${onFaceAgain}>${t('cert.face_again')}</button>
          </div>` : null}
        ${state === 'expired' ? html`
          <div class="qr-need-face">
            <div class="qr-placeholder muted"><${Icon} name="cross" size=${72} /></div>
            <p id="cert-expired" data-testid="cert-expired" data-status=${cert.status === 'active' ? 'expired' : cert.status}>${endedText(cert.status === 'active' ? { status: 'expired' } : cert)}</p>
            <button class="btn btn-primary btn-lg" id="cert-apply-new" data-testid="cert-apply-new" onClick=${onApplyNew}>${t('cert.apply_new')}</button>
          </div>` : null}
      </div>
      <${Alert} testid="cert-error">${codeError}</${Alert}>
      <dl class="cert-facts">
        <div><dt>${t('cert.expires_at')}</dt><dd id="cert-expires" data-testid="cert-expires" data-at=${cert.expires_at}>${fmtDateTime(cert.expires_at)}</dd></div>
        <div><dt>${t('cert.issued_at')}</dt><dd>${fmtDateTime(cert.issued_at)}</dd></div>
        ${cert.city?.name ? html`<div><dt>${t('cert.city')}</dt><dd data-testid="cert-city">${cert.city.name}</dd></div>` : null}
      </dl>
      <div class="cert-foot">${t('cert.railway_only')}</div>
    </div>
    ${renewable ? html`<div class="card renew-card">
        <p>${t('cert.renew.desc')}</p>
        <button class="btn btn-outline btn-block" id="cert-renew" data-testid="cert-renew" onClick=${onRenew}>${t('cert.renew')}</button>
      </div>` : null}
    ${onLogout ? html`<button class="btn btn-link btn-block" id="cert-logout" data-testid="cert-logout" onClick=${onLogout}>${t('common.logout')}</button>` : null}
    ${fullOpen ? html`<${FullQR} text=${code.text} onClose=${() => setFull(false)} />` : null}
  </section>`;
}
