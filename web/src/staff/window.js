// The manual window (人工窗口) of the staff console, for an officer: type
// name and ID number, see whether the registry confirms them (and its
// reference photo, shown and never kept), record how the person was
// confirmed, issue the paper certificate (slip) and print it. Nothing of
// the person is written to browser storage.
import { useState, useEffect, useRef } from 'preact/hooks';
import QRCode from 'qrcode';
import { html, useLang, Spinner } from '../lib/ui.js';
import { getLang } from '../lib/i18n.js';
import { post, get, request } from '../lib/api.js';
import { errorText } from '../lib/errors.js';
import '../lib/slip.css';

const words = {
  zh: {
    title: '人工窗口 · 制证', name: '姓名', id: '身份证号码', lookup: '核验身份', confirmed: '身份证件系统已核验',
    notConfirmed: '身份证件系统未能核验该姓名与号码', photo: '系统存档照片（仅供比对，不保存）', noPhoto: '系统无存档照片',
    method: '核验方式', registry_photo: '比对系统照片', document: '查验其他证件', questions: '询问核实',
    docType: '证件类型', passport: '护照', driving_licence: '驾驶证', household_register: '户口簿', other: '其他',
    note: '备注（可选）', reason: '替换现有证明的原因（有有效证明时填写）', issue: '开具纸质证明', print: '打印', again: '下一位',
    station: '车站', issued: '开具时间', expires: '有效期至', cert: '证明编号', railOnly: '仅限办理铁路业务使用',
    slipTitle: '临时乘车身份证明', cst: '北京时间',
  },
  en: {
    title: 'Manual window · issue', name: 'Name', id: 'ID number', lookup: 'Check identity', confirmed: 'Confirmed by the identity registry',
    notConfirmed: 'The registry does not confirm this name and number', photo: 'Registry photo (for comparison, not kept)', noPhoto: 'No registry photo',
    method: 'How the person was confirmed', registry_photo: 'Registry photo', document: 'Another document', questions: 'Questions',
    docType: 'Document', passport: 'Passport', driving_licence: 'Driving licence', household_register: 'Household register', other: 'Other',
    note: 'Note (optional)', reason: 'Reason to replace an active certificate (if there is one)', issue: 'Issue paper certificate', print: 'Print', again: 'Next person',
    station: 'Station', issued: 'Issued', expires: 'Valid until', cert: 'Certificate', railOnly: '仅限办理铁路业务使用 (railway use only)',
    slipTitle: 'Temporary boarding identity certificate', cst: 'China Standard Time',
  },
};
const w = (k) => (words[getLang()] || words.zh)[k] || k;

/** cst formats a time in China Standard Time, whatever the browser's zone. */
export function cst(v) {
  const d = new Date(v);
  const p = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }).formatToParts(d);
  const g = (t) => p.find((x) => x.type === t)?.value;
  return `${g('year')}-${g('month')}-${g('day')} ${g('hour')}:${g('minute')}`;
}

function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function Window({ station }) {
  useLang();
  const [name, setName] = useState('');
  const [id, setId] = useState('');
  const [look, setLook] = useState(null);
  const [method, setMethod] = useState('registry_photo');
  const [docType, setDocType] = useState('passport');
  const [note, setNote] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [slip, setSlip] = useState(null);
  const keyRef = useRef('');

  function reset() {
    setName(''); setId(''); setLook(null); setNote(''); setReason(''); setError(''); setSlip(null); keyRef.current = '';
  }

  async function lookup(e) {
    e.preventDefault();
    setBusy(true); setError(''); setLook(null);
    try {
      setLook(await post('/api/v1/slips/lookup', { name, id_number: id }));
      keyRef.current = newKey();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function issue(e) {
    e.preventDefault();
    setBusy(true); setError('');
    const body = { name, id_number: id, method };
    if (method === 'document') body.document_type = docType;
    if (note.trim()) body.note = note.trim();
    if (reason.trim()) body.supersede_reason = reason.trim();
    try {
      setSlip(await request('POST', '/api/v1/slips', body, { headers: { 'Idempotency-Key': keyRef.current } }));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  if (slip) return html`<${PrintPage} slip=${slip} station=${station} onDone=${reset} />`;
  return html`<div class="panel window" data-testid="window">
    <div class="panel-title">${w('title')}</div>
    <form onSubmit=${lookup} class="window-form">
      <label>${w('name')}<input id="window-name" data-testid="window-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} autocomplete="off" /></label>
      <label>${w('id')}<input id="window-id" data-testid="window-id" class="mono" value=${id} onInput=${(e) => setId(e.currentTarget.value)} autocomplete="off" /></label>
      <button class="btn btn-primary" id="window-lookup" data-testid="window-lookup" disabled=${busy || !name || !id}>${w('lookup')}</button>
    </form>
    ${busy ? html`<${Spinner} />` : null}
    ${error ? html`<div class="alert alert-error" data-testid="window-error">${error}</div>` : null}
    ${look ? html`<div class="window-look" data-testid="window-look" data-confirmed=${look.confirmed ? 'true' : 'false'}>
      <div class=${look.confirmed ? 'ok' : 'bad'}>${look.confirmed ? w('confirmed') : w('notConfirmed')}</div>
      ${look.confirmed ? html`<div class="window-photo">${look.photo ? html`<figure><img src=${look.photo} alt="" data-testid="window-photo" /><figcaption>${w('photo')}</figcaption></figure>` : html`<span class="muted">${w('noPhoto')}</span>`}</div>` : null}
    </div>` : null}
    ${look?.confirmed ? html`<form onSubmit=${issue} class="window-form">
      <fieldset><legend>${w('method')}</legend>
        ${['registry_photo', 'document', 'questions'].map((m) => html`<label class="radio"><input type="radio" name="method" value=${m} id=${'method-' + m} data-testid=${'method-' + m}
          checked=${method === m} onChange=${() => setMethod(m)} /> ${w(m)}</label>`)}
      </fieldset>
      ${method === 'document' ? html`<label>${w('docType')}<select id="window-doc" data-testid="window-doc" value=${docType} onChange=${(e) => setDocType(e.currentTarget.value)}>
        ${['passport', 'driving_licence', 'household_register', 'other'].map((d) => html`<option value=${d}>${w(d)}</option>`)}</select></label>` : null}
      <label>${w('note')}<input id="window-note" value=${note} onInput=${(e) => setNote(e.currentTarget.value)} /></label>
      <label>${w('reason')}<input id="window-reason" data-testid="window-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} /></label>
      <button class="btn btn-primary" id="window-issue" data-testid="window-issue" disabled=${busy}>${w('issue')}</button>
    </form>` : null}
  </div>`;
}

/** PrintPage is the slip as printed: A6 or an 80 mm receipt (see staff.css, @media print). */
export function PrintPage({ slip, station, onDone }) {
  useLang();
  const canvasRef = useRef(null);
  useEffect(() => {
    QRCode.toCanvas(canvasRef.current, [{ data: slip.slip, mode: 'alphanumeric' }], { errorCorrectionLevel: 'M', margin: 4, scale: 4 });
  }, [slip.slip]);
  const c = slip.certificate;
  return html`<div class="print-page" data-testid="print-page">
    <div class="slip" id="slip" data-testid="slip">
      <div class="slip-title">${words.zh.slipTitle}</div>
      <canvas ref=${canvasRef} id="slip-qr" data-testid="slip-qr" data-slip=${slip.slip}></canvas>
      <dl>
        <div><dt>${words.zh.name}</dt><dd data-testid="slip-name">${slip.holder.name}</dd></div>
        <div><dt>${words.zh.id}</dt><dd class="mono" data-testid="slip-id">${slip.holder.id_number}</dd></div>
        <div><dt>${words.zh.station}</dt><dd data-testid="slip-station">${station}</dd></div>
        <div><dt>${words.zh.issued}</dt><dd>${cst(c.issued_at)} ${words.zh.cst}</dd></div>
        <div><dt>${words.zh.expires}</dt><dd data-testid="slip-expires">${cst(c.expires_at)} ${words.zh.cst}</dd></div>
        <div><dt>${words.zh.cert}</dt><dd class="mono small" data-testid="slip-cert">${c.id}</dd></div>
      </dl>
      <div class="slip-rail">仅限办理铁路业务使用</div>
    </div>
    <div class="print-actions no-print">
      <button class="btn btn-primary" id="slip-print" data-testid="slip-print" onClick=${() => window.print()}>${w('print')}</button>
      <button class="btn btn-outline" id="slip-done" data-testid="slip-done" onClick=${onDone}>${w('again')}</button>
    </div>
  </div>`;
}

/** Reprint fetches a stored slip again (a jammed printer). */
export async function reprint(id) {
  return get('/api/v1/slips/' + encodeURIComponent(id));
}
