// The after-the-fact replays panel of the admin console: offline scans that,
// when their terminal uploaded them, turned out to have used a code already
// used elsewhere (or twice for one operation). Each row names the time, the
// station, the terminal and the certificate, and the certificate can be
// revoked from the row.
//
//   GET /api/v1/admin/replays?from=&to=&limit= →
//     { "replays": [{"verification_id", "at", "recorded_at"?, "station_code",
//                    "terminal": {"id", "name"}, "operation", "step",
//                    "certificate": {"id", "status"?, "holder"?: {"name_masked", "id_number_masked"}}}] }
//   POST /api/v1/admin/certificates/{id}/revoke {"reason": "suspected_misuse", "note"} → { "certificate" }
import { useEffect, useState } from 'preact/hooks';
import { html, useLang, Spinner, Alert } from '../lib/ui.js';
import { t } from '../lib/i18n.js';
import { get, post } from '../lib/api.js';
import { errorText } from '../lib/errors.js';
import { fmtDateTime } from '../lib/format.js';

const statusClass = { active: 'badge-ok', revoked: 'badge-bad', superseded: 'badge-warn' };

export function Replays() {
  useLang();
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [n, setN] = useState(0);
  const [revoking, setRevoking] = useState(null);
  useEffect(() => {
    let live = true;
    get('/api/v1/admin/replays')
      .then((r) => live && setList(r.replays || []))
      .catch((err) => {
        if (!live) return;
        if (err.status === 401) return; // onAuthLost shows the login
        setError(err);
      });
    return () => { live = false; };
  }, [n]);
  async function revoke(e, id) {
    e.preventDefault();
    const reason = e.currentTarget.elements.reason.value;
    try {
      // A replayed code is suspected misuse; the text is the audit log's note.
      await post(`/api/v1/admin/certificates/${encodeURIComponent(id)}/revoke`, { reason: 'suspected_misuse', note: reason });
      setRevoking(null);
      setN((x) => x + 1);
    } catch (err) {
      setError(err);
    }
  }
  return html`<div>
    <p class="muted">${t('admin.replays.desc')}</p>
    ${error ? html`<${Alert}>${errorText(error)}</${Alert}>` : null}
    <div class="panel table-wrap" tabindex="0" role="region" aria-label=${t('admin.tab.replays')}>
      ${list === null ? html`<${Spinner} />` : list.length === 0 ? html`<div class="muted empty" data-testid="replays-empty">${t('admin.replays.empty')}</div>` : html`<table class="table" data-testid="replays-table">
        <thead><tr><th>${t('admin.replays.at')}</th><th>${t('admin.replays.station')}</th><th>${t('admin.replays.terminal')}</th>
          <th>${t('admin.replays.certificate')}</th><th>${t('admin.col.holder')}</th><th>${t('admin.col.status')}</th><th>${t('admin.col.actions')}</th></tr></thead>
        <tbody>${list.map((x) => {
          const c = x.certificate || {};
          return html`<tr data-testid="replay-row" data-certificate=${c.id}>
            <td class="nowrap">${fmtDateTime(x.at, true)}</td><td class="mono">${x.station_code}</td><td>${x.terminal?.name || x.terminal?.id}</td>
            <td class="mono small" title=${c.id}>${String(c.id || '').slice(0, 12)}…</td>
            <td>${c.holder ? html`${c.holder.name_masked} <span class="mono small">${c.holder.id_number_masked}</span>` : '—'}</td>
            <td>${c.status ? html`<span class=${'badge ' + (statusClass[c.status] || 'badge-muted')}>${t('status.' + c.status)}</span>` : '—'}</td>
            <td>${c.status === 'active' ? (revoking === x.verification_id
              ? html`<form class="inline-form" onSubmit=${(e) => revoke(e, c.id)} data-testid="replay-revoke-form">
                  <input name="reason" required aria-label=${t('admin.revoke.note')} placeholder=${t('admin.revoke.reason')} value=${t('admin.replays.reason')} data-testid="replay-revoke-reason" />
                  <button class="btn btn-small btn-danger" type="submit" data-testid="replay-revoke-confirm">${t('admin.revoke.confirm')}</button>
                  <button class="btn btn-small btn-ghost" type="button" onClick=${() => setRevoking(null)}>${t('common.cancel')}</button></form>`
              : html`<button class="btn btn-small btn-danger" data-testid="replay-revoke" onClick=${() => setRevoking(x.verification_id)}>${t('admin.revoke')}</button>`)
              : null}</td></tr>`;
        })}</tbody></table>`}
    </div>
  </div>`;
}
