/*
 * Paperless meeting documents (电子阅文).
 *
 * Stage: the page on screen. By default it follows the presenter (doc:page);
 * tapping ‹ › as a follower switches to browsing freely, and one tap on
 * "回到主讲页" returns to the presenter's page. Whoever may present (chair,
 * clerk, or the participant the chair named) turns everyone's page with ‹ ›.
 * Ink: "批注" turns the page into a drawing surface (finger or mouse); strokes
 * and the page's note are saved on the server (private to this participant)
 * and come back on any device.
 * Panel: the papers shared with me (open = read receipt, 签收); for the chair
 * and the clerk also upload, "present", the receipts of each paper, and (chair)
 * handing the presenter role to a participant.
 *
 * Page images are fetched with the bearer token (ctx.api) and shown as blob
 * URLs, so the token never sits in an <img src>.
 */
import { el } from "../dom.js";

const OPERATORS = new Set(["chair", "clerk"]);
const CACHE_LIMIT = 24;

const STYLE = `
.docs-viewer { display: flex; flex-direction: column; gap: 8px; flex: 1 1 480px; min-width: 0; padding: 10px;
  box-sizing: border-box; }
.docs-viewer .docs-presenter { color: #cbd5e1; }
.docs-bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.docs-title { font-weight: 700; font-size: 1.1rem; flex: 1 1 auto; min-width: 8em; }
.docs-page-no { font-variant-numeric: tabular-nums; font-size: 1.1rem; min-width: 5ch; text-align: center; }
.docs-mode { padding: 4px 10px; border-radius: 999px; background: var(--line, #ddd); font-size: .9rem; }
.docs-mode[data-mode="follow"] { background: var(--ok, #2e7d32); color: #fff; }
.docs-mode[data-mode="present"] { background: var(--accent, #b3261e); color: var(--accent-ink, #fff); }
.docs-sheet { position: relative; width: 100%; background: #fff; border: 1px solid var(--line, #ddd);
  border-radius: var(--radius, 10px); overflow: hidden; min-height: 120px; }
.docs-sheet img { display: block; width: 100%; height: auto; user-select: none; -webkit-user-drag: none; }
.docs-sheet canvas { position: absolute; inset: 0; width: 100%; height: 100%; touch-action: pan-y pinch-zoom; }
.docs-sheet.is-inking canvas { touch-action: none; cursor: crosshair; }
.docs-empty { color: var(--muted, #666); padding: 24px; text-align: center; }
.docs-note { width: 100%; min-height: 64px; font-size: 1rem; padding: 8px; box-sizing: border-box; }
.docs-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.docs-list li { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 6px 10px;
  border: 1px solid var(--line, #ddd); border-radius: var(--radius, 10px); }
.docs-list .docs-item-title { flex: 1 1 12em; }
.docs-list li.is-presented { border-color: var(--accent, #b3261e); }
.docs-badge { font-size: .85rem; color: var(--muted, #666); }
.docs-receipts { width: 100%; list-style: none; margin: 4px 0 0; padding: 0; display: grid;
  grid-template-columns: repeat(auto-fill, minmax(11em, 1fr)); gap: 4px 12px; }
.docs-receipts li { border: 0; padding: 2px 0; }
.docs-receipts [data-opened="true"]::before { content: "✓ "; color: var(--ok, #2e7d32); }
.docs-receipts [data-opened="false"]::before { content: "○ "; color: var(--muted, #666); }
.docs-form { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-top: 10px; }
.docs-form select, .docs-form input[type=file] { min-height: var(--touch, 48px); font-size: 1rem; }
`;

const STRINGS = {
  "zh-CN": {
    title: "会议材料",
    stage_empty: "暂无演示的材料",
    page_of: "{page} / {pages}",
    follow: "跟随主讲",
    browse: "自由浏览",
    presenting: "您在主讲",
    back: "回到主讲页",
    back_to: "回到主讲页（第 {page} 页）",
    prev: "上一页",
    next: "下一页",
    ink: "批注",
    ink_on: "结束批注",
    clear: "清除本页批注",
    note: "本页笔记（仅自己可见）",
    saved: "批注已保存",
    save_failed: "批注保存失败：{reason}",
    open: "阅读",
    present: "演示",
    receipts: "签收情况",
    receipts_count: "已签收 {opened} / {shared}",
    opened: "已阅",
    new_doc: "新材料：{title}",
    no_docs: "暂无会议材料",
    upload: "上传材料",
    upload_file: "选择 PDF 文件",
    share_all: "发给全体",
    share_members: "仅委员",
    share_members_deputies: "委员和代表",
    uploaded: "已上传：{title}（{pages} 页）",
    upload_failed: "上传失败：{reason}",
    hand_over: "移交主讲",
    take_back: "收回主讲",
    presenter_is: "主讲：{name}",
    you_present: "主持人已请您主讲，可翻页",
    not_shared: "此材料未发给您",
    failed: "操作失败：{reason}",
  },
  en: {
    title: "Meeting papers",
    stage_empty: "No paper is being presented",
    page_of: "{page} / {pages}",
    follow: "Following",
    browse: "Browsing",
    presenting: "You are presenting",
    back: "Back to presenter",
    back_to: "Back to presenter (page {page})",
    prev: "Previous page",
    next: "Next page",
    ink: "Annotate",
    ink_on: "Stop annotating",
    clear: "Clear this page's ink",
    note: "My note on this page (private)",
    saved: "Annotations saved",
    save_failed: "Could not save annotations: {reason}",
    open: "Read",
    present: "Present",
    receipts: "Receipts",
    receipts_count: "Opened {opened} / {shared}",
    opened: "read",
    new_doc: "New paper: {title}",
    no_docs: "No papers yet",
    upload: "Upload",
    upload_file: "Choose a PDF",
    share_all: "Everyone",
    share_members: "Members only",
    share_members_deputies: "Members and deputies",
    uploaded: "Uploaded: {title} ({pages} pages)",
    upload_failed: "Upload failed: {reason}",
    hand_over: "Make presenter",
    take_back: "Take presenter role back",
    presenter_is: "Presenter: {name}",
    you_present: "The chair made you presenter: you turn the pages",
    not_shared: "This paper is not shared with you",
    failed: "Failed: {reason}",
  },
};


function injectStyle() {
  if (document.getElementById("documents-style")) return;
  document.head.append(el("style", { id: "documents-style", text: STYLE }));
}

/** Page images as blob URLs, newest kept, oldest revoked. */
class PageCache {
  constructor(ctx) {
    this.ctx = ctx;
    this.urls = new Map(); // key -> Promise<url>
  }

  get(docId, page) {
    const key = `${docId}/${page}`;
    if (this.urls.has(key)) {
      const hit = this.urls.get(key);
      this.urls.delete(key);
      this.urls.set(key, hit); // most recent last
      return hit;
    }
    const pending = this.ctx.api(`/api/documents/${docId}/pages/${page}`).then(async (response) => {
      if (!response.ok) {
        this.urls.delete(key);
        const body = await response.json().catch(() => ({}));
        throw Object.assign(new Error(body?.error?.message || `HTTP ${response.status}`), { status: response.status });
      }
      return URL.createObjectURL(await response.blob());
    });
    this.urls.set(key, pending);
    while (this.urls.size > CACHE_LIMIT) {
      const [oldKey, oldUrl] = this.urls.entries().next().value;
      this.urls.delete(oldKey);
      oldUrl.then((url) => URL.revokeObjectURL(url)).catch(() => {});
    }
    return pending;
  }
}

/** The ink layer over the page: strokes in page fractions (0..1), drawn with pointer events. */
class InkLayer {
  constructor(canvas, onStroke) {
    this.canvas = canvas;
    this.onStroke = onStroke;
    this.strokes = [];
    this.current = null;
    this.enabled = false;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    new ResizeObserver(() => this.redraw()).observe(canvas);
  }

  point(e) {
    const box = this.canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [clamp((e.clientX - box.left) / box.width), clamp((e.clientY - box.top) / box.height)].map(
      (v) => Math.round(v * 10000) / 10000,
    );
  }

  down(e) {
    if (!this.enabled) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.current = { points: [this.point(e)], width: 0.003, color: "#d02020" };
    this.strokes.push(this.current);
    this.redraw();
  }

  move(e) {
    if (!this.enabled || !this.current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const each of events.length ? events : [e]) {
      if (this.current.points.length < 5000) this.current.points.push(this.point(each));
    }
    this.redraw();
  }

  up() {
    if (!this.current) return;
    this.current = null;
    this.onStroke();
  }

  set(strokes) {
    this.strokes = strokes || [];
    this.current = null;
    this.redraw();
  }

  redraw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * ratio);
    const height = Math.round(canvas.clientHeight * ratio);
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    g.lineCap = "round";
    g.lineJoin = "round";
    for (const stroke of this.strokes) {
      g.strokeStyle = stroke.color || "#d02020";
      g.fillStyle = g.strokeStyle;
      g.lineWidth = Math.max(1, (stroke.width || 0.003) * width);
      const [first, ...rest] = stroke.points;
      if (!first) continue;
      g.beginPath();
      g.moveTo(first[0] * width, first[1] * height);
      if (!rest.length) g.arc(first[0] * width, first[1] * height, g.lineWidth / 2, 0, Math.PI * 2);
      for (const [x, y] of rest) g.lineTo(x * width, y * height);
      rest.length ? g.stroke() : g.fill();
    }
  }
}

class DocumentsFeature {
  constructor(ctx) {
    this.ctx = ctx;
    this.docs = new Map(); // id -> {id, title, pages, opened, shared_with?}
    this.stageState = { document_id: null, page: null, presenter: null, designated_presenter: null };
    this.mode = "follow"; // or "browse"
    this.view = { docId: null, page: null };
    this.cache = new PageCache(ctx);
    this.showToken = 0;
    this.saveTimer = null;
    this.receiptsOpen = new Set();
    this.build();
  }

  get isOperator() {
    return OPERATORS.has(this.ctx.me?.role);
  }

  get canPresent() {
    return this.isOperator || (this.ctx.me && this.stageState.designated_presenter === this.ctx.me.id);
  }

  // ── building ────────────────────────────────────────────────────────────

  build() {
    const t = this.ctx.t;
    injectStyle();
    this.stageEl = this.ctx.stage("documents");
    this.stageEl.classList.add("docs-viewer");
    this.titleEl = el("span", { class: "docs-title" });
    this.modeEl = el("span", { class: "docs-mode", "data-mode": "follow" });
    this.prevBtn = el("button", { class: "button docs-prev", type: "button", "aria-label": t("prev"), text: "‹",
      onclick: () => this.step(-1) });
    this.pageNoEl = el("span", { class: "docs-page-no" });
    this.nextBtn = el("button", { class: "button docs-next", type: "button", "aria-label": t("next"), text: "›",
      onclick: () => this.step(1) });
    this.backBtn = el("button", { class: "button primary docs-back", type: "button", hidden: true,
      onclick: () => this.follow() });
    this.inkBtn = el("button", { class: "button docs-ink", type: "button", "data-t": "ink", text: t("ink"),
      onclick: () => this.toggleInk() });
    this.clearBtn = el("button", { class: "button docs-clear", type: "button", hidden: true, "data-t": "clear",
      text: t("clear"), onclick: () => this.clearInk() });
    this.presenterEl = el("span", { class: "docs-badge docs-presenter" });
    this.img = el("img", { class: "docs-img", alt: "" });
    this.canvas = el("canvas", { class: "docs-ink-layer" });
    this.sheet = el("div", { class: "docs-sheet" }, this.img, this.canvas);
    this.emptyEl = el("div", { class: "docs-empty", "data-t": "stage_empty", text: t("stage_empty") });
    this.noteEl = el("textarea", { class: "docs-note", placeholder: t("note"), rows: 2,
      oninput: () => this.scheduleSave() });
    this.stageEl.replaceChildren(
      el("div", { class: "docs-bar" }, this.titleEl, this.modeEl, this.presenterEl),
      el("div", { class: "docs-bar" }, this.prevBtn, this.pageNoEl, this.nextBtn, this.backBtn, this.inkBtn, this.clearBtn),
      this.emptyEl,
      this.sheet,
      this.noteEl,
    );
    this.ink = new InkLayer(this.canvas, () => this.scheduleSave());

    this.panel = this.ctx.panel("documents", "title");
    this.listEl = el("ul", { class: "docs-list" });
    this.panel.replaceChildren(this.listEl);
    if (this.isOperator) this.panel.append(this.uploadForm());
    if (this.ctx.me?.role === "chair") this.panel.append(this.presenterForm());
  }

  uploadForm() {
    const t = this.ctx.t;
    const file = el("input", { type: "file", name: "file", accept: "application/pdf,.pdf", "aria-label": t("upload_file") });
    const share = el("select", { name: "roles" },
      el("option", { value: "", "data-t": "share_all", text: t("share_all") }),
      el("option", { value: "member", "data-t": "share_members", text: t("share_members") }),
      el("option", { value: "member,deputy", "data-t": "share_members_deputies", text: t("share_members_deputies") }));
    const form = el("form", { class: "docs-form docs-upload" }, file, share,
      el("button", { class: "button primary", type: "submit", "data-t": "upload", text: t("upload") }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!file.files.length) return;
      const body = new FormData();
      body.append("file", file.files[0]);
      if (share.value) body.append("roles", share.value);
      const response = await this.ctx.api(`/api/meetings/${this.ctx.meeting.id}/documents`, { method: "POST", body });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        this.ctx.toast(this.ctx.t("upload_failed", { reason: answer?.error?.message || response.status }), { kind: "error" });
        return;
      }
      this.ctx.toast(this.ctx.t("uploaded", answer));
      this.addDoc(answer);
      form.reset();
    });
    return form;
  }

  presenterForm() {
    const t = this.ctx.t;
    this.handSelect = el("select", { name: "presenter", class: "docs-hand-select" });
    const form = el("form", { class: "docs-form docs-hand" }, this.handSelect,
      el("button", { class: "button", type: "submit", "data-t": "hand_over", text: t("hand_over") }),
      el("button", { class: "button docs-take-back", type: "button", "data-t": "take_back", text: t("take_back"),
        onclick: () => this.callOrToast("doc:presenter", { participant_id: null }) }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (this.handSelect.value) this.callOrToast("doc:presenter", { participant_id: this.handSelect.value });
    });
    this.fillHandSelect();
    return form;
  }

  fillHandSelect() {
    if (!this.handSelect) return;
    const chosen = this.handSelect.value;
    const people = (this.ctx.state?.roster || []).filter((p) => p.id !== this.ctx.me?.id);
    this.handSelect.replaceChildren(
      ...people.map((p) => el("option", { value: p.id, text: `${p.name}（${this.ctx.roleLabel(p.role)}）` })),
    );
    if (chosen) this.handSelect.value = chosen;
  }

  // ── state ───────────────────────────────────────────────────────────────

  applyState(state) {
    const section = state?.document;
    if (!section) return;
    this.docs.clear();
    for (const doc of section.documents || []) this.docs.set(doc.id, doc);
    this.stageState = {
      document_id: section.document_id,
      page: section.page,
      presenter: section.presenter,
      designated_presenter: section.designated_presenter,
    };
    this.renderList();
    this.fillHandSelect();
    if (this.mode === "follow") this.show(this.stageState.document_id, this.stageState.page);
    else this.renderBar();
  }

  addDoc(doc) {
    const known = this.docs.get(doc.id);
    this.docs.set(doc.id, { opened: false, ...known, ...doc });
    this.renderList();
  }

  onShared(data) {
    if (!data?.document || this.docs.has(data.document.id)) return;
    this.addDoc(data.document);
    this.ctx.toast(this.ctx.t("new_doc", data.document));
  }

  onPage(data) {
    this.stageState = { ...this.stageState, document_id: data.document_id, page: data.page, presenter: data.presenter };
    if (this.mode === "follow") this.show(data.document_id, data.page);
    else this.renderBar();
    this.renderList();
  }

  onPresenter(data) {
    const mine = data.participant_id && data.participant_id === this.ctx.me?.id;
    this.stageState = { ...this.stageState, designated_presenter: data.participant_id };
    if (mine) this.ctx.toast(this.ctx.t("you_present"));
    this.renderBar();
    this.renderList();
  }

  // ── viewing ─────────────────────────────────────────────────────────────

  follow() {
    this.mode = "follow";
    this.show(this.stageState.document_id, this.stageState.page);
  }

  browse(docId, page) {
    this.mode = "browse";
    this.show(docId, page);
  }

  /** ‹ ›: the presenter turns everyone's page; anyone else browses on their own. */
  step(delta) {
    const doc = this.docs.get(this.view.docId);
    if (!doc) return;
    const page = Math.min(doc.pages, Math.max(1, this.view.page + delta));
    if (page === this.view.page) return;
    const presenting = this.canPresent && this.mode === "follow" && this.view.docId === this.stageState.document_id;
    if (presenting) this.callOrToast("doc:present", { document_id: doc.id, page });
    else this.browse(doc.id, page);
  }

  async show(docId, page) {
    const token = ++this.showToken;
    this.flushSave();
    this.view = { docId, page };
    this.renderBar();
    const doc = docId ? this.docs.get(docId) : null;
    // Nothing to show: give the stage to the others (video…).
    this.stageEl.hidden = !docId;
    this.emptyEl.hidden = Boolean(docId);
    this.sheet.hidden = !docId;
    this.noteEl.hidden = !doc;
    this.stageEl.dataset.document = docId || "";
    this.stageEl.dataset.page = page || "";
    if (!docId) {
      this.img.removeAttribute("src");
      this.ink.set([]);
      return;
    }
    if (!doc) {
      this.emptyEl.hidden = false;
      this.emptyEl.textContent = this.ctx.t("not_shared");
      this.sheet.hidden = true;
      return;
    }
    this.emptyEl.textContent = this.ctx.t("stage_empty");
    this.receipt(doc);
    try {
      const [url, notes] = await Promise.all([this.cache.get(docId, page), this.loadAnnotations(docId, page)]);
      if (token !== this.showToken) return; // a newer page was asked for meanwhile
      this.img.src = url;
      this.img.dataset.document = docId;
      this.img.dataset.page = String(page);
      this.ink.set(notes.ink);
      this.noteEl.value = notes.notes?.[0]?.text || "";
      if (page < doc.pages) this.cache.get(docId, page + 1).catch(() => {}); // the likely next turn
    } catch (err) {
      if (token !== this.showToken) return;
      if (err.status === 403) {
        this.emptyEl.hidden = false;
        this.emptyEl.textContent = this.ctx.t("not_shared");
        this.sheet.hidden = true;
      } else {
        this.ctx.toast(this.ctx.t("failed", { reason: err.message }), { kind: "error" });
      }
    }
  }

  renderBar() {
    const t = this.ctx.t;
    const doc = this.docs.get(this.view.docId);
    this.titleEl.textContent = doc?.title || "";
    this.pageNoEl.textContent = doc ? t("page_of", { page: this.view.page, pages: doc.pages }) : "";
    this.prevBtn.disabled = !doc || this.view.page <= 1;
    this.nextBtn.disabled = !doc || this.view.page >= doc.pages;
    const presenting = this.canPresent && this.mode === "follow" && this.view.docId === this.stageState.document_id;
    const mode = presenting ? "present" : this.mode;
    this.modeEl.dataset.mode = mode;
    this.modeEl.textContent = t(mode === "present" ? "presenting" : mode);
    const elsewhere = this.stageState.document_id &&
      (this.view.docId !== this.stageState.document_id || this.view.page !== this.stageState.page);
    this.backBtn.hidden = this.mode === "follow" || !this.stageState.document_id;
    this.backBtn.textContent = elsewhere ? t("back_to", { page: this.stageState.page }) : t("back");
    const presenter = this.stageState.designated_presenter || this.stageState.presenter;
    this.presenterEl.textContent = presenter ? t("presenter_is", { name: this.ctx.nameOf(presenter) }) : "";
    this.inkBtn.hidden = !doc;
  }

  renderList() {
    const t = this.ctx.t;
    if (!this.docs.size) {
      this.listEl.replaceChildren(el("li", { class: "docs-badge", text: t("no_docs") }));
      return;
    }
    this.listEl.replaceChildren(
      ...[...this.docs.values()].map((doc) => {
        const item = el("li", { "data-document": doc.id, class: doc.id === this.stageState.document_id ? "is-presented" : "" },
          el("span", { class: "docs-item-title", text: `${doc.title}（${doc.pages}）` }),
          doc.opened ? el("span", { class: "docs-badge", text: t("opened") }) : "",
          el("button", { class: "button docs-open", type: "button", text: t("open"), onclick: () => this.browse(doc.id, 1) }));
        if (this.canPresent) {
          item.append(el("button", { class: "button primary docs-present", type: "button", text: t("present"),
            onclick: () => {
              this.mode = "follow";
              this.callOrToast("doc:present", { document_id: doc.id, page: 1 });
            } }));
        }
        if (this.isOperator) {
          item.append(el("button", { class: "button docs-receipts-toggle", type: "button", text: t("receipts"),
            onclick: () => this.toggleReceipts(doc.id) }));
          if (this.receiptsOpen.has(doc.id)) {
            const box = el("div", { class: "docs-receipts-box", style: "width:100%" });
            item.append(box);
            this.loadReceipts(doc.id, box);
          }
        }
        return item;
      }),
    );
  }

  // ── receipts (签收) ──────────────────────────────────────────────────────

  receipt(doc) {
    if (doc.opened) return;
    doc.opened = true;
    this.ctx.call("doc:opened", { document_id: doc.id }).then((ack) => {
      if (!ack.ok) doc.opened = false;
      this.renderList();
    });
  }

  toggleReceipts(docId) {
    if (this.receiptsOpen.has(docId)) this.receiptsOpen.delete(docId);
    else this.receiptsOpen.add(docId);
    this.renderList();
  }

  async loadReceipts(docId, box) {
    const response = await this.ctx.api(`/api/documents/${docId}/receipts`);
    if (!response.ok) return;
    const answer = await response.json();
    box.replaceChildren(
      el("div", { class: "docs-receipts-count", text: this.ctx.t("receipts_count", answer) }),
      el("ul", { class: "docs-receipts" },
        ...answer.participants.map((p) => el("li", { "data-participant": p.id, "data-opened": String(p.opened),
          text: p.site ? `${p.name} · ${p.site.name}` : p.name }))),
    );
  }

  onReceipt(data) {
    if (this.receiptsOpen.has(data.document_id)) this.renderList();
  }

  // ── annotations ─────────────────────────────────────────────────────────

  async loadAnnotations(docId, page) {
    const response = await this.ctx.api(`/api/documents/${docId}/pages/${page}/annotations`);
    if (!response.ok) return { ink: [], notes: [] };
    return response.json();
  }

  toggleInk() {
    this.ink.enabled = !this.ink.enabled;
    this.sheet.classList.toggle("is-inking", this.ink.enabled);
    this.inkBtn.textContent = this.ctx.t(this.ink.enabled ? "ink_on" : "ink");
    this.inkBtn.dataset.t = this.ink.enabled ? "ink_on" : "ink";
    this.inkBtn.setAttribute("aria-pressed", String(this.ink.enabled));
    this.clearBtn.hidden = !this.ink.enabled;
  }

  clearInk() {
    this.ink.set([]);
    this.scheduleSave();
  }

  scheduleSave() {
    const { docId, page } = this.view;
    if (!docId) return;
    clearTimeout(this.saveTimer);
    this.pendingSave = { docId, page, ink: this.ink.strokes.slice(), note: this.noteEl.value };
    this.saveTimer = setTimeout(() => this.flushSave(), 600);
  }

  async flushSave() {
    clearTimeout(this.saveTimer);
    const save = this.pendingSave;
    this.pendingSave = null;
    if (!save) return;
    const json = { ink: save.ink, notes: save.note ? [{ x: 0, y: 0, text: save.note.slice(0, 2000) }] : [] };
    const response = await this.ctx.api(`/api/documents/${save.docId}/pages/${save.page}/annotations`, {
      method: "PUT",
      json,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      this.ctx.toast(this.ctx.t("save_failed", { reason: body?.error?.message || response.status }), { kind: "error" });
    } else {
      this.sheet.dataset.saved = `${save.docId}/${save.page}/${save.ink.length}`;
    }
  }

  async callOrToast(event, payload) {
    const ack = await this.ctx.call(event, payload);
    if (!ack.ok) this.ctx.toast(this.ctx.t("failed", { reason: ack.error?.message || ack.error?.code }), { kind: "error" });
    return ack;
  }

  relabel() {
    this.renderBar();
    this.renderList();
    this.noteEl.placeholder = this.ctx.t("note");
  }
}

const instances = new WeakMap();

export default {
  id: "documents",
  order: 40,
  strings: STRINGS,
  mount(ctx) {
    const feature = new DocumentsFeature(ctx);
    instances.set(ctx, feature);
    ctx.on("doc:shared", (data) => feature.onShared(data));
    ctx.on("doc:page", (data) => feature.onPage(data));
    ctx.on("doc:presenter", (data) => feature.onPresenter(data));
    ctx.on("doc:receipt", (data) => feature.onReceipt(data));
    ctx.on("roster", () => feature.fillHandSelect());
    feature.applyState(ctx.state);
  },
  sync(ctx, state) {
    instances.get(ctx)?.applyState(state);
  },
  onLanguage(ctx) {
    instances.get(ctx)?.relabel();
  },
};
