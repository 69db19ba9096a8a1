// The ring: a two-tone chime every two seconds while a call rings, made with
// Web Audio (no sound file to ship). Browsers keep audio silent until the
// page has had a click, so the terminal shows a button that enables it, and
// remembers the choice for the next load (the click is still needed then).
const PATTERN_MS = 2000;

export class Ringer {
  constructor() {
    this.context = null;
    this.timer = null;
  }

  get enabled() {
    return this.context?.state === "running";
  }

  /** Call from a click: creates or resumes the audio context. */
  async enable() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return false;
    this.context ??= new Context();
    try {
      await this.context.resume();
    } catch {
      return false;
    }
    return this.enabled;
  }

  start() {
    if (this.timer !== null) return;
    this.chime();
    this.timer = setInterval(() => this.chime(), PATTERN_MS);
  }

  stop() {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  chime() {
    if (!this.enabled) return;
    const now = this.context.currentTime;
    for (const [offset, frequency] of [[0, 880], [0.35, 660]]) {
      const osc = this.context.createOscillator();
      const gain = this.context.createGain();
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.3);
      osc.connect(gain).connect(this.context.destination);
      osc.start(now + offset);
      osc.stop(now + offset + 0.32);
    }
  }
}
