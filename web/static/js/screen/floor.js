/*
 * Who holds the floor, and the inquiry's board: topic, stage, countdown,
 * raised hands.
 *
 * The floor holder is, while a topic runs (a stage other than idle), the
 * hub's `spotlight` (the department in report/answer, else the member or
 * deputy granted the floor); otherwise the active speaker, held at least
 * DWELL_MS on screen so the picture does not flicker between two voices
 * (each change costs a renegotiation of the received video); otherwise the
 * chair.
 *
 * The countdown is the hub's clock, not this PC's: every inquiry:state
 * carries server_time, so offset = server_time - local time at receipt and
 * remaining = duration_s - (local now + offset - started_at).
 */

const DWELL_MS = 3000;
const TICK_MS = 250;
const LOW_S = 30;
const QUEUE_SHOWN = 6;

export function clock(seconds) {
  const over = seconds < 0;
  const whole = over ? Math.floor(-seconds) : Math.ceil(seconds);
  const m = String(Math.floor(whole / 60)).padStart(2, "0");
  const s = String(whole % 60).padStart(2, "0");
  return `${over ? "+" : ""}${m}:${s}`;
}

export class Floor {
  /**
   * @param {{t, participant, roster, onFloor, onInquiry}} ctx
   * @param {object} nodes the page's elements (see main.js)
   */
  constructor(ctx, nodes) {
    this.ctx = ctx;
    this.nodes = nodes;
    this.state = null;
    this.seq = -1;
    this.offset = 0; // hub clock - local clock, seconds
    this.activeSpeaker = null;
    this.shownSpeaker = null; // the active speaker on screen (after the dwell)
    this.shownAt = 0;
    this.dwellTimer = null;
    this.floorId = undefined;
    setInterval(() => this.tick(), TICK_MS);
  }

  /** The state from state:sync (always taken: it may be older after a hub restart). */
  load(state) {
    this.seq = -1;
    this.take(state);
  }

  take(state) {
    if (!state) return;
    if (typeof state.seq === "number") {
      if (state.seq < this.seq) return;
      this.seq = state.seq;
    }
    this.state = state;
    if (typeof state.server_time === "number") this.offset = state.server_time - Date.now() / 1000;
    this.ctx.onInquiry(state);
    this.render();
  }

  running() {
    const s = this.state;
    return !!(s?.topic && s.stage && s.stage !== "idle");
  }

  setActiveSpeaker(id) {
    this.activeSpeaker = id;
    if (id === this.shownSpeaker) return;
    const wait = this.shownAt + DWELL_MS - Date.now();
    if (wait <= 0 || this.shownSpeaker === null) return this.showSpeaker(id);
    if (this.dwellTimer === null) {
      this.dwellTimer = setTimeout(() => {
        this.dwellTimer = null;
        this.showSpeaker(this.activeSpeaker);
      }, wait);
    }
  }

  showSpeaker(id) {
    // Silence (null) keeps the last voice on screen: better than a jump to the chair.
    if (id === null || id === this.shownSpeaker) return;
    this.shownSpeaker = id;
    this.shownAt = Date.now();
    this.render();
  }

  holder() {
    const s = this.state;
    if (this.running()) {
      const talking = ["report", "answer"].includes(s.stage) ? s.respondent || s.speaker : s.speaker || s.respondent;
      return s.spotlight || talking || null;
    }
    if (this.shownSpeaker && this.ctx.participant(this.shownSpeaker)) return this.shownSpeaker;
    const chairs = this.ctx.roster().filter((p) => p.role === "chair");
    return (chairs.find((p) => p.online) || chairs[0])?.id || null;
  }

  render() {
    const { t } = this.ctx;
    const n = this.nodes;
    const s = this.state;
    const title = s?.topic?.title;
    n.topic.textContent = title || n.meeting();
    n.topic.classList.toggle("is-meeting", !title);
    const stage = this.running() ? s.stage : null;
    n.stage.textContent = stage ? t(`stage_${stage}`) : "";
    n.stage.dataset.stage = stage || "idle";
    n.stage.hidden = !stage;

    const id = this.holder();
    if (id !== this.floorId) {
      this.floorId = id;
      this.ctx.onFloor(id);
    }
    const person = id ? this.ctx.participant(id) : null;
    n.caption.hidden = !person;
    n.caption.dataset.participant = id || "";
    n.name.textContent = person?.name || "";
    n.who.textContent = person ? [t(`role:${person.role}`), person.site?.name].filter(Boolean).join(" · ") : "";

    const queue = title ? s.queue || [] : [];
    n.queue.hidden = queue.length === 0;
    const items = queue.slice(0, QUEUE_SHOWN).map((pid) => {
      const li = document.createElement("li");
      li.dataset.participant = pid;
      const p = this.ctx.participant(pid);
      li.textContent = p ? p.name : "…";
      if (p?.site?.name) {
        const site = document.createElement("span");
        site.className = "sc-queue-site";
        site.textContent = p.site.name;
        li.append(site);
      }
      return li;
    });
    if (queue.length > QUEUE_SHOWN) {
      const more = document.createElement("li");
      more.className = "sc-queue-more";
      more.textContent = t("queue_more", { n: queue.length - QUEUE_SHOWN });
      items.push(more);
    }
    n.queueList.replaceChildren(...items);
    this.tick();
  }

  remaining() {
    const timer = this.running() ? this.state.timer : null;
    if (!timer || typeof timer.started_at !== "number") return null;
    return timer.duration_s - (Date.now() / 1000 + this.offset - timer.started_at);
  }

  tick() {
    const n = this.nodes;
    const left = this.remaining();
    n.timer.hidden = left === null;
    if (left === null) return;
    const text = clock(left);
    if (n.countdown.textContent !== text) n.countdown.textContent = text;
    const over = left < 0 || !!this.state.overtime;
    n.countdown.classList.toggle("is-over", over);
    n.countdown.classList.toggle("is-low", !over && left <= LOW_S);
    n.timer.classList.toggle("is-red", over || left <= LOW_S);
    const label = this.ctx.t(over ? "overtime" : "countdown");
    if (n.timerLabel.textContent !== label) n.timerLabel.textContent = label;
  }
}
