// The terminal's verdict sound: a short high tone for valid, a low double
// tone for invalid, so that a conductor hears the verdict without looking.
// It is WebAudio (no sound files to fetch offline) and can be switched off;
// the choice is remembered on the device.

// TONES are the notes played for each verdict: frequency (Hz), start and
// length (seconds from the verdict).
export const TONES = {
  valid: [{ hz: 1760, at: 0, len: 0.12 }],
  invalid: [{ hz: 330, at: 0, len: 0.14 }, { hz: 330, at: 0.22, len: 0.14 }],
};

const KEY = 'tempid.terminal.sound';

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

// soundOn reports whether verdicts are heard: on unless switched off.
export function soundOn(store = storage()) {
  return store?.getItem(KEY) !== 'off';
}

// setSoundOn remembers the choice.
export function setSoundOn(on, store = storage()) {
  if (on) store?.removeItem(KEY);
  else store?.setItem(KEY, 'off');
}

// playTones schedules notes on an AudioContext: a sine with a few
// milliseconds of fade at both ends, which a speaker plays without a click.
export function playTones(ctx, notes) {
  const t0 = ctx.currentTime + 0.01;
  for (const n of notes) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = n.hz;
    const start = t0 + n.at;
    const end = start + n.len;
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.3, start + 0.01);
    gain.gain.setValueAtTime(0.3, end - 0.02);
    gain.gain.linearRampToValueAtTime(0, end);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(end);
  }
}

let shared = null;

// beep plays the verdict's tones when the sound is on. The AudioContext is
// made at the first verdict (after a key press or a tap: browsers let a
// page make sound only after the user acted) and kept. A browser without
// WebAudio stays silent; a verdict never fails for its sound.
export function beep(valid, { on = soundOn(), AudioContextClass = globalThis.AudioContext ?? globalThis.webkitAudioContext } = {}) {
  if (!on || !AudioContextClass) return false;
  try {
    if (!shared || !(shared instanceof AudioContextClass)) shared = new AudioContextClass();
    if (shared.state === 'suspended') shared.resume?.().catch?.(() => {});
    playTones(shared, valid ? TONES.valid : TONES.invalid);
    return true;
  } catch {
    return false;
  }
}
