import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setLang } from '../src/lib/i18n.js';
import { AUDIT_ACTIONS, actionName, detailText, auditCSV } from '../src/admin/audit.js';

const at = '2026-12-03T02:00:00Z';
const entries = [
  { id: 3, at, actor: 'account:ab', actor_name: 'root', actor_role: 'admin', action: 'certificate.revoke', object: 'certificate:c1',
    detail: { reason: 'found_id_card', note: '本人来电', previous_status: 'active' } },
  { id: 2, at, actor: 'terminal:t1', actor_name: '=HYPERLINK("x")', actor_role: 'terminal', action: 'verification', object: 'certificate:c1',
    detail: { verdict: 'invalid', reason: 'replayed', operation: 'entry', station: 'BJP', holder: '王*', id_number: '1101**********1234' } },
  { id: 1, at, actor: 'system', actor_name: 'system', actor_role: 'system', action: 'staff.update', object: 'account:s1',
    detail: { username: 'li', role: 'staff', station: { from: 'BJP', to: 'SHH' }, disabled: { from: false, to: true }, sessions_ended: 2 } },
];

test('every action has words and a sentence in both languages, with every placeholder filled', () => {
  for (const lang of ['zh', 'en']) {
    setLang(lang);
    for (const a of AUDIT_ACTIONS) {
      assert.notEqual(actionName(a), a, `${lang} ${a} has no name`);
      const s = detailText({ action: a, detail: {} });
      assert.doesNotMatch(s, /\{\w+\}/, `${lang} ${a}: ${s}`);
    }
  }
  setLang('zh');
});

test('details read as sentences', () => {
  setLang('zh');
  assert.equal(detailText(entries[0]), '撤销证明，撤销前状态：有效；原因：旅客已找回身份证；备注：本人来电');
  assert.match(detailText(entries[1]), /^进站：无效（.+），车站 BJP，持证人 王\* 1101\*{10}1234$/);
  assert.equal(detailText(entries[2]), 'li（车站工作人员）：车站 BJP 改为 SHH，停用，结束 2 个登录会话');
  setLang('en');
  assert.equal(detailText(entries[0]), 'Revoked the certificate, which was Valid; reason: Passenger found their ID card; note: 本人来电');
  setLang('zh');
});

test('the CSV quotes every field, keeps formulas as text and times in China Standard Time', () => {
  setLang('zh');
  const lines = auditCSV(entries).split('\r\n');
  assert.equal(lines.length, 5);
  assert.equal(lines[0], '"编号","时间（北京时间）","操作人","角色","操作代码","操作","对象","详情","详情（原始）"');
  assert.ok(lines[1].startsWith('"3","2026-12-03 10:00:00","root","管理员","certificate.revoke","撤销证明",'), lines[1]);
  assert.ok(lines[2].includes('"\'=HYPERLINK(""x"")"'), lines[2]);
  assert.equal(lines[4], '');
});
