// The passenger app (/): sign up, log in, apply for the electronic
// temporary boarding identity certificate with a face check, and show its
// rotating QR code, following the 12306 app's flow. Without an account
// (a guest, API.md "Guest") it applies and shows the certificate too: the
// pass then lives in memory only, so every opening asks for a face check.
import { render } from 'preact';
import { useEffect, useState, useRef } from 'preact/hooks';
import { html, useLang, initLang, LangSwitch, Alert, Field, Icon, Spinner, useScreen, useDialog, mountDemoRibbon } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { get, post, postIdempotent, del, qs, setCsrf, onAuthLost } from '../lib/api.js';
import { errorText } from '../lib/errors.js';
import { validate, normalize } from '../lib/idnumber.js';
import { fmtDateTime, monthOf, toMs } from '../lib/format.js';
import { now } from '../lib/clock.js';
import { loadPasses, savePass, updateCertificate, clearDevice } from '../lib/keystore.js';
import { ConsentScreen, FaceScreen, FaceReturnScreen } from './face.js';
import { CertScreen, revokeReasonText } from './cert.js';
import { MyDataScreen } from './mydata.js';
import { TravellersScreen, TravellerPicker, identityErrors } from './travellers.js';
import './app.css';

const isFullId = (s) => typeof s === 'string' && /^\d{17}[\dXx]$/.test(s);
const isPlainName = (s) => typeof s === 'string' && s !== '' && !s.includes('*');
const maskId = (s) => (s.length === 18 ? s.slice(0, 4) + '*'.repeat(10) + s.slice(14) : s);
// maskName keeps a name's first grapheme cluster (SPEC "Identity
// documents"): 张**, A****; a cluster is what a reader sees as one
// character, whatever its code points.
const maskName = (s) => {
  const parts = typeof Intl !== 'undefined' && Intl.Segmenter
    ? [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s)].map((x) => x.segment)
    : Array.from(s);
  return parts.length ? parts[0] + '*'.repeat(parts.length - 1) : '';
};

// HOSTED_KEY holds, in this tab only, what a hosted face check was started
// for ({id, purpose, draft | certificate}) while the passenger is on the
// provider's page: a page load there ends the app, and state with it.
const HOSTED_KEY = 'tempid.hosted-face-check';

/**
 * useSession keeps who is logged in and the passes stored on this device,
 * one per certificate (the passenger's own and companions'). A stored pass
 * belongs to the account that got it: when another account logs in on the
 * device, the device key and passes are cleared (R4). A session that ends
 * under the app (lib/api.js onAuthLost) calls lost.
 */
function useSession(lost) {
  const [boot, setBoot] = useState('loading'); // loading | ready | offline
  const [account, setAccount] = useState(null);
  const [passes, setPasses] = useState([]);
  const passesRef = useRef(passes);
  passesRef.current = passes;
  useEffect(() => onAuthLost(() => {
    setAccount(null);
    lost();
  }), []);

  // adopt takes a session answer: its CSRF token and account, and the
  // device's passes if they are this account's.
  async function adopt(res, local) {
    setCsrf(res.csrf_token);
    setAccount(res.account);
    if (local.some((e) => e.account_id && res.account?.id && e.account_id !== res.account.id)) {
      await clearDevice();
      setPasses([]);
    } else {
      setPasses(local);
    }
    setBoot('ready');
  }

  return {
    boot, account, passes,
    // resume asks the server for this browser's session and answers
    // 'home', 'login', 'offline' (no network, but a stored pass) or the
    // error.
    async resume() {
      setBoot('loading');
      const local = await loadPasses();
      try {
        await adopt(await get('/api/v1/session'), local);
        return 'home';
      } catch (err) {
        setPasses(local);
        if (err.status === 401) {
          setBoot('ready');
          return 'login';
        }
        if (local.length) {
          // The network is cut: the stored passes still make codes (R3).
          setBoot('offline');
          return 'offline';
        }
        setBoot('ready');
        return err;
      }
    },
    async loggedIn(res) {
      await adopt(res, await loadPasses());
    },
    signedUp(res) {
      setCsrf(res.csrf_token);
      setAccount(res.account);
      setPasses([]);
    },
    async logout() {
      try {
        await del('/api/v1/session');
      } catch {
        // Logging out locally matters most: the device key goes either way (R4).
      }
      await clearDevice();
      setCsrf('');
      setAccount(null);
      setPasses([]);
    },
    async issued(certificate, pass) {
      await savePass(account?.id, certificate, pass);
      setPasses(await loadPasses());
    },
    // A guest's certificate and pass are kept in memory only: the device
    // key is all that is stored, so a reload asks for the face check again.
    guestIssued(certificate, pass) {
      setPasses([{ certificate, pass }]);
    },
    leaveGuest() {
      setPasses([]);
    },
    // status takes what the server says of a certificate now (its status,
    // and why it ended), so that a revoked or superseded one draws no more
    // codes; an account's is stored too, a guest's lives in memory.
    status(c, guest) {
      const e = passesRef.current.find((x) => x.certificate?.id === c.id);
      if (!e || (e.certificate.status === c.status && e.certificate.revoke_reason === c.revoke_reason)) return;
      setPasses((list) => list.map((e) => (e.certificate?.id === c.id ? { ...e, certificate: { ...e.certificate, ...c } } : e)));
      if (!guest) updateCertificate(c).catch(() => {});
    },
  };
}

const activeAt = (c, nowMs) => c && c.status === 'active' && nowMs < toMs(c.expires_at);

// firstShowable is the certificate id to show first: the newest entry still
// active, else the newest.
const firstShowable = (passes) => (passes.find((e) => activeAt(e.certificate, now())) || passes[0])?.certificate?.id;

// refusalOf says what R5 or R2 will answer for a person before any consent
// screen: certs are the certificates this account knows (its history and
// this phone's passes), quota the person's (null when unknown). It answers
// {code: 'active_certificate_exists', certificate} or {code:
// 'quota_exhausted', quota} or null.
function refusalOf(certs, idMasked, quota, nowMs) {
  const c = certs.find((x) => x?.holder?.id_number_masked === idMasked && activeAt(x, nowMs));
  if (c && nowMs < toMs(c.renewable_at)) return { code: 'active_certificate_exists', certificate: c };
  if (quota && quota.remaining <= 0) return { code: 'quota_exhausted', quota };
  return null;
}

// Refusal shows refusalOf's answer with a way to the certificate.
function Refusal({ refusal, own, name, onShow, testid }) {
  useLang();
  if (!refusal) return null;
  const who = own ? 'own' : 'other';
  if (refusal.code === 'active_certificate_exists') {
    const c = refusal.certificate;
    return html`<div class="alert alert-error refusal" role="alert" id=${testid} data-testid=${testid} data-code=${refusal.code}>
      <span>${t('pass.early.active.' + who, { name: name || c.holder?.name_masked, expires_at: fmtDateTime(c.expires_at), renewable_at: fmtDateTime(c.renewable_at) })}</span>
      <button type="button" class="btn btn-small btn-primary" id=${testid + '-show'} data-testid=${testid + '-show'} onClick=${() => onShow(c)}>${t('pass.early.show')}</button>
    </div>`;
  }
  return html`<div class="alert alert-error refusal" role="alert" id=${testid} data-testid=${testid} data-code=${refusal.code}>
    <span>${t('pass.early.quota.' + who, { name, resets_at: fmtDateTime(refusal.quota.resets_at) })}</span></div>`;
}

// The face-check screens (consent, face, face-return) are data: what the check is for.
// For an application, {purpose: 'apply', draft}; for a new pass of a
// certificate, {purpose: 'view', certificate}. A guest's (guest: true)
// names the person in draft for both purposes (API.md "Guest").
const faceRequest = (s) => (s.guest
  ? { purpose: s.purpose, subject: { name: s.draft.name, id_number: s.draft.id_number }, guest: true }
  : s.purpose === 'apply'
    ? { purpose: 'apply', subject: { name: s.draft.name, id_number: s.draft.id_number } }
    : { purpose: 'view', certificate_id: s.certificate.id });
const faceSubject = (s) => (s.purpose === 'apply' || s.guest ? s.draft.name : s.certificate.holder?.name_masked);
const faceBack = (s) => (s.guest
  ? (s.purpose === 'apply' ? { name: 'apply', guest: true, draft: s.draft } : { name: 'guest-view', draft: s.draft })
  : s.purpose === 'apply' ? { name: 'apply', draft: s.draft } : { name: 'home' });

// faceCheckPassed finishes what a passed face check was for: the
// application, or a new pass of the certificate. It returns the
// certificate and its pass.
async function faceCheckPassed(s, faceCheckId) {
  if (s.guest && s.purpose === 'apply') {
    const d = s.draft;
    const res = await postIdempotent('/api/v1/guest/certificates', { face_check_id: faceCheckId, name: d.name, id_number: d.id_number, city_code: d.city.code });
    return [res.certificate, res.pass];
  }
  if (s.guest) {
    // The person's active certificate, whichever phone applied for it.
    const res = await post('/api/v1/guest/passes', { face_check_id: faceCheckId });
    return [res.certificate, res.pass];
  }
  if (s.purpose === 'apply') {
    const d = s.draft;
    // One key per application: a retry after a lost answer gets the
    // certificate issued the first time, never a second one.
    const res = await postIdempotent('/api/v1/certificates', { face_check_id: faceCheckId, name: d.name, id_number: d.id_number, city_code: d.city.code });
    return [res.certificate, res.pass];
  }
  const id = encodeURIComponent(s.certificate.id);
  const res = await post(`/api/v1/certificates/${id}/passes`, { face_check_id: faceCheckId });
  let cert = s.certificate;
  try {
    cert = (await get(`/api/v1/certificates/${id}`)).certificate || cert;
  } catch {
    // The pass is what matters; the stored certificate will do.
  }
  return [cert, res.pass];
}

// goHosted remembers in this tab what the face check s is for and sends
// the passenger to the hosted provider's page, which sends them back to
// /face-return?face_check=ID. Only the screen's data is kept, so the same
// data, not a callback, says what to do once the check has passed.
function goHosted(s, check) {
  const pending = s.purpose === 'apply'
    ? { id: check.id, purpose: 'apply', draft: s.draft }
    : { id: check.id, purpose: 'view', certificate: s.certificate };
  sessionStorage.setItem(HOSTED_KEY, JSON.stringify(pending));
  location.assign(check.redirect_url);
}

// hostedReturn is the face-return screen when the provider has just sent
// the passenger back to /face-return?face_check=ID for the check this tab
// started, or null. It takes the check's id out of the address and the
// tab's storage either way, so neither outlives the return.
function hostedReturn() {
  if (location.pathname !== '/face-return') return null;
  const id = new URLSearchParams(location.search).get('face_check');
  history.replaceState(null, '', '/');
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(HOSTED_KEY) || 'null');
  } catch {
    pending = null;
  }
  sessionStorage.removeItem(HOSTED_KEY);
  if (!id || !pending || pending.id !== id) return null;
  if (pending.purpose === 'apply' && pending.draft?.city) return { name: 'face-return', checkId: id, purpose: 'apply', draft: pending.draft };
  if (pending.purpose === 'view' && pending.certificate?.id) return { name: 'face-return', checkId: id, purpose: 'view', certificate: pending.certificate };
  return null;
}

function App() {
  useLang();
  const [screen, setScreen] = useState({ name: 'loading' });
  const [flash, setFlash] = useState('');
  const session = useSession(() => {
    setScreen({ name: 'login' });
    setFlash(t('err.unauthenticated'));
  });
  const { boot, account, passes } = session;

  async function start() {
    const next = await session.resume();
    if (next === 'home') setScreen(hostedReturn() || { name: 'home' });
    else if (next === 'login') setScreen({ name: next });
    else if (next === 'offline') setScreen({ name: 'cert' });
    else setScreen({ name: 'error', error: next });
  }
  useEffect(() => {
    start();
  }, []);

  const startView = (certificate) => setScreen({ name: 'consent', purpose: 'view', certificate });
  // showCert opens a certificate's code when this phone holds its pass,
  // else asks for the face check that gets one.
  const showCert = (c) => (passes.some((e) => e.certificate?.id === c.id && e.pass)
    ? setScreen({ name: 'cert', id: c.id }) : startView(c));
  const goHome = () => setScreen({ name: 'home' });
  const guestApply = (draft) => setScreen({ name: 'apply', guest: true, draft });
  const guestView = (draft) => setScreen({ name: 'guest-view', draft });
  const leaveGuest = () => {
    session.leaveGuest();
    setScreen({ name: 'login' });
  };
  // guestStatus asks, with the code just drawn, whether the guest's
  // certificate is still active, so that the app stops drawing codes for a
  // revoked or superseded one; a guest has no session to ask with.
  async function guestStatus(code) {
    try {
      session.status((await post('/api/v1/guest/certificate-status', { code })).certificate, true);
    } catch {
      // Offline or refused: the gate checks the status anyway.
    }
  }

  // An account's certificate on screen is asked for its status when the
  // screen opens, when the phone comes back online or the app to the
  // front, and once a minute (as often as the code changes), so that a
  // revoked or superseded one stops drawing codes and says why. Every
  // phone showing a code asks: more often would be load for nothing, since
  // the gate checks the status anyway.
  const shownId = screen.name === 'cert' && !screen.guest && account ? (screen.id || firstShowable(passes)) : '';
  useEffect(() => {
    if (!shownId) return;
    let live = true;
    const ask = () => get(`/api/v1/certificates/${encodeURIComponent(shownId)}`)
      .then((r) => live && r.certificate && session.status(r.certificate, false))
      .catch(() => {
        // Offline: the stored status stands until the next try.
      });
    const front = () => document.visibilityState === 'visible' && ask();
    ask();
    const id = setInterval(ask, 60000);
    window.addEventListener('online', ask);
    document.addEventListener('visibilitychange', front);
    return () => {
      live = false;
      clearInterval(id);
      window.removeEventListener('online', ask);
      document.removeEventListener('visibilitychange', front);
    };
  }, [shownId]);

  const s = screen;
  let body;
  let title = t('app.title');
  let back = null;
  switch (s.name) {
    case 'loading':
      body = html`<div class="center-screen"><${Spinner} label=${t('common.loading')} /></div>`;
      break;
    case 'error':
      back = start;
      body = html`<section class="screen"><${Alert}>${errorText(s.error)}</${Alert}>
        <button class="btn btn-primary btn-block" onClick=${start} id="retry" data-testid="retry">${t('common.retry')}</button></section>`;
      break;
    case 'login':
      title = t('auth.login.title');
      body = html`<${Login} flash=${flash} onSignup=${() => { setFlash(''); setScreen({ name: 'signup' }); }}
        onGuestApply=${() => { setFlash(''); guestApply(); }} onGuestView=${() => { setFlash(''); guestView(); }}
        onLoggedIn=${async (res) => { setFlash(''); await session.loggedIn(res); setScreen({ name: 'home' }); }} />`;
      break;
    case 'signup':
      title = t('auth.signup.title');
      back = () => setScreen({ name: 'login' });
      body = html`<${Signup} onDone=${(res) => { session.signedUp(res); setScreen({ name: 'home' }); }}
        onLogin=${() => setScreen({ name: 'login' })} />`;
      break;
    case 'home':
      title = t('app.brand');
      body = html`<${Home} account=${account} passes=${passes}
        onApply=${() => setScreen({ name: 'apply' })}
        onShow=${(id) => setScreen({ name: 'cert', id })} onCert=${showCert}
        onStatus=${(c) => session.status(c, false)}
        onDetail=${(c) => setScreen({ name: 'history-detail', certificate: c })}
        onView=${startView} onLogout=${async () => { await session.logout(); setScreen({ name: 'login' }); }}
        onMyData=${() => setScreen({ name: 'mydata' })} onTravellers=${() => setScreen({ name: 'travellers' })} />`;
      break;
    case 'mydata':
      title = t('mydata.title');
      back = () => setScreen({ name: 'home' });
      body = html`<${MyDataScreen} onTravellers=${() => setScreen({ name: 'travellers', from: 'mydata' })}
        onDeleted=${async () => { await session.logout(); setFlash(t('mydata.deleted')); setScreen({ name: 'login' }); }} />`;
      break;
    case 'travellers':
      title = t('travellers.title');
      back = () => setScreen({ name: s.from || 'home' });
      body = html`<${TravellersScreen} />`;
      break;
    case 'history-detail':
      title = t('pass.history.title');
      back = goHome;
      body = html`<${HistoryDetail} certificate=${s.certificate} onShow=${showCert} />`;
      break;
    case 'apply':
      title = t('apply.title');
      back = s.guest ? leaveGuest : () => setScreen({ name: 'home' });
      body = html`<${Apply} account=${s.guest ? null : account} guest=${!!s.guest} draft=${s.draft} error=${s.error}
        passes=${passes} onShow=${showCert}
        onView=${() => guestView()}
        onNext=${(draft) => setScreen({ name: 'consent', purpose: 'apply', guest: s.guest, draft })} />`;
      break;
    case 'guest-view':
      title = t('guest.view.title');
      back = leaveGuest;
      body = html`<${GuestView} draft=${s.draft} error=${s.error} onApply=${() => guestApply()}
        onNext=${(draft) => setScreen({ name: 'consent', purpose: 'view', guest: true, draft })} />`;
      break;
    case 'consent':
      title = t('consent.title');
      back = () => setScreen(faceBack(s));
      body = html`<${ConsentScreen} subjectName=${faceSubject(s)} onDecline=${() => setScreen(faceBack(s))}
        onAgree=${() => setScreen({ ...s, name: 'face' })} />`;
      break;
    case 'face':
    case 'face-return': {
      title = t('face.title');
      back = () => setScreen(faceBack(s));
      // A lost session is already handled (onAuthLost); anything else goes
      // back to the form or the home screen with the error.
      const failed = (err, fallback) => {
        if (err.code === 'unauthenticated') return;
        if (s.guest) return setScreen({ ...faceBack(s), error: err });
        setScreen(s.purpose === 'apply' ? { name: 'apply', draft: s.draft, error: err } : { ...fallback, error: err });
      };
      const passed = async (id) => {
        try {
          const [certificate, pass] = await faceCheckPassed(s, id);
          if (s.guest) {
            // A guest's pass lives in memory only (SPEC "Guest").
            session.guestIssued(certificate, pass);
            return setScreen({ name: 'cert', guest: true });
          }
          await session.issued(certificate, pass);
          setScreen({ name: 'cert', id: certificate.id });
        } catch (err) {
          failed(err, { name: 'home' });
        }
      };
      if (s.name === 'face-return') {
        // Back from a hosted provider's page: the server asks it for the
        // result; a failed check starts a new one for the same purpose.
        const { checkId, ...flow } = s;
        body = html`<${FaceReturnScreen} key=${checkId} id=${checkId} subjectName=${faceSubject(s)}
          onCancel=${() => setScreen(faceBack(s))} onFatal=${(err) => failed(err, faceBack(s))}
          onRetry=${() => setScreen({ ...flow, name: 'face' })} onPassed=${passed} />`;
        break;
      }
      const request = faceRequest(s);
      body = html`<${FaceScreen} key=${request.purpose + (request.certificate_id || '')} request=${request} subjectName=${faceSubject(s)}
        onCancel=${() => setScreen(faceBack(s))} onFatal=${(err) => failed(err, faceBack(s))}
        onHosted=${(check) => goHosted(s, check)} onPassed=${passed} />`;
      break;
    }
    case 'cert': {
      title = t('cert.title');
      if (s.guest) {
        back = leaveGuest;
        body = html`<${CertScreen} stored=${passes[0]} onCode=${guestStatus}
          onFaceAgain=${() => guestView()} onRenew=${() => guestApply()} onApplyNew=${() => guestApply()} />`;
        break;
      }
      // Offline, "back" tries the network again: the home screen needs it.
      back = boot === 'offline' ? start : goHome;
      const id = s.id || firstShowable(passes);
      const stored = passes.find((e) => e.certificate?.id === id);
      body = html`<${CertScreen} key=${id || ''} stored=${stored} offline=${boot === 'offline'}
        onFaceAgain=${() => (boot === 'offline' ? start() : startView(stored.certificate))}
        onRenew=${() => setScreen({ name: 'apply' })}
        onApplyNew=${() => setScreen({ name: 'apply' })}
        onLogout=${account ? async () => { await session.logout(); setScreen({ name: 'login' }); } : null} />`;
      break;
    }
    default:
      body = null;
  }
  if (s.name === 'home' && s.error) {
    body = html`<div><${Alert}>${errorText(s.error)}</${Alert}>${body}</div>`;
  }
  const titleRef = useScreen(s.name, title, t('app.title'));

  return html`<div class="app" data-screen=${s.name} data-guest=${s.guest ? 'true' : 'false'}>
    <header class="topbar">
      ${back ? html`<button class="icon-btn" onClick=${back} aria-label=${t('common.back')} id="nav-back" data-testid="nav-back"><${Icon} name="back" /></button>` : html`<span class="icon-btn-space"></span>`}
      <h1 id="screen-title" tabindex="-1" ref=${titleRef}>${title}</h1>
      ${account && back && s.name !== 'signup' ? html`<button class="icon-btn" onClick=${goHome} aria-label=${t('pass.home')} id="nav-home" data-testid="nav-home"><${Icon} name="home" /></button>` : null}
      <${LangSwitch} />
    </header>
    <main class="content" id="screen" data-testid=${'screen-' + s.name}>${body}</main>
  </div>`;
}

function Login({ onLoggedIn, onSignup, onGuestApply, onGuestView, flash }) {
  useLang();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onLoggedIn(await post('/api/v1/session', { username, password }));
    } catch (err) {
      setError(err.status === 401 || err.code === 'validation_failed' ? t('err.login_failed') : errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return html`<section class="screen auth">
    <div class="auth-hero"><div class="logo"><${Icon} name="train" size=${34} /></div>
      <h2>${t('app.title')}</h2><p>${t('auth.login.subtitle')}</p></div>
    <form class="card form" onSubmit=${submit} id="login-form" data-testid="login-form">
      <${Alert} kind="info" testid="login-flash">${flash}</${Alert}>
      <${Field} label=${t('auth.username')} id="login-username">
        <input id="login-username" data-testid="login-username" autocomplete="username" autocapitalize="off" value=${username}
          onInput=${(e) => setUsername(e.currentTarget.value)} required /></${Field}>
      <${Field} label=${t('auth.password')} id="login-password">
        <input id="login-password" data-testid="login-password" type="password" autocomplete="current-password" value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} required /></${Field}>
      <${Alert} testid="login-error">${error}</${Alert}>
      <button class="btn btn-primary btn-block btn-lg" type="submit" id="login-submit" data-testid="login-submit" disabled=${busy}>${busy ? t('common.loading') : t('auth.login')}</button>
    </form>
    <button class="btn btn-link btn-block" id="to-signup" data-testid="to-signup" onClick=${onSignup}>${t('auth.to_signup')}</button>
    <div class="card guest-entry" id="guest-entry" data-testid="guest-entry">
      <div class="card-title">${t('guest.title')}</div>
      <p class="muted small" id="guest-hint" data-testid="guest-hint">${t('guest.hint')}</p>
      <button class="btn btn-primary btn-block" id="guest-view" data-testid="guest-view" onClick=${onGuestView}>${t('guest.view')}</button>
      <button class="btn btn-outline btn-block" id="guest-apply" data-testid="guest-apply" onClick=${onGuestApply}>${t('guest.apply')}</button>
    </div>
  </section>`;
}

// GuestView asks a passenger without an account for the name and ID
// number of the certificate to show; a face check follows. Nothing typed
// here is stored.
function GuestView({ draft, error, onNext, onApply }) {
  useLang();
  const [name, setName] = useState(draft?.name ?? '');
  const [idNumber, setIdNumber] = useState(draft?.id_number ?? '');
  const [errs, setErrs] = useState({});
  useEffect(() => {
    if (!error) return;
    if (error.code === 'invalid_id_number') setErrs({ id_number: errorText(error, { idNumber }) });
    else if (error.code === 'not_found') setErrs({ form: t('guest.view.none'), code: error.code });
    else setErrs({ form: errorText(error), code: error.code });
  }, [error]);
  function submit(e) {
    e.preventDefault();
    const next = identityErrors(name, idNumber);
    setErrs(next);
    if (Object.keys(next).length) return;
    onNext({ name: name.trim(), id_number: normalize(idNumber) });
  }
  return html`<section class="screen apply">
    <p class="lead">${t('guest.view.subtitle')}</p>
    <form class="card form" onSubmit=${submit} id="guest-view-form" data-testid="guest-view-form" novalidate>
      <${Field} label=${t('apply.name')} id="guest-view-name" error=${errs.name}>
        <input id="guest-view-name" data-testid="guest-view-name" value=${name} autocomplete="name" onInput=${(e) => setName(e.currentTarget.value)} /></${Field}>
      <${Field} label=${t('apply.id_number')} id="guest-view-id-number" error=${errs.id_number}>
        <input id="guest-view-id-number" data-testid="guest-view-id-number" value=${idNumber} maxlength="20" autocapitalize="characters" autocomplete="off" spellcheck="false"
          onInput=${(e) => setIdNumber(e.currentTarget.value)} /></${Field}>
      ${errs.form ? html`<div class="alert alert-error" role="alert" id="guest-view-error" data-testid="guest-view-error" data-code=${errs.code || ''}>${errs.form}</div>` : null}
      <button class="btn btn-primary btn-block btn-lg" type="submit" id="guest-view-submit" data-testid="guest-view-submit">${t('guest.view.submit')}</button>
    </form>
    ${errs.code === 'not_found' ? html`<button class="btn btn-link btn-block" id="guest-view-apply" data-testid="guest-view-apply" onClick=${onApply}>${t('guest.apply')}</button>` : null}
  </section>`;
}

function Signup({ onDone, onLogin }) {
  useLang();
  const [f, setF] = useState({ username: '', password: '', name: '', id_number: '', phone: '' });
  const [idError, setIdError] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  async function submit(e) {
    e.preventDefault();
    const bad = validate(f.id_number, now());
    setIdError(bad ? t('id.' + bad) : '');
    if (bad) return;
    setBusy(true);
    setError('');
    try {
      const body = { username: f.username, password: f.password, name: f.name.trim(), id_number: normalize(f.id_number) };
      if (f.phone.trim()) body.phone = f.phone.trim();
      await post('/api/v1/accounts', body);
      onDone(await post('/api/v1/session', { username: f.username, password: f.password }));
    } catch (err) {
      if (err.code === 'invalid_id_number') setIdError(errorText(err, { idNumber: f.id_number }));
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return html`<section class="screen auth">
    <p class="lead">${t('auth.signup.subtitle')}</p>
    <form class="card form" onSubmit=${submit} id="signup-form" data-testid="signup-form">
      <${Field} label=${t('auth.username')} id="signup-username"><input id="signup-username" data-testid="signup-username" autocomplete="username" autocapitalize="off" value=${f.username} onInput=${set('username')} required /></${Field}>
      <${Field} label=${t('auth.password')} id="signup-password"><input id="signup-password" data-testid="signup-password" type="password" autocomplete="new-password" value=${f.password} onInput=${set('password')} required /></${Field}>
      <${Field} label=${t('auth.name')} id="signup-name"><input id="signup-name" data-testid="signup-name" autocomplete="name" value=${f.name} onInput=${set('name')} required /></${Field}>
      <${Field} label=${t('auth.id_number')} id="signup-id-number" error=${idError}><input id="signup-id-number" data-testid="signup-id-number" maxlength="20" autocapitalize="characters" value=${f.id_number} onInput=${set('id_number')} required /></${Field}>
      <${Field} label=${t('auth.phone')} id="signup-phone"><input id="signup-phone" data-testid="signup-phone" type="tel" autocomplete="tel" value=${f.phone} onInput=${set('phone')} /></${Field}>
      <${Alert} testid="signup-error">${error}</${Alert}>
      <button class="btn btn-primary btn-block btn-lg" type="submit" id="signup-submit" data-testid="signup-submit" disabled=${busy}>${busy ? t('common.loading') : t('auth.signup')}</button>
    </form>
    <button class="btn btn-link btn-block" id="to-login" data-testid="to-login" onClick=${onLogin}>${t('auth.to_login')}</button>
  </section>`;
}

function Home({ account, passes, onApply, onShow, onCert, onStatus, onDetail, onView, onLogout, onMyData, onTravellers }) {
  useLang();
  const [quota, setQuota] = useState(null);
  const [month, setMonth] = useState(0);
  const [history, setHistory] = useState(null);
  const [histError, setHistError] = useState('');
  useEffect(() => {
    // A 401 is onAuthLost's; without a quota the card shows a dash.
    get('/api/v1/quota').then((r) => setQuota(r.quota)).catch(() => {});
  }, []);
  useEffect(() => {
    setHistory(null);
    setHistError('');
    get('/api/v1/certificates' + qs({ month: monthOf(now(), month) }))
      .then((r) => {
        const list = r.certificates || [];
        setHistory(list);
        // What the server says now of a stored certificate wins over what
        // was stored (revoked, superseded).
        for (const c of list) {
          const e = passes.find((x) => x.certificate?.id === c.id);
          if (e && e.certificate.status !== c.status) onStatus(c);
        }
      })
      .catch((err) => err.status !== 401 && setHistError(errorText(err)));
  }, [month]);

  const nowMs = now();
  const ownMasked = isFullId(account?.id_number) ? maskId(normalize(account.id_number)) : account?.id_number_masked;
  const shown = passes.filter((e) => e.pass && activeAt(e.certificate, nowMs));
  const known = [...shown.map((e) => e.certificate), ...(month === 0 ? history || [] : [])];
  const refusal = ownMasked ? refusalOf(known, ownMasked, quota, nowMs) : null;
  const who = account?.name && !account.name.includes('*') ? account.name : account?.name || account?.username || '';
  return html`<section class="screen home">
    <div class="hero">
      <div class="hero-text"><div class="hello" data-testid="home-hello">${t('home.hello', { name: who })}</div>
        <div class="hero-sub">${t('home.entry.desc')}</div></div>
      <button class="btn btn-ghost-light" id="logout" data-testid="logout" onClick=${onLogout}><${Icon} name="logout" size=${18} /> ${t('common.logout')}</button>
    </div>
    ${shown.length ? html`<ul class="pass-list" id="home-passes" data-testid="home-passes" aria-label=${t('pass.list.title')}>
      ${shown.map((e, i) => {
        const c = e.certificate;
        const own = c.holder?.id_number_masked === ownMasked;
        return html`<li><button class="show-card" id=${i === 0 ? 'home-show' : 'home-show-' + c.id} data-testid="home-show" data-id=${c.id}
          data-own=${own ? 'true' : 'false'} onClick=${() => onShow(c.id)}>
          <div class="show-icon"><${Icon} name="scan" size=${30} /></div>
          <div><strong><span class="pass-tag">${own ? t('pass.list.self') : t('pass.list.companion')}</span>${c.holder?.name_masked}</strong>
            <span>${c.holder?.id_number_masked} · ${t('cert.expires_at')} ${fmtDateTime(c.expires_at)}</span></div>
          <${Icon} name="chevron" /></button></li>`;
      })}</ul>` : null}
    <div class="card">
      <div class="card-title">${t('home.services')}</div>
      <button class="entry" id="entry-tempid" data-testid="entry-tempid" onClick=${onApply}>
        <span class="entry-icon"><${Icon} name="id" size=${28} /></span>
        <span class="entry-text"><strong>${t('home.entry')}</strong><small>${t('apply.subtitle')}</small></span>
        <${Icon} name="chevron" />
      </button>
      <${Refusal} refusal=${refusal} own=${true} onShow=${onCert} testid="home-refusal" />
      <button class="entry" id="entry-travellers" data-testid="entry-travellers" onClick=${onTravellers}>
        <span class="entry-icon"><${Icon} name="history" size=${28} /></span>
        <span class="entry-text"><strong>${t('home.entry.travellers')}</strong><small>${t('home.entry.travellers.desc')}</small></span>
        <${Icon} name="chevron" />
      </button>
      <button class="entry" id="entry-mydata" data-testid="entry-mydata" onClick=${onMyData}>
        <span class="entry-icon"><${Icon} name="shield" size=${28} /></span>
        <span class="entry-text"><strong>${t('home.entry.mydata')}</strong><small>${t('home.entry.mydata.desc')}</small></span>
        <${Icon} name="chevron" />
      </button>
    </div>
    <div class="card quota" id="quota" data-testid="quota" data-remaining=${quota?.remaining ?? ''}>
      <div class="quota-main"><span>${t('home.quota')}</span>
        <strong id="quota-remaining" data-testid="quota-remaining">${quota ? t('home.quota.value', { remaining: quota.remaining, limit: quota.limit }) : '—'}</strong></div>
      ${quota ? html`<div class="quota-dots">${Array.from({ length: quota.limit || 0 }, (_, i) => html`<span class=${i < quota.used ? 'used' : ''}></span>`)}</div>
        <div class="muted small">${t('home.quota.resets', { resets_at: fmtDateTime(quota.resets_at) })}</div>` : null}
    </div>
    <div class="card" id="history" data-testid="history">
      <div class="card-title row"><span><${Icon} name="history" size=${18} /> ${t('home.history')}</span>
        <span class="seg">
          <button type="button" class=${month === 0 ? 'on' : ''} aria-pressed=${String(month === 0)} onClick=${() => setMonth(0)} data-testid="history-this-month">${t('home.history.this_month')}</button>
          <button type="button" class=${month === -1 ? 'on' : ''} aria-pressed=${String(month === -1)} onClick=${() => setMonth(-1)} data-testid="history-last-month">${t('home.history.last_month')}</button>
        </span></div>
      ${histError ? html`<${Alert}>${histError}</${Alert}>` : history === null ? html`<${Spinner} />` : history.length === 0 ? html`<div class="muted empty">${t('home.history.empty')}</div>` : html`<ul class="history">
        ${history.map((c) => {
          const active = activeAt(c, nowMs);
          return html`<li data-testid="history-item" data-id=${c.id} data-status=${c.status}>
            <div><strong>${c.holder?.name_masked}</strong> <span class="muted">${c.holder?.id_number_masked}</span>
              <div class="muted small">${c.city?.name || ''} · ${fmtDateTime(c.issued_at)} → ${fmtDateTime(c.expires_at)}</div></div>
            <div class="history-side"><span class=${'badge badge-' + (active ? 'ok' : 'muted')}>${t('status.' + (active || c.status !== 'active' ? c.status : 'expired'))}</span>
              ${active ? html`<button class="btn btn-small btn-outline" data-testid="history-view" data-id=${c.id}
                onClick=${() => (passes.some((e) => e.certificate?.id === c.id && e.pass) ? onShow(c.id) : onView(c))}>${t('home.view')}</button>` : null}
              <button class="btn btn-small btn-link" data-testid="history-detail" data-id=${c.id} onClick=${() => onDetail(c)}>${t('pass.history.detail')}</button></div>
          </li>`;
        })}</ul>`}
    </div>
    <div class="card notes"><div class="card-title">${t('home.notes.title')}</div>
      <ol>${[1, 2, 3, 4, 5, 6].map((i) => html`<li>${t('home.notes.' + i)}</li>`)}</ol></div>
  </section>`;
}

// HistoryDetail shows one past or present certificate: its status and why
// it ended (expired; superseded, by which; revoked, with the reason).
function HistoryDetail({ certificate, onShow }) {
  useLang();
  const [c, setC] = useState(certificate);
  const [error, setError] = useState('');
  useEffect(() => {
    get(`/api/v1/certificates/${encodeURIComponent(certificate.id)}`)
      .then((r) => r.certificate && setC(r.certificate))
      .catch((err) => err.status !== 401 && setError(errorText(err)));
  }, [certificate.id]);
  const nowMs = now();
  const status = c.status === 'active' && !activeAt(c, nowMs) ? 'expired' : c.status;
  const successor = (c.superseded_by || '').slice(-6) || '—';
  const why = status === 'active' ? t('pass.history.active', { expires_at: fmtDateTime(c.expires_at) })
    : status === 'expired' ? t('pass.history.expired', { expires_at: fmtDateTime(c.expires_at) })
      : status === 'superseded' ? t('pass.history.superseded', { id: successor })
        : t('pass.history.revoked', { reason: revokeReasonText(c.revoke_reason) });
  return html`<section class="screen" id="history-detail" data-testid="history-detail-screen" data-status=${status}>
    <${Alert}>${error}</${Alert}>
    <div class="card">
      <h2 class="card-title">${c.holder?.name_masked} <span class="detail-id">${c.holder?.id_number_masked}</span></h2>
      <dl class="detail-facts">
        <dt>${t('pass.history.status')}</dt>
        <dd><span class=${'badge badge-' + (status === 'active' ? 'ok' : 'muted')} id="detail-status" data-testid="detail-status">${t('status.' + status)}</span></dd>
        <dt>${t('pass.history.why')}</dt>
        <dd id="detail-why" data-testid="detail-why" data-reason=${c.revoke_reason || ''} data-superseded-by=${c.superseded_by || ''}>${why}</dd>
        <dt>${t('cert.issued_at')}</dt><dd>${fmtDateTime(c.issued_at)}</dd>
        <dt>${t('cert.expires_at')}</dt><dd>${fmtDateTime(c.expires_at)}</dd>
        ${c.city?.name ? html`<dt>${t('cert.city')}</dt><dd>${c.city.name}</dd>` : null}
      </dl>
    </div>
    ${status === 'active' ? html`<button class="btn btn-primary btn-block" id="detail-show" data-testid="detail-show" onClick=${() => onShow(c)}>${t('home.view')}</button>` : null}
  </section>`;
}

let citiesCache = null;

function CityPicker({ onPick, onClose }) {
  useLang();
  const [cities, setCities] = useState(citiesCache);
  const [q, setQ] = useState('');
  const [error, setError] = useState('');
  const inputRef = useRef(null);
  const dialogRef = useDialog(onClose);
  useEffect(() => {
    inputRef.current?.focus();
    if (!citiesCache) {
      get('/api/v1/regions/cities').then((r) => { citiesCache = r.cities || []; setCities(citiesCache); }).catch((e) => setError(errorText(e)));
    }
  }, []);
  const needle = q.trim().toLowerCase();
  const groups = new Map();
  for (const c of cities || []) {
    if (needle && !(c.name || '').toLowerCase().includes(needle) && !(c.province || '').toLowerCase().includes(needle) && !String(c.code).startsWith(needle)) continue;
    if (!groups.has(c.province)) groups.set(c.province, []);
    groups.get(c.province).push(c);
  }
  return html`<div class="sheet-backdrop" onClick=${(e) => e.target === e.currentTarget && onClose()}>
    <div class="sheet" ref=${dialogRef} role="dialog" aria-modal="true" aria-labelledby="city-picker-title" id="city-picker" data-testid="city-picker">
      <div class="sheet-head"><strong id="city-picker-title">${t('city.title')}</strong>
        <button class="icon-btn dark" onClick=${onClose} aria-label=${t('common.close')} data-testid="city-close"><${Icon} name="cross" /></button></div>
      <input class="search" ref=${inputRef} id="city-search" data-testid="city-search" type="search" placeholder=${t('city.search')} aria-label=${t('city.search')} value=${q} onInput=${(e) => setQ(e.currentTarget.value)} />
      <div class="sheet-body">
        ${error ? html`<${Alert}>${error}</${Alert}>` : !cities ? html`<${Spinner} />` : groups.size === 0 ? html`<div class="muted empty">${t('city.empty')}</div>` : [...groups].map(([prov, list]) => html`
          <div class="city-group"><div class="city-prov">${prov}</div>
            <div class="city-list">${list.map((c) => html`<button class="city" data-testid="city-option" data-code=${c.code} onClick=${() => onPick(c)}>${c.name}</button>`)}</div></div>`)}
      </div>
    </div>
  </div>`;
}

function Apply({ account, guest, draft, error: initialError, onNext, onView, passes = [], onShow }) {
  useLang();
  const [name, setName] = useState(draft?.name ?? (isPlainName(account?.name) ? account.name : ''));
  const [idNumber, setIdNumber] = useState(draft?.id_number ?? (isFullId(account?.id_number) ? account.id_number : ''));
  const [city, setCity] = useState(draft?.city ?? null);
  const [loc, setLoc] = useState(draft?.city ? 'done' : 'idle'); // idle | locating | done | none | denied
  const [picker, setPicker] = useState(false);
  const [errs, setErrs] = useState({});
  const [busy, setBusy] = useState(false);
  // What the app knows before any consent screen (SPEC "Early refusal"):
  // this account's certificates this month and the quota of the person
  // typed in (own, or one applied for before; anyone else's is 404).
  const [known, setKnown] = useState([]);
  const [personQuota, setPersonQuota] = useState({ id: '', quota: null });
  const typedId = !guest && !validate(idNumber, now()) ? normalize(idNumber) : '';
  const own = typedId !== '' && isFullId(account?.id_number) && normalize(account.id_number) === typedId;
  useEffect(() => {
    if (guest) return;
    get('/api/v1/certificates' + qs({ month: monthOf(now(), 0) })).then((r) => setKnown(r.certificates || [])).catch(() => {});
  }, []);
  useEffect(() => {
    if (!typedId) return;
    let live = true;
    get('/api/v1/quota' + (own ? '' : qs({ id_number: typedId })))
      .then((r) => live && setPersonQuota({ id: typedId, quota: r.quota }))
      .catch(() => live && setPersonQuota({ id: typedId, quota: null })); // 404: nothing known of this person
    return () => {
      live = false;
    };
  }, [typedId]);
  const certs = [...passes.map((e) => e.certificate), ...known];
  const refusal = typedId ? refusalOf(certs, maskId(typedId), personQuota.id === typedId ? personQuota.quota : null, now()) : null;

  useEffect(() => {
    if (!initialError) return;
    const e = {};
    const c = initialError.code;
    if (c === 'invalid_id_number') e.id_number = errorText(initialError, { idNumber });
    else if (c === 'identity_mismatch') e.form = t('err.identity_mismatch');
    else e.form = errorText(initialError);
    e.code = c;
    setErrs(e);
  }, [initialError]);

  function locate() {
    if (!navigator.geolocation) {
      setLoc('denied');
      return;
    }
    setLoc('locating');
    navigator.geolocation.getCurrentPosition(
      async (pos) => {
        try {
          const r = await get('/api/v1/regions/locate' + qs({ lat: pos.coords.latitude.toFixed(6), lon: pos.coords.longitude.toFixed(6) }));
          if (r.city) {
            setCity(r.city);
            setLoc('done');
          } else setLoc('none');
        } catch {
          setLoc('none');
        }
      },
      () => setLoc('denied'),
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 },
    );
  }
  useEffect(() => {
    if (!city) locate();
  }, []);

  async function submit(e) {
    e.preventDefault();
    const next = identityErrors(name, idNumber);
    if (!city) next.city = t('apply.city.required');
    setErrs(next);
    if (Object.keys(next).length) return;
    const id = normalize(idNumber);
    // A guest learns R2 and R5 only after the face check (API.md "Guest").
    if (guest) return onNext({ name: name.trim(), id_number: id, city });
    // Spare a face check that could not lead anywhere: what R5 and R2
    // will answer is already on the form.
    if (refusal) return;
    setBusy(true);
    try {
      const own = isFullId(account?.id_number) && normalize(account.id_number) === id;
      const r = await get('/api/v1/quota' + (own ? '' : qs({ id_number: id })));
      if (r.quota && r.quota.remaining <= 0) {
        setErrs({ form: t('err.quota_exhausted', { resets_at: fmtDateTime(r.quota.resets_at) }), code: 'quota_exhausted' });
        return;
      }
    } catch (err) {
      if (err.status === 401) return; // onAuthLost shows the login
      // 404: a person this account has not applied for yet — nothing to tell.
    } finally {
      setBusy(false);
    }
    onNext({ name: name.trim(), id_number: id, city });
  }

  const locText = loc === 'locating' ? t('apply.city.locating') : loc === 'none' ? t('apply.city.none') : loc === 'denied' ? t('apply.city.denied') : '';
  return html`<section class="screen apply">
    <p class="lead">${t('apply.subtitle')}</p>
    ${guest ? html`<div class="alert alert-info" id="apply-guest-hint" data-testid="apply-guest-hint">${t('guest.hint')}
      <button type="button" class="btn btn-link" id="apply-to-view" data-testid="apply-to-view" onClick=${() => onView()}>${t('guest.view')}</button></div>` : null}
    <form class="card form" onSubmit=${submit} id="apply-form" data-testid="apply-form" novalidate>
      ${account && !guest ? html`<${TravellerPicker} onPick=${(tr) => { setName(tr.name); setIdNumber(tr.id_number); setErrs({}); }} />` : null}
      <${Field} label=${t('apply.name')} id="apply-name" error=${errs.name}>
        <input id="apply-name" data-testid="apply-name" value=${name} placeholder=${t('apply.name.placeholder')} autocomplete="name"
          onInput=${(e) => { setName(e.currentTarget.value); if (errs.name) setErrs((x) => ({ ...x, name: '' })); }} /></${Field}>
      <div class="field static"><label>${t('apply.id_type')}</label><div class="static-value">${t('apply.id_type.value')}</div></div>
      <${Field} label=${t('apply.id_number')} id="apply-id-number" error=${errs.id_number}>
        <input id="apply-id-number" data-testid="apply-id-number" value=${idNumber} maxlength="20" placeholder=${t('apply.id_number.placeholder')}
          autocapitalize="characters" autocomplete="off" spellcheck="false"
          onInput=${(e) => { setIdNumber(e.currentTarget.value); if (errs.id_number) setErrs((x) => ({ ...x, id_number: '' })); }}
          onBlur=${() => { const b = idNumber ? validate(idNumber, now()) : null; if (b) setErrs((x) => ({ ...x, id_number: t('id.' + b) })); }} /></${Field}>
      <div class=${'field' + (errs.city ? ' has-error' : '')}>
        <label for="apply-city">${t('apply.city')}</label>
        <div class="city-row">
          <button type="button" class="city-value" id="apply-city" data-testid="apply-city" data-code=${city?.code || ''} aria-describedby=${errs.city ? 'apply-city-error' : null} onClick=${() => setPicker(true)}>
            ${city ? html`<span>${city.province && city.province !== city.name ? city.province + ' · ' : ''}${city.name}</span>` : html`<span class="muted">${t('apply.city.choose')}</span>`}
            <${Icon} name="chevron" size=${18} /></button>
          <button type="button" class="btn btn-outline btn-small" id="apply-relocate" data-testid="apply-relocate" onClick=${locate} disabled=${loc === 'locating'}>
            <${Icon} name="locate" size=${16} /> ${t('apply.relocate')}</button>
        </div>
        ${locText ? html`<div class="field-hint" id="apply-locate-status" data-testid="apply-locate-status" data-state=${loc}>${locText}</div>` : null}
        ${errs.city ? html`<div class="field-error" id="apply-city-error" data-testid="apply-city-error">${errs.city}</div>` : null}
      </div>
      <${Refusal} refusal=${refusal} own=${own} name=${maskName(name.trim())} onShow=${onShow} testid="apply-refusal" />
      ${errs.form ? html`<div class="alert alert-error" role="alert" id="apply-error" data-testid="apply-error" data-code=${errs.code || ''}>${errs.form}</div>` : null}
      <button class="btn btn-primary btn-block btn-lg" type="submit" id="apply-submit" data-testid="apply-submit" disabled=${busy}>${t('apply.submit')}</button>
    </form>
    ${picker ? html`<${CityPicker} onClose=${() => setPicker(false)} onPick=${(c) => { setCity(c); setLoc('done'); setPicker(false); setErrs((x) => ({ ...x, city: '' })); }} />` : null}
  </section>`;
}

// The service worker keeps the app shell for opening the certificate
// offline; it needs a secure context (HTTPS or localhost) and is optional.
function registerShell() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready).then((reg) => {
    const shell = ['/', ...performance.getEntriesByType('resource').map((r) => new URL(r.name))
      .filter((u) => u.origin === location.origin && (u.pathname.startsWith('/assets/') || u.pathname === '/favicon.svg')).map((u) => u.pathname)];
    reg.active?.postMessage({ shell });
  }).catch(() => {});
}

initLang();
window.addEventListener('load', registerShell);
mountDemoRibbon();
render(html`<${App} />`, document.getElementById('app'));
