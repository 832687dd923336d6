import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TONES, soundOn, setSoundOn, playTones, beep } from '../src/terminal/sound.js';

// A hand-made AudioContext that records the notes it is asked to play.
class FakeAudioContext {
  constructor() { this.currentTime = 5; this.state = 'running'; this.notes = []; this.destination = {}; }
  createOscillator() {
    const ctx = this;
    const note = { hz: 0, start: -1, stop: -1 };
    return {
      type: '', frequency: { set value(v) { note.hz = v; } },
      connect(g) { return g; },
      start(t) { note.start = t; ctx.notes.push(note); },
      stop(t) { note.stop = t; },
    };
  }
  createGain() {
    return { gain: { setValueAtTime() {}, linearRampToValueAtTime() {} }, connect(d) { return d; } };
  }
}

class MemoryStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

test('a valid verdict is one short high tone and an invalid one two low tones', () => {
  assert.equal(TONES.valid.length, 1);
  assert.equal(TONES.invalid.length, 2);
  assert.ok(TONES.valid[0].hz > 1000 && TONES.valid[0].len <= 0.2);
  for (const n of TONES.invalid) assert.ok(n.hz < 500 && n.len <= 0.2);
  assert.ok(TONES.invalid[1].at > TONES.invalid[0].at + TONES.invalid[0].len, 'the two low tones are apart');
});

test('the tones are scheduled from the context clock, each started and stopped', () => {
  const ctx = new FakeAudioContext();
  playTones(ctx, TONES.invalid);
  assert.equal(ctx.notes.length, 2);
  for (const n of ctx.notes) {
    assert.equal(n.hz, 330);
    assert.ok(n.start >= 5 && n.stop > n.start);
  }
  assert.ok(ctx.notes[1].start > ctx.notes[0].stop);
});

test('the sound is on until switched off, and the choice is remembered', () => {
  const store = new MemoryStorage();
  assert.equal(soundOn(store), true);
  setSoundOn(false, store);
  assert.equal(soundOn(store), false);
  setSoundOn(true, store);
  assert.equal(soundOn(store), true);
});

test('switched off, or without WebAudio, a verdict is silent and does not fail', () => {
  let made = 0;
  class Counting extends FakeAudioContext { constructor() { super(); made++; } }
  assert.equal(beep(true, { on: false, AudioContextClass: Counting }), false);
  assert.equal(made, 0);
  assert.equal(beep(true, { on: true, AudioContextClass: undefined }), false);
  class Broken { constructor() { throw new Error('no audio device'); } }
  assert.equal(beep(false, { on: true, AudioContextClass: Broken }), false);
});

test('one AudioContext plays every verdict', () => {
  let made = 0;
  let last = null;
  class Counting extends FakeAudioContext { constructor() { super(); made++; last = this; } }
  assert.equal(beep(true, { on: true, AudioContextClass: Counting }), true);
  assert.equal(beep(false, { on: true, AudioContextClass: Counting }), true);
  assert.equal(made, 1);
  assert.deepEqual(last.notes.map((n) => n.hz), [1760, 330, 330]);
});
