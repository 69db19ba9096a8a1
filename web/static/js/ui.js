// Places on the page the shell hands out: feature panels, stage items,
// toasts and the full-width notice. Nothing here knows about the meeting.

const TOAST_MS = 4500;
const MAX_TOASTS = 4;

export class Surfaces {
  constructor({ panels, stage, toasts, notice }) {
    this.panelsRoot = panels;
    this.stageRoot = stage;
    this.toastRoot = toasts;
    this.noticeRoot = notice;
    this.panels = new Map();
    this.stageItems = new Map();
  }

  /**
   * A panel (section with a heading) in the main column, made once per
   * (feature, id); returns its body element for the feature to fill.
   * `order` sorts panels (CSS order), lower first.
   */
  panel(featureId, id, title, { order = 100, titleKey = null } = {}) {
    const key = `${featureId}:${id}`;
    const existing = this.panels.get(key);
    if (existing) return existing;
    const section = document.createElement("section");
    section.className = "panel";
    section.dataset.feature = featureId;
    section.dataset.panel = id;
    section.style.order = String(order);
    const heading = document.createElement("h2");
    heading.className = "panel-title";
    heading.textContent = title;
    if (titleKey) heading.dataset.t = titleKey;
    const body = document.createElement("div");
    body.className = "panel-body";
    section.append(heading, body);
    section.setAttribute("aria-label", title);
    this.panelsRoot.append(section);
    this.panels.set(key, body);
    return body;
  }

  /** The feature's own item on the stage (the big area above the panels). */
  stage(featureId, id = featureId, { order = 100 } = {}) {
    const key = `${featureId}:${id}`;
    const existing = this.stageItems.get(key);
    if (existing) return existing;
    const item = document.createElement("div");
    item.className = "stage-item";
    item.dataset.feature = featureId;
    item.dataset.stage = id;
    item.style.order = String(order);
    this.stageRoot.append(item);
    this.stageItems.set(key, item);
    return item;
  }

  toast(message, { kind = "info" } = {}) {
    const note = document.createElement("div");
    note.className = `toast toast-${kind}`;
    note.setAttribute("role", kind === "error" ? "alert" : "status");
    note.textContent = String(message);
    this.toastRoot.append(note);
    while (this.toastRoot.children.length > MAX_TOASTS) this.toastRoot.firstElementChild.remove();
    setTimeout(() => note.remove(), TOAST_MS);
    note.addEventListener("click", () => note.remove());
  }

  /** A persistent banner above the page (connection trouble); null hides it. */
  notice(content, { kind = "warn", action = null } = {}) {
    const root = this.noticeRoot;
    if (content === null) {
      root.hidden = true;
      root.replaceChildren();
      return;
    }
    root.className = `notice notice-${kind}`;
    root.replaceChildren();
    const text = document.createElement("span");
    text.className = "notice-text";
    text.textContent = content;
    root.append(text);
    if (action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = action.label;
      button.addEventListener("click", action.run);
      root.append(button);
    }
    root.hidden = false;
  }
}
