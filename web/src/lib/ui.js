// Small shared components of the three apps (preact + htm, no JSX build).
import { h, cloneElement, toChildArray } from 'preact';
import { useEffect, useLayoutEffect, useState, useRef } from 'preact/hooks';
import htm from 'htm';
import { t, getLang, setLang, onLang, initLang } from './i18n.js';
import { get, post, setCsrf } from './api.js';
import { errorText } from './errors.js';
import './demo.css';

export const html = htm.bind(h);

/** useLang re-renders the component when the language changes. */
export function useLang() {
  const [lang, set] = useState(getLang());
  useEffect(() => onLang(set), []);
  return lang;
}

export { initLang };

/**
 * LangSwitch shows the other language's short name ("EN" / "中文"); its
 * spoken name starts with that visible text (WCAG 2.5.3) and goes on to
 * say what it does, in the language it switches to.
 */
export function LangSwitch({ class: cls = '' }) {
  useLang();
  const other = getLang() === 'en' ? 'zh-CN' : 'en';
  return html`<button type="button" class=${'lang-switch ' + cls} id="lang-switch" data-testid="lang-switch" lang=${other}
    onClick=${() => setLang(getLang() === 'en' ? 'zh' : 'en')}>${t('lang.switch')}<span class="visually-hidden"> ${t('lang.switch.label')}</span></button>`;
}

export function Spinner({ label }) {
  return html`<div class="spinner-wrap" role="status"><span class="spinner"></span>${label ? html`<span>${label}</span>` : null}</div>`;
}

export function Alert({ kind = 'error', children, testid = 'error' }) {
  if (!children) return null;
  return html`<div class=${'alert alert-' + kind} role=${kind === 'error' ? 'alert' : 'status'} data-testid=${testid}>${children}</div>`;
}

/**
 * Field is a labelled form field. Its control (the child input, select or
 * textarea whose id is id) is marked aria-invalid while there is an error
 * and described by the error, or else by the hint, so a screen reader says
 * what is wrong when the control gets focus.
 */
export function Field({ label, id, error, hint, children }) {
  const note = error ? id + '-error' : hint ? id + '-hint' : null;
  const kids = toChildArray(children).map((c) => (c && ['input', 'select', 'textarea'].includes(c.type) && c.props.id === id
    ? cloneElement(c, { 'aria-invalid': error ? 'true' : null, 'aria-describedby': note })
    : c));
  return html`<div class=${'field' + (error ? ' has-error' : '')}>
    <label for=${id}>${label}</label>
    ${kids}
    ${error ? html`<div class="field-error" id=${id + '-error'} data-testid=${id + '-error'} role="alert">${error}</div>` : hint ? html`<div class="field-hint" id=${id + '-hint'}>${hint}</div>` : null}
  </div>`;
}

/**
 * useScreen names the screen a person is on. document.title becomes
 * "screen · app" in the current language (just app when they are the
 * same), and when key changes — a new screen — focus moves to the element
 * the returned ref is put on: the screen's title, an h1 with tabindex=-1.
 * A screen reader then says where the person is, and Tab goes on from the
 * top of the new screen instead of from a button that is gone.
 */
export function useScreen(key, name, app) {
  const ref = useRef(null);
  const shown = useRef(key);
  useEffect(() => {
    document.title = name && name !== app ? name + ' · ' + app : app;
  }, [name, app]);
  useEffect(() => {
    if (shown.current === key) return;
    shown.current = key;
    // A new screen starts at its top, as a new page would: the window
    // keeps the last screen's scroll otherwise, and the new screen's first
    // buttons can sit under the sticky header.
    window.scrollTo(0, 0);
    ref.current?.focus();
  }, [key]);
  return ref;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * useDialog makes the element the returned ref is put on behave as a modal
 * dialog while it is mounted: Escape calls onClose, Tab and Shift+Tab stay
 * within it, and when it goes, focus returns to the element that had it
 * when the dialog opened (the button that opened it).
 */
export function useDialog(onClose) {
  const ref = useRef(null);
  const close = useRef(onClose);
  close.current = onClose;
  // Read while the dialog first renders, before anything in it takes focus.
  const opener = useRef(undefined);
  if (opener.current === undefined) opener.current = document.activeElement;
  // A layout effect: its cleanup runs as the dialog leaves the page, not
  // after the next paint, so focus is never left on the body in between.
  useLayoutEffect(() => {
    const el = ref.current;
    function onKey(e) {
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        close.current();
        return;
      }
      if (e.key !== 'Tab' || !el) return;
      const items = [...el.querySelectorAll(FOCUSABLE)].filter((x) => x.offsetParent !== null || x === document.activeElement);
      if (items.length === 0) {
        e.preventDefault();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && (document.activeElement === first || !el.contains(document.activeElement))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !el.contains(document.activeElement))) {
        e.preventDefault();
        first.focus();
      }
    }
    document.addEventListener('keydown', onKey, true);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      const o = opener.current;
      if (o && o !== document.body && o.isConnected && typeof o.focus === 'function') o.focus();
    };
  }, []);
  return ref;
}

/** Icon draws a few inline SVG icons (no icon font, nothing fetched). */
export function Icon({ name, size = 22 }) {
  const paths = {
    id: 'M3 5h18v14H3z M7 9h4 M7 13h6 M15 9.5a1.5 1.5 0 1 0 0.01 0 M14 15h3',
    locate: 'M12 2v3 M12 19v3 M2 12h3 M19 12h3 M12 7a5 5 0 1 0 0.01 0',
    chevron: 'M9 6l6 6-6 6',
    back: 'M15 6l-6 6 6 6',
    shield: 'M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z M8.5 12l2.5 2.5 4.5-5',
    face: 'M4 8V5a1 1 0 0 1 1-1h3 M16 4h3a1 1 0 0 1 1 1v3 M20 16v3a1 1 0 0 1-1 1h-3 M8 20H5a1 1 0 0 1-1-1v-3 M9 10v1 M15 10v1 M9.5 15.5c1.5 1 3.5 1 5 0',
    train: 'M6 3h12a2 2 0 0 1 2 2v10a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3V5a2 2 0 0 1 2-2z M4 11h16 M8 15h.01 M16 15h.01 M8 18l-2 3 M16 18l2 3',
    clock: 'M12 3a9 9 0 1 0 0.01 0 M12 7v5l3 2',
    scan: 'M4 8V5a1 1 0 0 1 1-1h3 M16 4h3a1 1 0 0 1 1 1v3 M20 16v3a1 1 0 0 1-1 1h-3 M8 20H5a1 1 0 0 1-1-1v-3 M4 12h16',
    check: 'M5 12.5l4.5 4.5L19 7.5',
    cross: 'M6 6l12 12 M18 6L6 18',
    warn: 'M12 3l10 18H2z M12 10v5 M12 18h.01',
    logout: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3 M10 17l5-5-5-5 M15 12H3',
    history: 'M4 12a8 8 0 1 0 2.3-5.6 M4 4v4h4 M12 8v4l3 2',
    camera: 'M4 7h3l2-3h6l2 3h3a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z M12 10a3.5 3.5 0 1 0 0.01 0',
    key: 'M14 10a4 4 0 1 0-3.5 4l1.5 1.5h2v2h2v2h3v-3l-5.5-5.5',
    home: 'M3 11l9-8 9 8 M5 9.5V20h5v-6h4v6h5V9.5',
  };
  return html`<svg class="icon" width=${size} height=${size} viewBox="0 0 24 24" fill="none" stroke="currentColor"
    stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d=${paths[name] || ''} /></svg>`;
}

/**
 * StaffLogin is the log-in card of the staff and admin consoles; it accepts
 * only accounts whose role is in roles.
 */
export function StaffLogin({ title, subtitle, roles, onLoggedIn }) {
  useLang();
  useScreen('login', t('auth.login'), title);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const userRef = useRef(null);
  useEffect(() => userRef.current?.focus(), []);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const res = await post('/api/v1/session', { username, password });
      if (!roles.includes(res?.account?.role)) {
        setError(t('auth.wrong_role'));
        return;
      }
      setCsrf(res.csrf_token);
      onLoggedIn(res);
    } catch (err) {
      setError(err.status === 401 || err.status === 400 ? t('err.login_failed') : errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="console-login">
    <form class="login-card" onSubmit=${submit} data-testid="login-form" id="login-form">
      <div class="login-head"><${Icon} name="train" size=${30} /><div><h1>${title}</h1><p>${subtitle}</p></div></div>
      <${Field} label=${t('auth.username')} id="login-username">
        <input id="login-username" data-testid="login-username" autocomplete="username" value=${username}
          ref=${userRef} onInput=${(e) => setUsername(e.currentTarget.value)} required />
      </${Field}>
      <${Field} label=${t('auth.password')} id="login-password">
        <input id="login-password" data-testid="login-password" type="password" autocomplete="current-password"
          value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} required />
      </${Field}>
      <${Alert}>${error}</${Alert}>
      <button class="btn btn-primary btn-block" type="submit" id="login-submit" data-testid="login-submit" disabled=${busy}>
        ${busy ? t('common.loading') : t('auth.login')}</button>
      <div class="login-foot"><${LangSwitch} /></div>
    </form>
  </main>`;
}

/**
 * useConsoleSession finds out whether this browser already has a session
 * with one of the roles, for the staff and admin consoles. It answers
 * [state ('loading' | 'in' | 'out'), account, setState, setAccount].
 */
export function useConsoleSession(roles) {
  const [state, setState] = useState('loading');
  const [account, setAccount] = useState(null);
  useEffect(() => {
    get('/api/v1/session')
      .then((r) => {
        if (roles.includes(r.account?.role)) {
          setCsrf(r.csrf_token);
          setAccount(r.account);
          setState('in');
        } else setState('out');
      })
      .catch(() => setState('out'));
  }, []);
  return [state, account, setState, setAccount];
}

/** DEMO_TEXT is the demo ribbon's text, in both languages at once. */
export const DEMO_TEXT = '演示环境 / DEMO';

/**
 * mountDemoRibbon asks the server whether it runs in demo mode (a
 * development registry, a face simulator that compares no faces) and, if
 * so, puts a ribbon saying so on the page, outside the app's own tree so
 * that no screen has to carry it.
 */
export function mountDemoRibbon() {
  get('/api/v1/about')
    .then((r) => {
      if (!r?.demo || document.getElementById('demo-ribbon')) return;
      const el = document.createElement('aside');
      el.id = 'demo-ribbon';
      el.className = 'demo-ribbon';
      el.dataset.testid = 'demo-ribbon';
      el.setAttribute('aria-label', DEMO_TEXT);
      el.textContent = DEMO_TEXT;
      document.body.appendChild(el);
    })
    .catch(() => {
      // Without an answer nothing is claimed either way.
    });
}
