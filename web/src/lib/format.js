// Time formatting for the apps. Railway times are shown in China Standard
// Time (UTC+8, no daylight saving) whatever the device's zone, so a
// passenger, a clerk and an operator read the same wall-clock time.
import { now } from './clock.js';

const CST = 8 * 3600 * 1000;
const pad = (n) => String(n).padStart(2, '0');

function cstParts(ms) {
  const d = new Date(ms + CST);
  return {
    y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(),
    h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds(),
  };
}

/** toMs returns Unix milliseconds of an RFC 3339 string, a number or a Date. */
export function toMs(v) {
  if (v === null || v === undefined || v === '') return NaN;
  if (typeof v === 'number') return v;
  if (v instanceof Date) return v.getTime();
  return Date.parse(v);
}

/** fmtDateTime shows a time as 'YYYY-MM-DD HH:mm' (CST). */
export function fmtDateTime(v, withSeconds = false) {
  const ms = toMs(v);
  if (Number.isNaN(ms)) return '—';
  const p = cstParts(ms);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)} ${pad(p.h)}:${pad(p.mi)}${withSeconds ? ':' + pad(p.s) : ''}`;
}

/** fmtTime shows a time of day as 'HH:mm:ss' (CST). */
export function fmtTime(v) {
  const ms = toMs(v);
  if (Number.isNaN(ms)) return '—';
  const p = cstParts(ms);
  return `${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
}

/** fmtHour shows an hour bucket as 'MM-DD HH:00' or 'HH:00' (CST). */
export function fmtHour(v, withDate = false) {
  const p = cstParts(toMs(v));
  return withDate ? `${pad(p.mo)}-${pad(p.d)} ${pad(p.h)}:00` : `${pad(p.h)}:00`;
}

/** fmtDuration shows a duration in ms as 'm:ss' or 'h:mm:ss' (never negative). */
export function fmtDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** monthOf returns 'YYYY-MM' of the CST month that ms falls in, offset by delta months. */
export function monthOf(ms = now(), delta = 0) {
  const p = cstParts(ms);
  const d = new Date(Date.UTC(p.y, p.mo - 1 + delta, 1));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

/** dateInputToRFC3339 turns a 'YYYY-MM-DD' date input into the CST start (or end) of that day. */
export function dateInputToRFC3339(s, endOfDay = false) {
  if (!s) return '';
  return `${s}T${endOfDay ? '23:59:59' : '00:00:00'}+08:00`;
}
