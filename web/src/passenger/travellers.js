// Saved travellers (常用乘车人, SPEC "Companion"): the people a passenger
// applies for with them. The list shows the ID number masked; the full
// number is fetched only when a traveller is picked to fill an
// application.
import { useEffect, useState } from 'preact/hooks';
import { html, useLang, Alert, Spinner } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { get, post, del } from '../lib/api.js';
import { errorText } from '../lib/errors.js';
import { validate, normalize } from '../lib/idnumber.js';
import { now } from '../lib/clock.js';
import './owndata.css';

/** identityErrors are a name's and an ID number's errors by field, as the
 * application form and the saved travellers' form both show them. */
export function identityErrors(name, idNumber) {
  const errs = {};
  if (!name.trim()) errs.name = t('apply.name.required');
  const bad = validate(idNumber, now());
  if (bad) errs.id_number = t('id.' + bad);
  return errs;
}

/** loadTravellers answers {travellers, limit}. */
async function loadTravellers() {
  const r = await get('/api/v1/travellers');
  return { travellers: r.travellers || [], limit: r.limit || 15 };
}

/**
 * TextInput is a labelled input whose error is tied to it
 * (aria-invalid, aria-describedby), for the forms of these screens.
 */
export function TextInput({ id, label, value, error, onInput, ...rest }) {
  const errId = id + '-error';
  return html`<div class=${'field' + (error ? ' has-error' : '')}>
    <label for=${id}>${label}</label>
    <input id=${id} data-testid=${id} value=${value} aria-invalid=${error ? 'true' : 'false'}
      aria-describedby=${error ? errId : undefined} onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} />
    ${error ? html`<div class="field-error" id=${errId} data-testid=${errId}>${error}</div>` : null}
  </div>`;
}

/** TravellersScreen lists, adds and removes the account's saved travellers. */
export function TravellersScreen() {
  useLang();
  const [data, setData] = useState(null);
  const [loadError, setLoadError] = useState('');
  const [name, setName] = useState('');
  const [idNumber, setIdNumber] = useState('');
  const [errs, setErrs] = useState({});
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState('');

  function reload() {
    return loadTravellers().then(setData).catch((err) => err.status !== 401 && setLoadError(errorText(err)));
  }
  useEffect(() => {
    reload();
  }, []);

  async function add(e) {
    e.preventDefault();
    const next = identityErrors(name, idNumber);
    setErrs(next);
    setNotice('');
    if (Object.keys(next).length) return;
    setBusy(true);
    try {
      await post('/api/v1/travellers', { name: name.trim(), id_number: normalize(idNumber) });
      setName('');
      setIdNumber('');
      setNotice(t('travellers.added'));
      await reload();
    } catch (err) {
      if (err.status === 401) return;
      if (err.code === 'invalid_id_number') setErrs({ id_number: errorText(err, { idNumber }) });
      else if (err.code === 'identity_mismatch') setErrs({ name: t('err.identity_mismatch') });
      else setErrs({ form: errorText(err) });
    } finally {
      setBusy(false);
    }
  }

  async function remove(tr) {
    setNotice('');
    setErrs({});
    try {
      await del('/api/v1/travellers/' + encodeURIComponent(tr.id));
      setNotice(t('travellers.removed', { name: tr.name || tr.name_masked }));
      await reload();
    } catch (err) {
      if (err.status !== 401) setErrs({ form: errorText(err) });
    }
  }

  const list = data?.travellers || [];
  const full = data && list.length >= data.limit;
  return html`<section class="screen travellers" id="travellers-screen" data-testid="travellers-screen">
    <p class="lead">${t('travellers.lead')}</p>
    <div class="card">
      <h2 class="card-title">${t('travellers.list')} ${data ? html`<span class="muted small">${t('travellers.count', { n: list.length, limit: data.limit })}</span>` : null}</h2>
      ${loadError ? html`<${Alert}>${loadError}</${Alert}>` : !data ? html`<${Spinner} />` : list.length === 0
        ? html`<div class="muted empty" data-testid="travellers-empty">${t('travellers.empty')}</div>`
        : html`<ul class="plain-list" data-testid="travellers-list">${list.map((tr) => html`
          <li data-testid="traveller-item" data-id=${tr.id}>
            <div><strong>${tr.name}</strong> <span class="muted mono">${tr.id_number_masked}</span></div>
            <button type="button" class="btn btn-small btn-outline" data-testid="traveller-remove" data-id=${tr.id}
              aria-label=${t('travellers.remove.label', { name: tr.name })} onClick=${() => remove(tr)}>${t('travellers.remove')}</button>
          </li>`)}</ul>`}
    </div>
    <${Alert} kind="ok" testid="travellers-notice">${notice}</${Alert}>
    <form class="card form" id="traveller-form" data-testid="traveller-form" onSubmit=${add} novalidate>
      <h2 class="card-title">${t('travellers.add')}</h2>
      ${full ? html`<p class="muted small" data-testid="travellers-full">${t('err.traveller_limit_reached')}</p>` : null}
      <${TextInput} id="traveller-name" label=${t('apply.name')} value=${name} error=${errs.name} autocomplete="off"
        onInput=${(v) => { setName(v); if (errs.name) setErrs((x) => ({ ...x, name: '' })); }} />
      <${TextInput} id="traveller-id-number" label=${t('apply.id_number')} value=${idNumber} error=${errs.id_number}
        maxlength="20" autocapitalize="characters" autocomplete="off" spellcheck="false"
        onInput=${(v) => { setIdNumber(v); if (errs.id_number) setErrs((x) => ({ ...x, id_number: '' })); }} />
      <${Alert} testid="traveller-error">${errs.form}</${Alert}>
      <button class="btn btn-primary btn-block" type="submit" id="traveller-submit" data-testid="traveller-submit" disabled=${busy || full}>
        ${busy ? t('common.loading') : t('travellers.add.submit')}</button>
    </form>
  </section>`;
}

/**
 * TravellerPicker offers the saved travellers in the apply form; picking
 * one fetches the full name and ID number and hands them to onPick. It
 * shows nothing while the account has none.
 */
export function TravellerPicker({ onPick }) {
  useLang();
  const [list, setList] = useState(null);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    loadTravellers().then((d) => setList(d.travellers)).catch(() => setList([]));
  }, []);
  if (!list || list.length === 0) return null;

  async function pick(tr) {
    setError('');
    try {
      const r = await get('/api/v1/travellers/' + encodeURIComponent(tr.id));
      setOpen(false);
      onPick({ name: r.traveller.name, id_number: r.traveller.id_number });
    } catch (err) {
      if (err.status !== 401) setError(errorText(err));
    }
  }

  return html`<div class="traveller-picker" data-testid="traveller-picker">
    <button type="button" class="btn btn-outline btn-small" id="traveller-pick" data-testid="traveller-pick"
      aria-expanded=${open ? 'true' : 'false'} aria-controls="traveller-options" onClick=${() => setOpen(!open)}>${t('travellers.pick')}</button>
    ${open ? html`<ul class="plain-list picker-list" id="traveller-options" data-testid="traveller-options" aria-label=${t('travellers.list')}>
      ${list.map((tr) => html`<li><button type="button" class="picker-option" data-testid="traveller-option" data-id=${tr.id} onClick=${() => pick(tr)}>
        <strong>${tr.name}</strong> <span class="muted mono">${tr.id_number_masked}</span></button></li>`)}</ul>` : null}
    <${Alert} testid="traveller-pick-error">${error}</${Alert}>
  </div>`;
}
