// My data (我的数据, SPEC "Data protection and audit", data-subject
// rights): what tempid holds about the passenger, masked; downloading it
// as JSON; withdrawing the face-recognition consent; deleting the account
// with the password given again.
import { useEffect, useState } from 'preact/hooks';
import { html, useLang, Alert, Spinner } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { get, post, request } from '../lib/api.js';
import { errorText } from '../lib/errors.js';
import { fmtDateTime } from '../lib/format.js';
import { TextInput } from './travellers.js';
import './owndata.css';

const FILE_NAME = 'tempid-my-data.json';

/** saveFile offers text to the browser as a file to save. */
function saveFile(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function Row({ label, value, testid }) {
  return html`<div class="kv"><dt>${label}</dt><dd data-testid=${testid}>${value || '—'}</dd></div>`;
}

/**
 * MyDataScreen shows the passenger's data and its three actions. When the
 * account is deleted, onDeleted is called: the app forgets the session
 * and the device.
 */
export function MyDataScreen({ onDeleted, onTravellers }) {
  useLang();
  const [data, setData] = useState(null);
  const [loadError, setLoadError] = useState('');
  const [notice, setNotice] = useState('');
  const [downloaded, setDownloaded] = useState(0);

  function load() {
    setLoadError('');
    return get('/api/v1/me/data').then(setData).catch((err) => err.status !== 401 && setLoadError(errorText(err)));
  }
  useEffect(() => {
    load();
  }, []);

  async function download() {
    setNotice('');
    try {
      const d = await get('/api/v1/me/data?download=1');
      const text = JSON.stringify(d, null, 2);
      saveFile(text, FILE_NAME);
      setDownloaded(text.length);
      setNotice(t('mydata.downloaded', { file: FILE_NAME }));
    } catch (err) {
      if (err.status !== 401) setLoadError(errorText(err));
    }
  }

  if (loadError && !data) {
    return html`<section class="screen mydata"><${Alert}>${loadError}</${Alert}>
      <button class="btn btn-primary btn-block" data-testid="mydata-retry" onClick=${load}>${t('common.retry')}</button></section>`;
  }
  if (!data) return html`<div class="center-screen"><${Spinner} label=${t('common.loading')} /></div>`;

  const acc = data.account || {};
  const consents = data.consents || [];
  const consent = consents[consents.length - 1];
  const consentStanding = consent && consent.status === 'given';
  const activeSessions = (data.sessions || []).filter((s) => !s.ended_at && Date.parse(s.expires_at) > Date.now());
  return html`<section class="screen mydata" id="mydata-screen" data-testid="mydata-screen">
    <p class="lead">${t('mydata.lead')}</p>
    <div class="card">
      <h2 class="card-title">${t('mydata.account')}</h2>
      <dl class="kv-list">
        <${Row} label=${t('auth.username')} value=${acc.username} testid="mydata-username" />
        <${Row} label=${t('auth.name')} value=${acc.name_masked} testid="mydata-name" />
        <${Row} label=${t('auth.id_number')} value=${acc.id_number_masked} testid="mydata-id-number" />
        <${Row} label=${t('mydata.phone')} value=${acc.phone_masked} testid="mydata-phone" />
        <${Row} label=${t('mydata.created')} value=${fmtDateTime(acc.created_at)} testid="mydata-created" />
      </dl>
    </div>
    <div class="card">
      <h2 class="card-title">${t('mydata.held')}</h2>
      <dl class="kv-list">
        <${Row} label=${t('mydata.certificates')} value=${String((data.certificates || []).length)} testid="mydata-certificates" />
        <${Row} label=${t('mydata.certificates_held')} value=${String((data.certificates_held || []).length)} testid="mydata-certificates-held" />
        <${Row} label=${t('mydata.face_checks')} value=${String((data.face_checks || []).length)} testid="mydata-face-checks" />
        <${Row} label=${t('mydata.devices')} value=${String((data.devices || []).length)} testid="mydata-devices" />
        <${Row} label=${t('mydata.sessions')} value=${t('mydata.sessions.value', { n: (data.sessions || []).length, live: activeSessions.length })} testid="mydata-sessions" />
        <${Row} label=${t('mydata.travellers')} value=${String((data.travellers || []).length)} testid="mydata-travellers" />
      </dl>
      ${(data.face_checks || []).length ? html`<h3 class="sub-title">${t('mydata.face_checks.recent')}</h3>
        <ul class="plain-list small" data-testid="mydata-face-check-list">${data.face_checks.slice(0, 5).map((f) => html`<li>
          <span>${fmtDateTime(f.created_at)}</span>
          <span>${t('mydata.purpose.' + f.purpose)} · ${t('mydata.result.' + f.result)}</span></li>`)}</ul>
        <p class="muted small">${t('mydata.no_images')}</p>` : null}
      <button type="button" class="btn btn-link" data-testid="mydata-to-travellers" onClick=${onTravellers}>${t('home.entry.travellers')}</button>
    </div>
    <div class="card">
      <h2 class="card-title">${t('mydata.download')}</h2>
      <p class="muted small">${t('mydata.download.hint')}</p>
      <button type="button" class="btn btn-outline btn-block" id="mydata-download" data-testid="mydata-download"
        data-bytes=${downloaded || ''} onClick=${download}>${t('mydata.download.button')}</button>
    </div>
    <${Alert} kind="ok" testid="mydata-notice">${notice}</${Alert}>
    <${ConsentCard} consent=${consent} standing=${consentStanding} onWithdrawn=${async () => { await load(); setNotice(t('mydata.consent.withdrawn')); }} />
    <${DeleteCard} onDeleted=${onDeleted} />
  </section>`;
}

function ConsentCard({ consent, standing, onWithdrawn }) {
  useLang();
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function withdraw() {
    setBusy(true);
    setError('');
    try {
      await post('/api/v1/me/consents/face/withdraw');
      setConfirm(false);
      await onWithdrawn();
    } catch (err) {
      if (err.status !== 401) setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  const status = !consent ? t('mydata.consent.none') : standing
    ? t('mydata.consent.given', { at: fmtDateTime(consent.given_at) })
    : t('mydata.consent.withdrawn_at', { at: fmtDateTime(consent.withdrawn_at) });
  return html`<div class="card" id="mydata-consent" data-testid="mydata-consent" data-status=${!consent ? 'none' : consent.status}>
    <h2 class="card-title">${t('consent.title')}</h2>
    <p data-testid="mydata-consent-status">${status}</p>
    <p class="muted small">${t('mydata.consent.hint')}</p>
    ${standing && !confirm ? html`<button type="button" class="btn btn-outline btn-block" id="mydata-withdraw" data-testid="mydata-withdraw"
      onClick=${() => setConfirm(true)}>${t('mydata.consent.withdraw')}</button>` : null}
    ${standing && confirm ? html`<div class="alert alert-warn" role="alertdialog" aria-labelledby="mydata-withdraw-q">
      <p id="mydata-withdraw-q">${t('mydata.consent.confirm')}</p>
      <div class="actions">
        <button type="button" class="btn btn-primary btn-block" data-testid="mydata-withdraw-confirm" disabled=${busy} onClick=${withdraw}>${t('mydata.consent.withdraw')}</button>
        <button type="button" class="btn btn-ghost btn-block" data-testid="mydata-withdraw-cancel" onClick=${() => setConfirm(false)}>${t('common.cancel')}</button>
      </div></div>` : null}
    <${Alert} testid="mydata-consent-error">${error}</${Alert}>
  </div>`;
}

function DeleteCard({ onDeleted }) {
  useLang();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [sure, setSure] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    if (!password) {
      setError(t('mydata.delete.password_required'));
      return;
    }
    setBusy(true);
    setError('');
    try {
      await request('DELETE', '/api/v1/accounts/me', { password });
      setPassword('');
      onDeleted();
    } catch (err) {
      if (err.status === 401) return;
      setError(err.code === 'forbidden' ? t('mydata.delete.wrong_password') : errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return html`<div class="card danger-zone" id="mydata-delete" data-testid="mydata-delete">
    <h2 class="card-title">${t('mydata.delete')}</h2>
    <p class="small">${t('mydata.delete.explain')}</p>
    ${!open ? html`<button type="button" class="btn btn-outline btn-block danger-outline" id="mydata-delete-open" data-testid="mydata-delete-open"
      onClick=${() => setOpen(true)}>${t('mydata.delete.open')}</button>` : html`<form class="form" onSubmit=${submit} id="mydata-delete-form" data-testid="mydata-delete-form" novalidate>
      <${TextInput} id="mydata-delete-password" label=${t('mydata.delete.password')} type="password" autocomplete="current-password"
        value=${password} error=${error} onInput=${(v) => { setPassword(v); if (error) setError(''); }} />
      <label class="check">
        <input type="checkbox" id="mydata-delete-sure" data-testid="mydata-delete-sure" checked=${sure} onChange=${(e) => setSure(e.currentTarget.checked)} />
        <span>${t('mydata.delete.sure')}</span>
      </label>
      <div class="actions">
        <button class="btn btn-danger btn-block" type="submit" id="mydata-delete-submit" data-testid="mydata-delete-submit" disabled=${busy || !sure}>
          ${busy ? t('common.loading') : t('mydata.delete.submit')}</button>
        <button type="button" class="btn btn-ghost btn-block" data-testid="mydata-delete-cancel" onClick=${() => { setOpen(false); setPassword(''); setError(''); setSure(false); }}>${t('common.cancel')}</button>
      </div>
    </form>`}
  </div>`;
}
