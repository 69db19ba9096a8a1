// 录像与纪要: the chair's and clerk's panel of the meeting's recordings.
// The list (time, length, state, files); one recording open at a time with a
// <video> of one participant's file, the timeline (timeline.jsonl) and the
// minutes, each entry a jump to its moment; the printable minutes; the export.
//
// REST (docs/protocol.md "## Recording"): GET /api/meetings/{mid}/recordings,
// GET /api/recordings/{rid}, its files (ranges, so the player can seek),
// GET /api/meetings/{mid}/minutes(.html), POST /api/recordings/{rid}/export.
// JSON goes through ctx.api (Bearer); a <video> cannot send a header, so its
// src carries `?token=` (web/auth.py token_of), like a join link.

import { el } from "../../dom.js";
import { DESCRIBE_STRINGS, clock, describeEntry, isScreen, landing, personLabel, subjectOf } from "./describe.js";

const EXPORT_POLL_MS = 2000;
const EXPORTING = new Set(["queued", "running"]);
const SETTLE_MS = 2000;
const LIBRARY_ORDER = 200;
const SETTLE_TRIES = 15;

export const LIBRARY_STYLE = `
.rec-lib { display: flex; flex-direction: column; gap: 14px; }
.rec-row { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; }
.rec-lib .button { min-height: var(--touch, 48px); }
.rec-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.rec-list li { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; padding: 8px 12px;
  border: 1px solid var(--line, #ddd); border-radius: var(--radius, 10px); }
.rec-list li[aria-current="true"] { border-color: var(--accent, #9f1239); border-width: 2px; }
.rec-list .rec-when { font-weight: 700; font-variant-numeric: tabular-nums; }
.rec-list .rec-facts { flex: 1; color: var(--muted, #555); }
.rec-badge { padding: 2px 10px; border-radius: 999px; border: 1px solid var(--line, #ddd); font-weight: 600; }
.rec-badge[data-state="recording"], .rec-badge[data-state="error"] { background: var(--danger, #b91c1c);
  border-color: var(--danger, #b91c1c); color: #fff; }
.rec-viewer { display: flex; flex-direction: column; gap: 12px; border-top: 1px solid var(--line, #ddd); padding-top: 12px; }
.rec-viewer h3, .rec-viewer h4 { margin: 0; }
.rec-pick label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; }
.rec-pick select { min-height: var(--touch, 48px); font-size: 1rem; padding: 0 8px; min-width: 12em; }
.rec-video { width: 100%; max-height: 60vh; background: #000; border-radius: var(--radius, 10px); }
.rec-columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; align-items: start; }
.rec-entries { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 4px;
  max-height: 50vh; overflow-y: auto; }
.rec-entry { display: flex; gap: 10px; width: 100%; min-height: var(--touch, 48px); align-items: center; text-align: left;
  padding: 6px 10px; border: 1px solid var(--line, #ddd); border-radius: 8px; background: var(--surface, #fff);
  font-size: 1rem; color: var(--ink, #111); cursor: pointer; touch-action: manipulation; }
.rec-entry:hover, .rec-entry[aria-current="true"] { border-color: var(--accent, #9f1239); }
.rec-time { font-variant-numeric: tabular-nums; color: var(--muted, #555); min-width: 5.5em; }
.rec-minutes li { display: flex; gap: 10px; align-items: center; padding: 4px 0; border-bottom: 1px solid var(--line, #eee); }
.rec-minutes li > span { flex: 1; }
.rec-minutes ul { list-style: none; margin: 0 0 10px; padding: 0; }
.rec-minutes h5 { margin: 8px 0 4px; font-size: 1rem; }
.rec-progress { width: 100%; max-width: 320px; height: 20px; }
.rec-export a.button { display: inline-flex; align-items: center; text-decoration: none; }
.rec-muted { color: var(--muted, #555); }
`;

export const LIBRARY_STRINGS = {
  "zh-CN": {
    ...DESCRIBE_STRINGS["zh-CN"],
    library_title: "录像与纪要",
    refresh: "刷新",
    print_minutes: "打印纪要",
    no_recordings: "本会议还没有录像。",
    open: "打开",
    state_recording: "录制中",
    state_done: "已结束",
    state_error: "出错",
    length: "时长 {length}",
    files: "{n} 个视频文件",
    who: "参会人员",
    segment: "片段",
    segment_label: "第 {n} 段 · {from}–{to} · {state}",
    screen: "屏幕共享",
    "file:writing": "写入中",
    "file:complete": "完整",
    "file:failed": "写入失败",
    "file:interrupted": "中断",
    timeline: "时间线",
    no_timeline: "录制结束后生成时间线。",
    minutes: "会议纪要",
    no_minutes: "暂无纪要内容。",
    votes: "满意度测评",
    jump: "跳转",
    no_media: "本录像没有视频文件。",
    export: "导出合成录像",
    export_state: "合成中：{percent}%",
    export_done: "合成录像已完成",
    export_failed: "合成失败：{reason}",
    download: "下载合成录像",
    load_failed: "读取失败：{reason}",
  },
  en: {
    ...DESCRIBE_STRINGS.en,
    library_title: "Recordings & minutes",
    refresh: "Refresh",
    print_minutes: "Print minutes",
    no_recordings: "No recordings of this meeting yet.",
    open: "Open",
    state_recording: "Recording",
    state_done: "Finished",
    state_error: "Failed",
    length: "Length {length}",
    files: "{n} video files",
    who: "Participant",
    segment: "Segment",
    segment_label: "Segment {n} · {from}–{to} · {state}",
    screen: "Screen share",
    "file:writing": "writing",
    "file:complete": "complete",
    "file:failed": "write failed",
    "file:interrupted": "interrupted",
    timeline: "Timeline",
    no_timeline: "The timeline is made when the recording stops.",
    minutes: "Minutes",
    no_minutes: "Nothing in the minutes yet.",
    votes: "Satisfaction votes",
    jump: "Jump",
    no_media: "This recording has no video files.",
    export: "Export composed video",
    export_state: "Composing: {percent}%",
    export_done: "The composed video is ready",
    export_failed: "Export failed: {reason}",
    download: "Download composed video",
    load_failed: "Could not load: {reason}",
  },
};

async function json(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  return body;
}

function button(label, action, onclick, extra = "") {
  return el("button", { type: "button", class: `button ${extra}`.trim(), "data-action": action, text: label, onclick });
}

export class RecordingLibrary {
  constructor(ctx) {
    this.ctx = ctx;
    this.recordings = [];
    this.view = null; // the open recording's view
    this.timeline = [];
    this.minutes = null;
    this.file = null; // the media file in the player
    this.pendingSeek = null; // seconds into the file, once its metadata is in
    // After the meeting's own panels: the clerk looks back here, the meeting runs above.
    this.body = ctx.panel("library", "library_title", { order: LIBRARY_ORDER });
    this.list = el("ul", { class: "rec-list" });
    this.viewer = el("div", { class: "rec-viewer", hidden: true });
    this.video = el("video", { class: "rec-video", controls: true, playsinline: true, preload: "metadata" });
    this.video.addEventListener("loadedmetadata", () => this.applySeek());
    this.toolbar = el("div", { class: "rec-row" });
    this.body.replaceChildren(el("div", { class: "rec-lib" }, this.toolbar, this.list, this.viewer));
    ctx.on("recording:export", (data) => this.onExport(data));
    this.render();
    this.refresh();
  }

  get t() {
    return this.ctx.t;
  }

  fail(err) {
    this.ctx.toast(this.t("load_failed", { reason: err.message }), { kind: "error" });
  }

  /**
   * Reload the list, and the open recording's view. Right after a stop the
   * files are still being finalized and the timeline written (the broadcast
   * comes first): reload every 2 s until they are, at most SETTLE_TRIES times.
   */
  refresh({ settle = false } = {}) {
    if (settle) this.settleTries = SETTLE_TRIES;
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.reload().finally(() => {
      this.refreshing = null;
      if (this.again) {
        this.again = false;
        this.refresh();
      } else if (this.settleTries > 0 && this.unsettled()) {
        this.settleTries -= 1;
        clearTimeout(this.settleTimer);
        this.settleTimer = setTimeout(() => this.refresh(), SETTLE_MS);
      }
    });
    return this.refreshing;
  }

  async reload() {
    try {
      this.recordings = await json(await this.ctx.api(`/api/meetings/${this.ctx.meeting.id}/recordings`));
      if (this.view) await this.load(this.view.id);
    } catch (err) {
      this.fail(err);
    }
    this.render();
  }

  /** A stopped recording whose files are not final yet, or that has no timeline yet. */
  unsettled() {
    return this.recordings.some((r) => !r.recording &&
      (r.files.some((f) => f.state === "writing") || !r.files.some((f) => f.kind === "timeline")));
  }

  render() {
    const t = this.t;
    this.toolbar.replaceChildren(
      button(t("refresh"), "rec-refresh", () => this.refresh()),
      button(t("print_minutes"), "print-minutes", () => this.printMinutes()),
    );
    this.list.replaceChildren(
      ...(this.recordings.length ? this.recordings.map((r) => this.listItem(r)) : [el("li", { class: "rec-muted", text: t("no_recordings") })]),
    );
    this.renderViewer();
  }

  listItem(r) {
    const t = this.t;
    const state = r.recording ? "recording" : r.error ? "error" : "done";
    const end = r.stopped_at ? Date.parse(r.stopped_at) : Date.now();
    const media = r.files.filter((f) => f.kind === "media");
    const names = [...new Set(media.map((f) => this.ctx.nameOf(f.participant_id)))].join(t("list_sep"));
    return el(
      "li",
      { "data-recording": r.id, "data-state": state, "aria-current": String(this.view?.id === r.id) },
      el("span", { class: "rec-when", text: this.when(r.started_at) }),
      el("span", { class: "rec-badge", "data-state": state, text: t(`state_${state}`) }),
      el("span", { class: "rec-facts", text: [t("length", { length: clock((end - Date.parse(r.started_at)) / 1000) }),
        t("files", { n: media.length }), names].filter(Boolean).join(" · ") }),
      button(t("open"), "rec-open", () => this.open(r.id), "primary"),
    );
  }

  when(iso, withDate = true) {
    if (!iso) return "";
    const options = withDate
      ? { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
      : { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    return new Date(iso).toLocaleString(this.ctx.lang, options);
  }

  // -- one recording ------------------------------------------------------------------

  async load(rid) {
    const view = await json(await this.ctx.api(`/api/recordings/${encodeURIComponent(rid)}`));
    const timelineFile = view.files.find((f) => f.kind === "timeline");
    const [timeline, minutes] = await Promise.all([
      timelineFile ? this.ctx.api(timelineFile.url).then((r) => (r.ok ? r.text() : "")) : "",
      this.ctx.api(`/api/meetings/${this.ctx.meeting.id}/minutes`).then(json),
    ]);
    this.view = view;
    this.timeline = timeline.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
    this.minutes = minutes;
    const media = view.files.filter((f) => f.kind === "media");
    this.file = media.find((f) => f.name === this.file?.name) ?? media.find((f) => !isScreen(f)) ?? media[0] ?? null;
    this.pollExport();
  }

  async open(rid) {
    try {
      await this.load(rid);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.render();
    this.showFile(this.file);
    this.viewer.scrollIntoView?.({ block: "nearest" });
  }

  renderViewer() {
    const view = this.view;
    this.viewer.hidden = !view;
    if (!view) return;
    const t = this.t;
    this.viewer.dataset.recording = view.id;
    const media = view.files.filter((f) => f.kind === "media");
    this.viewer.replaceChildren(
      el("h3", { text: this.when(view.started_at) }),
      media.length ? this.picker(media) : el("p", { class: "rec-muted", text: t("no_media") }),
      this.video,
      this.exportBox(),
      el("div", { class: "rec-columns" },
        el("section", { class: "rec-timeline" }, el("h4", { text: t("timeline") }), this.timelineList()),
        el("section", { class: "rec-minutes" }, el("h4", { text: t("minutes") }), ...this.minutesList())),
    );
  }

  /** A participant, then their segment (files are per participant and segment). */
  picker(media) {
    const t = this.t;
    const people = [...new Set(media.map((f) => f.participant_id))];
    const person = el("select", { class: "rec-person", "aria-label": t("who") },
      ...people.map((pid) => el("option", { value: pid, text: this.ctx.nameOf(pid) || pid })));
    person.value = this.file?.participant_id ?? people[0];
    const theirs = media.filter((f) => f.participant_id === person.value);
    const segment = el("select", { class: "rec-segment", "aria-label": t("segment") },
      ...theirs.map((f) => el("option", { value: f.name, text: this.segmentLabel(f) })));
    segment.value = this.file?.name ?? theirs[0]?.name;
    person.addEventListener("change", () => {
      const first = media.filter((f) => f.participant_id === person.value).sort((a, b) => Number(isScreen(a)) - Number(isScreen(b)))[0];
      this.showFile(first);
      this.renderViewer();
    });
    segment.addEventListener("change", () => this.showFile(media.find((f) => f.name === segment.value)));
    return el("div", { class: "rec-row rec-pick" },
      el("label", {}, t("who"), person),
      el("label", { hidden: theirs.length < 2 }, t("segment"), segment));
  }

  segmentLabel(f) {
    const t = this.t;
    const label = t("segment_label", { n: f.segment, from: clock(f.offset_s),
      to: f.duration_s == null ? "…" : clock(f.offset_s + f.duration_s), state: t(`file:${f.state}`) });
    return isScreen(f) ? `${label} · ${t("screen")}` : label;
  }

  timelineList() {
    const t = this.t;
    const started = Date.parse(this.view.started_at);
    const items = this.timeline.flatMap((entry) => describeEntry(entry, t).map((text) =>
      el("li", {},
        el("button", {
          type: "button", class: "rec-entry", "data-type": entry.type, "data-offset": String(entry.offset_s),
          "data-speaker": subjectOf(entry) ?? "", onclick: () => this.jump(this.view.id, entry.offset_s, subjectOf(entry)),
        },
        el("span", { class: "rec-time", text: this.when(new Date(started + entry.offset_s * 1000).toISOString(), false) }),
        el("span", { class: "rec-time", text: `+${clock(entry.offset_s)}` }),
        el("span", { text })))));
    return items.length ? el("ol", { class: "rec-entries" }, ...items) : el("p", { class: "rec-muted", text: t("no_timeline") });
  }

  minutesList() {
    const t = this.t;
    const topics = this.minutes?.topics ?? [];
    const votes = this.minutes?.votes ?? [];
    if (!topics.length && !votes.length) return [el("p", { class: "rec-muted", text: t("no_minutes") })];
    const row = (text, link, attrs) =>
      el("li", attrs, el("span", { text }),
        el("button", { type: "button", class: "button", "data-action": "rec-jump", text: t("jump"),
          disabled: !link, onclick: () => this.jumpTo(link) }));
    const nodes = [];
    for (const topic of topics) {
      nodes.push(el("h5", { text: t("ev:topic", { topic: topic.title }) }));
      nodes.push(el("ul", {}, ...topic.segments.map((s) => row(
        `${t(`kind:${s.kind}`)} · ${personLabel(s.speaker, t)} · ${this.when(s.started_at, false)} · ${clock(s.duration_s)}`,
        s.recording, { "data-kind": s.kind, "data-speaker": s.speaker?.id ?? "" }))));
    }
    if (votes.length) {
      nodes.push(el("h5", { text: t("votes") }));
      nodes.push(el("ul", {}, ...votes.map((v) => row(
        t("ev:vote_result", { subject: v.subject ?? "", verdict: v.verdict ?? "" }), v.recording, { "data-vote": v.vote_id ?? "" }))));
    }
    return nodes;
  }

  // -- the player ------------------------------------------------------------------------

  showFile(file) {
    if (!file) {
      // A recording without media: nothing of another recording stays in the player.
      this.file = null;
      this.pendingSeek = null;
      delete this.video.dataset.file;
      this.video.removeAttribute("src");
      this.video.load();
      return;
    }
    this.file = file;
    if (this.video.dataset.file !== file.name) {
      this.video.dataset.file = file.name;
      this.video.src = `${file.url}?token=${encodeURIComponent(this.ctx.token)}`;
    }
    const person = this.viewer.querySelector(".rec-person");
    const segment = this.viewer.querySelector(".rec-segment");
    if (person && person.value !== file.participant_id) this.renderViewer();
    else if (segment) segment.value = file.name;
  }

  /** Seek once the file's metadata is in (at once if it already is), then play. */
  seek(seconds) {
    this.pendingSeek = seconds;
    if (this.video.readyState >= HTMLMediaElement.HAVE_METADATA) this.applySeek();
  }

  applySeek() {
    if (this.pendingSeek === null) return;
    this.video.currentTime = this.pendingSeek;
    this.pendingSeek = null;
    this.video.play().catch(() => {}); // a tap started it; a refusal only leaves it paused
  }

  /** Jump to instant `t` of recording `rid`: the file of `participantId` holding it, else the one on screen. */
  async jump(rid, t, participantId) {
    if (this.view?.id !== rid) await this.open(rid);
    if (this.view?.id !== rid) return;
    const { file, at } = landing(this.view.files, t, participantId, this.file);
    this.showFile(file);
    this.seek(at);
  }

  /** A minutes entry's link: {recording_id, offset_s, file, file_offset_s}. */
  async jumpTo(link) {
    if (!link) return;
    if (this.view?.id !== link.recording_id) await this.open(link.recording_id);
    const file = this.view?.files.find((f) => f.name === link.file);
    if (!file) return this.jump(link.recording_id, link.offset_s, null);
    this.showFile(file);
    this.seek(link.file_offset_s);
  }

  // -- printable minutes and export --------------------------------------------------------

  /** The printable page, fetched with the Bearer token and shown from a blob: no token in a URL. */
  async printMinutes() {
    const win = window.open("", "_blank"); // opened in the tap, or a popup blocker refuses it
    try {
      const response = await this.ctx.api(`/api/meetings/${this.ctx.meeting.id}/minutes.html`);
      if (!response.ok) await json(response);
      const url = URL.createObjectURL(new Blob([await response.text()], { type: "text/html;charset=utf-8" }));
      if (win) win.location.href = url;
      else window.open(url, "_blank");
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      win?.close();
      this.fail(err);
    }
  }

  exportBox() {
    const t = this.t;
    const job = this.view.export ?? {};
    const box = el("div", { class: "rec-row rec-export", "data-export": job.state ?? "none" });
    if (this.view.recording) return box;
    if (EXPORTING.has(job.state)) {
      box.append(el("progress", { class: "rec-progress", max: 1, value: job.progress ?? 0 }),
        el("span", { text: t("export_state", { percent: Math.round((job.progress ?? 0) * 100) }) }));
      return box;
    }
    box.append(button(t("export"), "rec-export", () => this.startExport()));
    if (job.state === "failed") box.append(el("span", { class: "rec-error", text: t("export_failed", { reason: job.error ?? "" }) }));
    if (job.state === "done" && job.file) {
      const url = `/api/recordings/${this.view.id}/files/${encodeURIComponent(job.file)}?token=${encodeURIComponent(this.ctx.token)}`;
      box.append(el("a", { class: "button primary", href: url, download: job.file, text: t("download") }));
    }
    return box;
  }

  async startExport() {
    const rid = this.view.id;
    try {
      const body = await json(await this.ctx.api(`/api/recordings/${rid}/export`, { method: "POST" }));
      if (this.view?.id === rid) this.view.export = body.export;
    } catch (err) {
      this.fail(err);
    }
    this.renderExport();
    this.pollExport();
  }

  renderExport() {
    this.viewer.querySelector(".rec-export")?.replaceWith(this.exportBox());
  }

  /** While the export runs: the recording's view every 2 s (a `recording:export` event may come sooner). */
  pollExport() {
    clearTimeout(this.exportTimer);
    if (!EXPORTING.has(this.view?.export?.state)) return;
    const rid = this.view.id;
    this.exportTimer = setTimeout(async () => {
      if (this.view?.id !== rid) return;
      await this.refreshExport();
      this.pollExport();
    }, EXPORT_POLL_MS);
  }

  /** `recording:export` {recording_id, state, progress}: at once, rather than at the next poll. */
  onExport(data) {
    if (!data || data.recording_id !== this.view?.id) return;
    const { state, progress } = data;
    this.view.export = { ...this.view.export, state, progress };
    this.renderExport();
    if (EXPORTING.has(state)) this.pollExport();
    else this.refreshExport(); // done or failed: the file's name, or why, are in the view
  }

  async refreshExport() {
    const rid = this.view.id;
    try {
      const view = await json(await this.ctx.api(`/api/recordings/${rid}`));
      if (this.view?.id !== rid) return;
      this.view.export = view.export;
      this.view.files = view.files;
    } catch (err) {
      console.error("export state", err);
    }
    this.renderExport();
  }
}
