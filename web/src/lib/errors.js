// errorText turns an ApiError (or any error) into plain words in the
// current language, filling in the problem's members (resets_at,
// renewable_at, Retry-After).
import { t, has } from './i18n.js';
import { fmtDateTime } from './format.js';
import { validate } from './idnumber.js';

export function errorText(err, { idNumber } = {}) {
  if (!err) return '';
  const code = err.code || 'internal';
  const p = err.problem || {};
  switch (code) {
    case 'quota_exhausted':
      return t('err.quota_exhausted', { resets_at: fmtDateTime(p.resets_at) });
    case 'active_certificate_exists':
      return t('err.active_certificate_exists', { renewable_at: fmtDateTime(p.renewable_at) });
    case 'rate_limited':
      return err.retryAfter ? t('err.rate_limited', { retry_after: err.retryAfter }) : t('err.rate_limited.plain');
    case 'invalid_id_number': {
      const local = idNumber !== undefined ? validate(idNumber) : null;
      if (local) return t('id.' + local);
      return t('err.invalid_id_number.plain');
    }
    default:
      if (has('err.' + code)) return t('err.' + code);
      return t('err.unknown', { code });
  }
}

/** reasonText returns the plain words for a verification reason of CREDENTIAL.md. */
export function reasonText(reason) {
  if (!reason) return '';
  return has('reason.' + reason) ? t('reason.' + reason) : reason;
}

/** shortReason returns a two-to-four-word label for a verification reason (charts, lists). */
export function shortReason(reason) {
  if (!reason) return '';
  return has('reason.short.' + reason) ? t('reason.short.' + reason) : reason;
}
