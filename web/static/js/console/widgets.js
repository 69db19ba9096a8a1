/*
 * Pieces every tab of the console uses: the confirmation dialog, toasts, a
 * copy button, a QR image, the print sheet, the import box with its table of
 * row errors, and date formatting. Plain DOM; labels come from `ctx.t`.
 */
import { el } from "../dom.js";
import { plainError } from "./api.js";
import { zhMessage } from "./wording.js";

const TOAST_MS = 5000;
const $ = (id) => document.getElementById(id);

export function toast(message, { kind = "info" } = {}) {
  const note = el("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", text: String(message) });
  const root = $("toasts");
  root.append(note);
  while (root.children.length > 4) root.firstElementChild.remove();
  setTimeout(() => note.remove(), TOAST_MS);
}

/** Ask before a destructive or meeting-changing action; resolves true for the confirming button. */
export function confirmAction(text, okLabel, { danger = true } = {}) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  const ok = $("confirm-ok");
  ok.textContent = okLabel;
  ok.className = `button ${danger ? "danger" : "primary"}`;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

/** A button that copies `text()` and says so on itself for a moment. */
export function copyButton(t, text, { label = "copy_link" } = {}) {
  const button = el("button", { type: "button", class: "button", "data-action": "copy", text: t(label) });
  button.addEventListener("click", async () => {
    const value = typeof text === "function" ? text() : text;
    let done = false;
    try {
      await navigator.clipboard.writeText(value);
      done = true;
    } catch {
      // No Clipboard API (plain http on an office LAN address is no secure
      // context): the older copy of a selection still works there.
      done = copyBySelection(value);
    }
    button.textContent = t(done ? "copied" : "copy_manually");
    setTimeout(() => { button.textContent = t(label); }, 2500);
  });
  return button;
}

function copyBySelection(text) {
  const area = el("textarea", { readOnly: true, "aria-hidden": "true", style: "position:fixed;top:-1000px;opacity:0" });
  area.value = text;
  document.body.append(area);
  area.select();
  let done = false;
  try {
    done = document.execCommand("copy");
  } catch {
    done = false;
  }
  area.remove();
  return done;
}

/** A readonly field holding a link, selected on focus. */
export function linkField(url, { name = "link" } = {}) {
  const input = el("input", { class: "link-field", readOnly: true, value: url, name, "aria-label": name, spellcheck: "false" });
  input.addEventListener("focus", () => input.select());
  return input;
}

/** An <img> of an SVG the hub answered (fetched with the session's token). */
export async function svgImage(blobPromise, alt) {
  const blob = await blobPromise;
  const url = URL.createObjectURL(blob.type.includes("svg") ? blob : new Blob([blob], { type: "image/svg+xml" }));
  return el("img", { class: "qr", src: url, alt, width: 220, height: 220 });
}

/** `POST /api/qr {text}` → an <img> of the QR code for `text`. */
export function qrImage(api, text, alt) {
  return svgImage(api.request("POST", "/api/qr", { json: { text }, as: "blob" }), alt);
}

/** Show `nodes` on the print sheet (a preview above the page); 打印 prints only the sheet. */
export function showPrintSheet(...nodes) {
  const sheet = $("print-sheet");
  $("print-body").replaceChildren(...nodes);
  sheet.hidden = false;
  document.body.classList.add("is-printing");
  sheet.querySelector("[data-action=print-now]").focus();
}

export function bindPrintSheet() {
  const sheet = $("print-sheet");
  sheet.querySelector("[data-action=print-now]").addEventListener("click", () => window.print());
  sheet.querySelector("[data-action=print-close]").addEventListener("click", () => {
    sheet.hidden = true;
    document.body.classList.remove("is-printing");
    $("print-body").replaceChildren();
  });
}

/** "2026-12-01 09:30" in local time, or "" for nothing. */
export function formatTime(iso, lang) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(lang === "en" ? "en-GB" : "zh-CN", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

/** A datetime-local field's value as ISO 8601 UTC, or null when empty. */
export function isoFromLocal(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A <label class="field"> with its caption and control. */
export function field(t, key, control) {
  return el("label", { class: "field" }, el("span", { "data-t": key, text: t(key) }), control);
}

export function select(name, options, { value = "", blank = null } = {}) {
  const node = el("select", { name });
  if (blank !== null) node.append(el("option", { value: "", text: blank }));
  for (const [optionValue, label] of options) node.append(el("option", { value: optionValue, text: label }));
  node.value = value;
  return node;
}

/** Options that follow the language switch: each option's label is `<prefix>:<value>`, the blank one `blankKey`. */
export function labelOptions(node, prefix, blankKey = null) {
  for (const option of node.options) {
    if (option.value) option.dataset.t = `${prefix}:${option.value}`;
    else if (blankKey) option.dataset.t = blankKey;
  }
  return node;
}

/** Sites in tree order with their depth: parents before children, siblings by name. */
export function siteTree(sites) {
  const byParent = new Map();
  const ids = new Set(sites.map((s) => s.id));
  for (const site of sites) {
    const parent = site.parent_id && ids.has(site.parent_id) ? site.parent_id : null;
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(site);
  }
  const ordered = [];
  const walk = (parent, depth) => {
    for (const site of (byParent.get(parent) || []).sort((a, b) => a.name.localeCompare(b.name, "zh-CN"))) {
      ordered.push({ site, depth });
      walk(site.id, depth + 1);
    }
  };
  walk(null, 0);
  return ordered;
}

/** Site options for a <select>, indented by depth. */
export function siteOptions(sites) {
  return siteTree(sites).map(({ site, depth }) => [site.id, `${"　".repeat(depth)}${site.name}`]);
}

/** Every site under `rootId` (not itself). */
export function descendants(sites, rootId) {
  const children = new Map();
  for (const site of sites) {
    if (!children.has(site.parent_id)) children.set(site.parent_id, []);
    children.get(site.parent_id).push(site);
  }
  const found = [];
  const stack = [...(children.get(rootId) || [])];
  while (stack.length) {
    const site = stack.pop();
    found.push(site);
    stack.push(...(children.get(site.id) || []));
  }
  return found;
}

/**
 * The import box: a file field, 检查文件 (a dry run) and 导入 buttons, and
 * the outcome: how many rows were imported, or the table of rows refused
 * with their line numbers and the duplicates. `path` takes `?dry_run=1`.
 */
export function importBox(ctx, { path, title, hint, onImported }) {
  const { t } = ctx;
  const input = el("input", { type: "file", name: "file", accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" });
  const outcome = el("div", { class: "import-outcome", "aria-live": "polite" });
  const check = el("button", { type: "button", class: "button", "data-action": "import-check", "data-t": "import_check", text: t("import_check") });
  const run = el("button", { type: "button", class: "button primary", "data-action": "import", "data-t": "import_run", text: t("import_run") });

  async function send(dryRun) {
    const file = input.files?.[0];
    if (!file) {
      outcome.replaceChildren(el("p", { class: "form-error", role: "alert", text: t("import_pick_file") }));
      return;
    }
    check.disabled = run.disabled = true;
    outcome.replaceChildren(el("p", { class: "muted", text: t("import_working") }));
    try {
      const answer = await ctx.api.upload(dryRun ? `${path}?dry_run=1` : path, file);
      outcome.replaceChildren(importSummary(t, answer, dryRun));
      if (!dryRun) {
        input.value = "";
        onImported?.(answer);
      }
    } catch (error) {
      outcome.replaceChildren(importFailure(t, error, ctx.lang()));
    } finally {
      check.disabled = run.disabled = false;
    }
  }
  check.addEventListener("click", () => send(true));
  run.addEventListener("click", () => send(false));
  return el("div", { class: "import-box" },
    el("h3", { "data-t": title, text: t(title) }),
    el("p", { class: "hint", "data-t": hint, text: t(hint) }),
    el("div", { class: "row" }, input, check, run),
    outcome);
}

function countOf(answer, ...keys) {
  for (const key of keys) {
    const value = answer?.[key];
    if (typeof value === "number") return value;
    if (Array.isArray(value)) return value.length;
  }
  return null;
}

function importSummary(t, answer, dryRun) {
  const created = countOf(answer, "created", "imported", "count", "rows", "people", "sites");
  const updated = countOf(answer, "updated");
  const text = dryRun
    ? t("import_checked", { n: created ?? "?" })
    : t("import_done", { n: created ?? "?" }) + (updated ? t("import_updated", { n: updated }) : "");
  const ignored = Array.isArray(answer?.ignored_columns) && answer.ignored_columns.length
    ? el("p", { class: "hint", text: t("ignored_columns", { names: answer.ignored_columns.join("、") }) }) : null;
  return el("div", {}, el("p", { class: "import-ok", role: "status", text }), ignored, duplicatesList(t, answer?.duplicates));
}

/** Duplicates are skipped, not refused: listed with their lines whether the file went in or not. */
function duplicatesList(t, duplicates) {
  if (!Array.isArray(duplicates) || !duplicates.length) return null;
  return el("div", { class: "duplicates-box" },
    el("h4", { text: t("duplicates", { n: duplicates.length }) }),
    el("ul", { class: "duplicates" }, ...duplicates.map((d) => el("li", { "data-line": String(d.line ?? ""), text: describeDuplicate(t, d) }))));
}

/** The hub's 400 with `rows: [{line, errors}]` (and duplicates) as a table; anything else in plain words. */
function importFailure(t, error, lang) {
  const say = (message) => (lang === "zh-CN" ? zhMessage(message) : message);
  const body = error?.body || {};
  const rows = Array.isArray(body.rows) ? body.rows : Array.isArray(body.error?.rows) ? body.error.rows : [];
  const duplicates = body.duplicates ?? body.error?.duplicates;
  if (!rows.length && !duplicates) {
    if (error?.message) error.message = say(error.message);
    return el("p", { class: "form-error", role: "alert", text: plainError(t, error) });
  }
  const parts = [el("p", { class: "form-error", role: "alert", text: t("import_refused", { n: rows.length }) })];
  if (rows.length) {
    const table = el("table", { class: "errors-table" },
      el("thead", {}, el("tr", {}, el("th", { text: t("line") }), el("th", { text: t("problem") }))));
    const tbody = el("tbody");
    for (const row of rows) {
      const errors = Array.isArray(row.errors) ? row.errors : [row.errors ?? row.error ?? row.message ?? ""];
      tbody.append(el("tr", { "data-line": String(row.line) },
        el("td", { class: "line", text: String(row.line) }),
        el("td", {}, ...errors.map((e) => {
          const original = typeof e === "string" ? e : JSON.stringify(e);
          return el("div", { text: say(original), title: original });
        }))));
    }
    table.append(tbody);
    parts.push(table);
  }
  parts.push(duplicatesList(t, duplicates));
  return el("div", { class: "import-errors" }, ...parts);
}

function describeDuplicate(t, d) {
  if (typeof d === "string") return d;
  const key = `duplicate_reason:${d.reason}`;
  const reason = t(key) === key ? d.reason ?? "" : t(key);
  const of = d.duplicate_of_line ? t("duplicate_of_line", { line: d.duplicate_of_line })
    : d.existing_id ? t("duplicate_existing") : "";
  return t("duplicate_line", { line: d.line ?? "?", what: [reason, of].filter(Boolean).join("，") });
}
