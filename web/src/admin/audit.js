// The audit log in words: its actions and roles named in the console's
// language, each entry's detail told as a sentence, and the CSV export.
// Times are China Standard Time, as everywhere in the consoles.
import { t } from '../lib/i18n.js';
import { fmtDateTime } from '../lib/format.js';
import { reasonText } from '../lib/errors.js';

/** AUDIT_ACTIONS are the actions tempid records, in the filter's order. */
export const AUDIT_ACTIONS = [
  'certificate.issue', 'certificate.revoke', 'certificate.supersede', 'certificate.search', 'pass.issue', 'verification',
  'face_check.start', 'face_check.passed', 'face_check.failed', 'slip.lookup', 'slip.reprint',
  'account.create', 'session.login', 'session.logout', 'staff.update',
  'terminal.create', 'terminal.update', 'terminal.revoke', 'key.create', 'key.issuer.end', 'retention.purge', 'certificate.seed',
];

const ROLES = ['admin', 'staff', 'officer', 'passenger', 'terminal', 'system', 'cli', 'guest'];

/** actionName is an action in words; an action this console does not know, as it came. */
export const actionName = (a) => (AUDIT_ACTIONS.includes(a) ? t('audit.action.' + a) : a);

/** roleName is an actor's role in words. */
export const roleName = (r) => (ROLES.includes(r) ? t('audit.role.' + r) : r || '—');

const OPERATIONS = ['ticket_purchase', 'refund', 'change', 'reimbursement_voucher', 'id_check', 'entry', 'ticket_check'];
const REVOKE_REASONS = ['found_id_card', 'wrong_details', 'suspected_misuse', 'other'];
const STATUSES = ['active', 'superseded', 'revoked', 'expired'];

/** revokeReasonName is a revocation reason code in words (older free text as it was). */
export const revokeReasonName = (r) => (REVOKE_REASONS.includes(r) ? t('admin.revoke.reason.' + r) : r || '—');

function detailOf(e) {
  if (e.detail && typeof e.detail === 'object') return e.detail;
  try {
    return JSON.parse(e.detail || '{}') || {};
  } catch {
    return {};
  }
}

const when = (v) => (v ? fmtDateTime(v) : '—');
const statusName = (s) => (STATUSES.includes(s) ? t('status.' + s) : s || '—');
const part = (key, v, params) => (v === undefined || v === null || v === '' ? '' : t(key, params));

/** changes tells an edit's from → to pairs as one phrase. */
function changes(d) {
  const out = [];
  if (d.name) out.push(t('audit.change.name', d.name));
  if (d.station && typeof d.station === 'object') out.push(t('audit.change.station', { from: d.station.from || '—', to: d.station.to || '—' }));
  if (d.offline) out.push(t('audit.change.offline.' + String(!!d.offline.to)));
  if (d.disabled) out.push(t('audit.change.disabled.' + String(!!d.disabled.to)));
  if (d.sessions_ended) out.push(t('audit.change.sessions_ended', { n: d.sessions_ended }));
  return out.join(t('audit.list_sep'));
}

/** detailText tells an entry's detail as a sentence; an action it does not know as its JSON. */
export function detailText(e) {
  const d = detailOf(e);
  const station = part('audit.part.station', d.station, { station: d.station });
  switch (e.action) {
    case 'account.create':
      return t('audit.detail.account.create', { role: roleName(d.role), station: part('audit.part.station', d.station, { station: d.station }) });
    case 'session.login':
      return t('audit.detail.session.login');
    case 'session.logout':
      return t('audit.detail.session.logout', { n: d.revoked_devices ?? 0 });
    case 'face_check.start':
    case 'face_check.passed':
    case 'face_check.failed':
      return t('audit.detail.' + e.action, {
        subject: d.subject || '—', purpose: d.purpose ? t('audit.part.purpose.' + d.purpose) : '—', reason: d.reason || '—',
      });
    case 'certificate.issue':
      return t('audit.detail.certificate.issue', { holder: d.holder || '—', id_number: d.id_number || '—', expires_at: when(d.expires_at), used: d.used_this_month ?? '—' });
    case 'certificate.supersede':
      return t('audit.detail.certificate.supersede', { by: d.superseded_by || '—' });
    case 'certificate.revoke':
      return t('audit.detail.certificate.revoke', {
        previous: statusName(d.previous_status), reason: revokeReasonName(d.reason), note: part('audit.part.note', d.note, { note: d.note }),
      });
    case 'certificate.search':
      return t('audit.detail.certificate.search', {
        id_number: d.id_number || t('audit.part.any'), status: d.status ? statusName(d.status) : t('audit.part.any'), from: when(d.from), to: when(d.to),
      });
    case 'certificate.seed':
      return t('audit.detail.certificate.seed', { count: d.count ?? 0 });
    case 'pass.issue':
      return t('audit.detail.pass.issue', { not_after: when(d.not_after) });
    case 'verification':
      return t('audit.detail.verification', {
        operation: OPERATIONS.includes(d.operation) ? t('op.' + d.operation) : d.operation || '—',
        verdict: t(d.verdict === 'valid' ? 'audit.part.valid' : 'audit.part.invalid'),
        reason: part('audit.part.reason', d.reason, { reason: d.reason ? reasonText(d.reason) : '' }),
        station,
        holder: part('audit.part.holder', d.holder, { holder: d.holder, id_number: d.id_number || '' }),
      });
    case 'slip.lookup':
      return t('audit.detail.slip.lookup', { id_number: d.id_number || '—', confirmed: t(d.confirmed ? 'audit.part.confirmed' : 'audit.part.not_confirmed') });
    case 'slip.reprint':
      return t('audit.detail.slip.reprint', { station });
    case 'terminal.create':
      return t('audit.detail.terminal.create', {
        name: d.name || '—', kind: d.kind ? t('admin.terminal.kind.' + d.kind) : '—', station, offline: d.offline ? t('audit.part.offline') : '',
      });
    case 'terminal.update':
      return t('audit.detail.terminal.update', { station, changes: changes(d) });
    case 'terminal.revoke':
      return t('audit.detail.terminal.revoke');
    case 'staff.update':
      return t('audit.detail.staff.update', { username: d.username || '—', role: roleName(d.role), changes: changes(d) });
    case 'key.create':
      return t('audit.detail.key.create', { not_before: when(d.not_before), not_after: when(d.not_after) });
    case 'key.issuer.end':
      return t('audit.detail.key.issuer.end', { not_after: when(d.not_after) });
    case 'retention.purge':
      return t('audit.detail.retention.purge', { count: d.count ?? 0, expired_before: when(d.expired_before) });
    default:
      return Object.keys(d).length ? JSON.stringify(d) : '';
  }
}

/** csvField quotes a field; a field that a spreadsheet would run as a formula is kept as text. */
function csvField(v) {
  let s = v === undefined || v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return '"' + s.replace(/"/g, '""') + '"';
}

/** auditCSV is the entries as CSV (RFC 4180, CRLF), with a header row in the console's language. */
export function auditCSV(entries) {
  const cols = ['id', 'at', 'actor_name', 'actor_role', 'action', 'action_words', 'object', 'detail', 'detail_json'];
  const rows = [cols.map((c) => t('admin.audit.csv.' + c))];
  for (const e of entries) {
    rows.push([e.id, fmtDateTime(e.at, true), e.actor_name || e.actor, roleName(e.actor_role), e.action, actionName(e.action),
      e.object, detailText(e), JSON.stringify(detailOf(e))]);
  }
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
