// The biometric consent screen and the face check (SPEC "Face checks").
// The device key is made (or loaded) before the face check is created, so
// the check, and then the pass, are bound to this device's key.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html, useLang, Alert, Icon, Spinner } from '../lib/ui.js';
import { t, FACE_REASONS } from '../lib/i18n.js';
import { post, request } from '../lib/api.js';
import { errorText } from '../lib/errors.js';
import { ensureDeviceKey, publicJwk } from '../lib/keystore.js';
import { now } from '../lib/clock.js';

export function ConsentScreen({ subjectName, onAgree, onDecline }) {
  useLang();
  const [checked, setChecked] = useState(false);
  return html`<section class="screen consent" data-testid="consent-screen" id="consent-screen">
    <div class="card consent-card">
      <div class="consent-icon"><${Icon} name="shield" size=${40} /></div>
      <h2>${t('consent.title')}</h2>
      ${subjectName ? html`<p class="muted center">${t('face.subject', { name: subjectName })}</p>` : null}
      <p>${t('consent.body1')}</p>
      <p><strong>${t('consent.body2')}</strong></p>
      <p class="muted small">${t('consent.body3')}</p>
      <label class="check">
        <input type="checkbox" id="consent-check" data-testid="consent-check" checked=${checked}
          onChange=${(e) => setChecked(e.currentTarget.checked)} />
        <span>${t('consent.check')}</span>
      </label>
    </div>
    <div class="actions">
      <button class="btn btn-primary btn-block btn-lg" id="consent-agree" data-testid="consent-agree" disabled=${!checked}
        onClick=${onAgree}>${t('consent.agree')}</button>
      <button class="btn btn-ghost btn-block" id="consent-decline" data-testid="consent-decline" onClick=${onDecline}>${t('consent.decline')}</button>
    </div>
  </section>`;
}

/** vendorNotice names the face-check vendor for the passenger (PIPL: who receives the picture). */
function vendorNotice(provider) {
  if (!provider || provider === 'simulator') return null;
  const key = 'face.provider.' + provider;
  const vendor = t(key) === key ? provider : t(key);
  return html`<p class="muted small center" id="face-vendor" data-testid="face-vendor">${t('face.vendor', { vendor })}</p>`;
}

/** reasonText is the words for a failed check's reason. */
function reasonText(reason) {
  return t(FACE_REASONS.includes(reason) ? 'face.reason.' + reason : 'face.reason.unknown');
}

/**
 * FaceScreen runs one face check: request = {purpose: 'apply', subject} or
 * {purpose: 'view', certificate_id}; for a guest {purpose, subject, guest:
 * true}. onPassed(faceCheckId) continues the flow; onFatal(err) hands
 * errors that belong to the previous screen back; onHosted(check) sends
 * the passenger to a hosted provider's page (the check has a redirect_url
 * instead of a capture_url).
 */
export function FaceScreen({ request: req, subjectName, onPassed, onFatal, onCancel, onHosted }) {
  useLang();
  const videoRef = useRef(null);
  const streamRef = useRef(null);
  const fileRef = useRef(null);
  const [check, setCheck] = useState(null);
  const [phase, setPhase] = useState('starting'); // starting | ready | checking | failed | passed | blocked
  const [camera, setCamera] = useState('starting'); // starting | on | error
  const [message, setMessage] = useState('');
  const [waitUntil, setWaitUntil] = useState(0);
  const [tick, setTick] = useState(0);
  const [attempt, setAttempt] = useState(0);

  // A new face check session for each attempt: a check ends passed or failed.
  useEffect(() => {
    let cancelled = false;
    setPhase('starting');
    setMessage('');
    (async () => {
      try {
        if (!globalThis.crypto?.subtle || !globalThis.indexedDB) throw Object.assign(new Error(), { code: 'no_webcrypto' });
        const kp = await ensureDeviceKey();
        const body = { purpose: req.purpose, device_key: await publicJwk(kp), consent: true };
        // A guest names the person for both purposes (API.md "Guest").
        if (req.purpose === 'apply' || req.guest) body.subject = req.subject;
        else body.certificate_id = req.certificate_id;
        const res = await post(req.guest ? '/api/v1/guest/face-checks' : '/api/v1/face-checks', body);
        if (cancelled) return;
        setCheck(res.face_check);
        if (res.face_check.redirect_url) {
          // Hosted: the vendor's page takes the picture, not our camera.
          streamRef.current?.getTracks().forEach((tr) => tr.stop());
          setPhase('hosted');
          return;
        }
        setPhase('ready');
      } catch (err) {
        if (cancelled) return;
        handleError(err);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  // The camera stays on across attempts and is stopped when leaving.
  useEffect(() => {
    let stopped = false;
    (async () => {
      try {
        if (!navigator.mediaDevices?.getUserMedia) throw new Error('no camera');
        const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user' }, audio: false });
        if (stopped) {
          stream.getTracks().forEach((tr) => tr.stop());
          return;
        }
        streamRef.current = stream;
        if (videoRef.current) {
          videoRef.current.srcObject = stream;
          await videoRef.current.play().catch(() => {});
        }
        setCamera('on');
      } catch {
        if (!stopped) setCamera('error');
      }
    })();
    return () => {
      stopped = true;
      streamRef.current?.getTracks().forEach((tr) => tr.stop());
      streamRef.current = null;
    };
  }, []);

  // A ticking clock only while a Retry-After wait is shown.
  useEffect(() => {
    if (!waitUntil) return;
    const id = setInterval(() => setTick((n) => n + 1), 500);
    return () => clearInterval(id);
  }, [waitUntil]);

  function handleError(err) {
    const code = err.code;
    if (code === 'face_checks_locked') {
      setPhase('blocked');
      setMessage(t('err.face_checks_locked'));
      return;
    }
    if (code === 'rate_limited') {
      setPhase('failed');
      setWaitUntil(now() + (err.retryAfter || 30) * 1000);
      setMessage(errorText(err));
      return;
    }
    if (code === 'no_webcrypto') {
      setPhase('blocked');
      setMessage(t('err.no_webcrypto'));
      return;
    }
    if (['invalid_id_number', 'identity_mismatch', 'quota_exhausted', 'active_certificate_exists', 'unauthenticated', 'not_found', 'forbidden'].includes(code)) {
      onFatal(err);
      return;
    }
    setPhase('failed');
    setMessage(errorText(err));
  }

  async function send(blob) {
    if (!check) return;
    setPhase('checking');
    setMessage('');
    try {
      const res = await request('POST', check.capture_url || `/api/v1/face-checks/${check.id}/capture`, blob);
      const fc = res.face_check;
      if (fc.status === 'passed') {
        setPhase('passed');
        streamRef.current?.getTracks().forEach((tr) => tr.stop());
        await onPassed(fc.id);
        return;
      }
      setPhase('failed');
      setMessage(reasonText(fc.reason));
    } catch (err) {
      handleError(err);
    }
  }

  function capture() {
    const v = videoRef.current;
    if (!v || !v.videoWidth) return;
    const scale = Math.min(1, 1280 / Math.max(v.videoWidth, v.videoHeight));
    const c = document.createElement('canvas');
    c.width = Math.round(v.videoWidth * scale);
    c.height = Math.round(v.videoHeight * scale);
    c.getContext('2d').drawImage(v, 0, 0, c.width, c.height);
    c.toBlob((blob) => blob && send(blob), 'image/jpeg', 0.9);
  }

  function onFile(e) {
    const f = e.currentTarget.files?.[0];
    e.currentTarget.value = '';
    if (f) send(f.type === 'image/png' ? f : new Blob([f], { type: 'image/jpeg' }));
  }

  const waitLeft = waitUntil ? Math.ceil((waitUntil - now()) / 1000) : 0;
  const waiting = waitLeft > 0;
  void tick;

  return html`<section class="screen face" data-testid="face-screen" id="face-screen" data-phase=${phase}>
    <p class="face-hint">${t('face.hint')}</p>
    ${subjectName ? html`<p class="muted center">${t('face.subject', { name: subjectName })}</p>` : null}
    ${vendorNotice(check?.provider)}
    <div class=${'face-frame ' + phase}>
      <video ref=${videoRef} id="face-video" data-testid="face-video" playsinline muted autoplay></video>
      ${camera !== 'on' ? html`<div class="face-placeholder"><${Icon} name="face" size=${96} /></div>` : null}
      ${phase === 'checking' || phase === 'starting' ? html`<div class="face-overlay"><span class="spinner"></span></div>` : null}
      ${phase === 'passed' ? html`<div class="face-overlay ok"><${Icon} name="check" size=${72} /></div>` : null}
    </div>
    <div class="face-status" id="face-status" data-testid="face-status" role="status" data-phase=${phase}>
      ${phase === 'starting' ? t('face.starting') : phase === 'checking' ? t('face.checking') : phase === 'passed' ? t('face.passed') : phase === 'failed' || phase === 'blocked' ? t('face.failed') : ''}
    </div>
    ${camera === 'error' && phase !== 'blocked' ? html`<${Alert} kind="warn" testid="face-camera-error">${t('face.camera_error')}</${Alert}>` : null}
    <${Alert} testid="face-error">${message}</${Alert}>
    ${waiting ? html`<div class="wait" id="face-wait" data-testid="face-wait">${t('face.wait', { seconds: waitLeft })}</div>` : null}
    <input type="file" accept="image/jpeg,image/png" capture="user" id="face-file" data-testid="face-file" ref=${fileRef} hidden
      aria-label=${t('face.file')} onChange=${onFile} />
    <div class="actions">
      ${phase === 'hosted' ? html`<button class="btn btn-primary btn-block btn-lg" id="face-hosted" data-testid="face-hosted" onClick=${() => onHosted(check)}>${t('face.hosted.go')}</button>` : null}
      ${phase === 'ready' && camera === 'on' ? html`<button class="btn btn-primary btn-block btn-lg" id="face-capture" data-testid="face-capture" onClick=${capture}><${Icon} name="camera" /> ${t('face.capture')}</button>` : null}
      ${phase === 'ready' && camera === 'error' ? html`<button class="btn btn-primary btn-block btn-lg" id="face-choose" data-testid="face-choose" onClick=${() => fileRef.current?.click()}>${t('face.file')}</button>` : null}
      ${phase === 'failed' ? html`<button class="btn btn-primary btn-block btn-lg" id="face-retry" data-testid="face-retry" disabled=${waiting}
          onClick=${() => { setWaitUntil(0); setAttempt((n) => n + 1); }}>${t('face.retry')}</button>` : null}
      ${phase === 'checking' || phase === 'passed' ? html`<${Spinner} />` : null}
      <button class="btn btn-ghost btn-block" id="face-cancel" data-testid="face-cancel" onClick=${onCancel}>${t('common.cancel')}</button>
    </div>
  </section>`;
}

/**
 * FaceReturnScreen is where a hosted provider sends the passenger back: it
 * asks the server for the check's result (POST …/complete). onPassed(id)
 * continues the flow the check was started for; onRetry starts a new check.
 */
export function FaceReturnScreen({ id, subjectName, onPassed, onRetry, onCancel, onFatal }) {
  useLang();
  const [phase, setPhase] = useState('checking'); // checking | failed | passed
  const [message, setMessage] = useState('');
  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const res = await post(`/api/v1/face-checks/${encodeURIComponent(id)}/complete`);
        if (cancelled) return;
        const fc = res.face_check;
        if (fc.status === 'passed') {
          setPhase('passed');
          await onPassed(fc.id);
          return;
        }
        setPhase('failed');
        setMessage(reasonText(fc.reason));
      } catch (err) {
        if (cancelled) return;
        if (['unauthenticated', 'face_checks_locked'].includes(err.code)) {
          onFatal(err);
          return;
        }
        setPhase('failed');
        setMessage(err.code === 'face_check_not_passed' ? t('face.hosted.not_finished') : errorText(err));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [id]);
  return html`<section class="screen face" data-testid="face-return-screen" id="face-return-screen" data-phase=${phase}>
    ${subjectName ? html`<p class="muted center">${t('face.subject', { name: subjectName })}</p>` : null}
    <div class="face-status" id="face-status" data-testid="face-status" role="status" data-phase=${phase}>
      ${phase === 'checking' ? t('face.hosted.returning') : phase === 'passed' ? t('face.passed') : t('face.failed')}
    </div>
    <${Alert} testid="face-error">${message}</${Alert}>
    <div class="actions">
      ${phase === 'failed' ? html`<button class="btn btn-primary btn-block btn-lg" id="face-retry" data-testid="face-retry" onClick=${onRetry}>${t('face.retry')}</button>` : html`<${Spinner} />`}
      <button class="btn btn-ghost btn-block" id="face-cancel" data-testid="face-cancel" onClick=${onCancel}>${t('common.cancel')}</button>
    </div>
  </section>`;
}
