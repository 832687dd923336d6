import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate, normalize, checkChar } from '../src/lib/idnumber.js';

const today = Date.UTC(2026, 0, 15);

test('the GB 11643 example number is valid', () => {
  assert.equal(checkChar('11010519491231002'), 'X');
  assert.equal(validate('11010519491231002X', today), null);
  assert.equal(validate('11010519491231002x', today), null, 'lowercase x');
  assert.equal(validate(' １１０１０５１９４９１２３１００２Ｘ ', today), null, 'full-width and spaces');
});

test('bad ID numbers say why', () => {
  const cases = [
    ['', 'empty'],
    ['110105491231002', 'length'],
    ['1101051949123100X2', 'format'],
    ['99010519491231002X', 'region'],
    ['110105194902300021', 'birth_date'],
    ['110105203001010012', 'birth_date'],
    ['110105194912310021', 'check'],
  ];
  for (const [id, want] of cases) assert.equal(validate(id, today), want, id);
});

test('normalize folds what people type', () => {
  assert.equal(normalize(' 11010519491231002x\u3000'), '11010519491231002X');
});
