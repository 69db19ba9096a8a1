// Recording: the 录制中 mark every site sees while the meeting is recorded,
// and the chair's and clerk's start/stop control.
//
// Server side: signaling/handlers/recordings.py (recording:start, recording:stop,
// broadcast recording:state, state:sync key `recording`), web/api/recordings.py.
// The chair's and clerk's 录像与纪要 panel (player, timeline, minutes, export)
// is recordings/library.js.

import { LIBRARY_STRINGS, LIBRARY_STYLE, RecordingLibrary } from "./recordings/library.js";

const STYLE = `
.header-marks { display: inline-flex; gap: 8px; align-self: center; }
.header-marks:not(:has(> :not([hidden]))) { display: none; }
/* White on the red top bar, red text and a blinking red dot: seen at a glance. */
.rec-mark { display: inline-flex; gap: 8px; align-items: center; background: #fff; color: var(--danger, #b91c1c);
  font-weight: 800; font-size: 1.05rem; line-height: 1.2; padding: 4px 14px 4px 10px; border-radius: 999px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); white-space: nowrap; }
.rec-mark.is-floating { position: fixed; top: 8px; left: 50%; transform: translateX(-50%); z-index: 50; }
.rec-mark::before { content: ""; width: 12px; height: 12px; border-radius: 50%; background: var(--danger, #b91c1c);
  animation: rec-blink 1.2s infinite; }
@keyframes rec-blink { 50% { opacity: .2; } }
.rec-controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.rec-error { color: var(--danger, #c62828); font-weight: 600; }
`;

class RecordingPanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.state = { recording: false, recording_id: null, error: null };
    this.mark = document.createElement("span");
    this.mark.className = "rec-mark";
    this.mark.setAttribute("role", "status");
    this.mark.dataset.feature = "recordings";
    this.mark.dataset.t = "recording_now";
    this.mark.hidden = true;
    // In the top bar's slot for marks; a page without one gets it floating on top.
    const slot = document.getElementById("header-marks");
    if (slot) slot.hidden = false;
    else this.mark.classList.add("is-floating");
    (slot ?? document.body).append(this.mark);
    const role = ctx.me?.role;
    this.operator = role === "chair" || role === "clerk";
    if (this.operator) this.renderControls();
    this.library = this.operator ? new RecordingLibrary(ctx) : null;
  }

  renderControls() {
    this.body = this.ctx.panel("recordings", "title");
    this.body.innerHTML = "";
    const row = document.createElement("div");
    row.className = "rec-controls";
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "button primary";
    this.button.dataset.action = "recording-toggle";
    this.button.addEventListener("click", () => this.toggle());
    this.error = document.createElement("p");
    this.error.className = "rec-error";
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    row.append(this.button);
    this.body.append(row, this.error);
    this.render();
  }

  apply(state) {
    if (!state) return;
    const changed = state.recording !== this.state.recording || state.recording_id !== this.state.recording_id;
    this.state = { ...this.state, ...state };
    this.render();
    if (changed) this.library?.refresh({ settle: !this.state.recording });
  }

  render() {
    const t = this.ctx.t;
    this.mark.textContent = t("recording_now");
    this.mark.hidden = !this.state.recording;
    if (!this.operator) return;
    this.button.textContent = t(this.state.recording ? "stop" : "start");
    this.button.className = `button ${this.state.recording ? "danger" : "primary"}`;
    const failed = this.state.error && !this.state.recording;
    this.error.hidden = !failed;
    if (failed) this.error.textContent = t("stopped_by_error", { reason: this.state.error.message });
  }

  async toggle() {
    const t = this.ctx.t;
    const stopping = this.state.recording;
    if (stopping && !window.confirm(t("confirm_stop"))) return;
    this.button.disabled = true;
    const ack = await this.ctx.call(stopping ? "recording:stop" : "recording:start", {});
    this.button.disabled = false;
    if (!ack.ok) this.ctx.toast(t("failed", { reason: ack.error.message }), { kind: "error" });
  }
}

export default {
  id: "recordings",
  order: 15,
  strings: {
    "zh-CN": {
      ...LIBRARY_STRINGS["zh-CN"],
      title: "会议录制",
      recording_now: "录制中",
      start: "开始录制",
      stop: "停止录制",
      confirm_stop: "确定停止录制吗？",
      stopped_by_error: "录制已停止：{reason}",
      failed: "操作未成功：{reason}",
    },
    en: {
      ...LIBRARY_STRINGS.en,
      title: "Recording",
      recording_now: "Recording",
      start: "Start recording",
      stop: "Stop recording",
      confirm_stop: "Stop the recording?",
      stopped_by_error: "Recording stopped: {reason}",
      failed: "Not done: {reason}",
    },
  },
  mount(ctx) {
    if (!document.getElementById("rec-style")) {
      const style = document.createElement("style");
      style.id = "rec-style";
      style.textContent = STYLE + LIBRARY_STYLE;
      document.head.append(style);
    }
    const panel = new RecordingPanel(ctx);
    ctx.on("recording:state", (data) => panel.apply(data));
    panel.apply(ctx.state?.recording);
    this.panel = panel;
  },
  sync(ctx, state) {
    this.panel?.apply(state.recording);
  },
  onLanguage() {
    this.panel?.render();
    this.panel?.library?.render();
  },
};
