// The roster: everyone in the meeting, grouped by the level of their site
// (city hall, districts, townships, liaison stations, departments), with an
// online dot and online/total counts per group. Rendered from the roster list
// alone, so a `roster` broadcast and a `state:sync` redraw it the same way.

export const GROUP_ORDER = ["city", "district", "township", "station", "department", "none"];
// Within a group the chair and staff come first, observers last.
const ROLE_ORDER = ["chair", "clerk", "member", "deputy", "respondent", "observer"];

export function groupOf(participant) {
  const kind = participant?.site?.kind;
  return GROUP_ORDER.includes(kind) && kind !== "none" ? kind : "none";
}

/** Participants grouped by site level, in GROUP_ORDER, empty groups left out. */
export function groupRoster(participants) {
  const groups = new Map(GROUP_ORDER.map((g) => [g, []]));
  participants.forEach((p, index) => groups.get(groupOf(p)).push({ p, index }));
  const rank = (role) => {
    const i = ROLE_ORDER.indexOf(role);
    return i === -1 ? ROLE_ORDER.length : i;
  };
  const result = [];
  for (const [group, entries] of groups) {
    if (!entries.length) continue;
    entries.sort(
      (a, b) =>
        (a.p.site?.name || "").localeCompare(b.p.site?.name || "", "zh-CN") ||
        rank(a.p.role) - rank(b.p.role) ||
        a.index - b.index,
    );
    const people = entries.map((e) => e.p);
    result.push({ group, people, online: people.filter((p) => p.online).length });
  }
  return result;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const drawnShapes = new WeakMap(); // list element -> shape of what it shows

function setCount(count, online, total, t) {
  count.textContent = `${online}/${total}`;
  count.classList.toggle("is-zero", online === 0);
  count.setAttribute("aria-label", t("online_of", { online, total }));
}

function setOnline(li, online, t) {
  if (li.dataset.online === String(online)) return;
  li.dataset.online = String(online);
  li.classList.toggle("is-online", online);
  const dot = li.querySelector(".dot");
  dot.setAttribute("aria-label", t(online ? "online" : "offline"));
  dot.title = t(online ? "online" : "offline");
}

function updatePresence(list, groups, t) {
  const rows = new Map([...list.querySelectorAll("li.person")].map((li) => [li.dataset.participantId, li]));
  for (const { group, people, online } of groups) {
    const count = list.querySelector(`section.roster-group[data-group="${group}"] .roster-count`);
    if (count) setCount(count, online, people.length, t);
    for (const p of people) {
      const li = rows.get(p.id);
      if (li) setOnline(li, Boolean(p.online), t);
    }
  }
}

// Groups the user folded stay folded across redraws (a long list of stations
// should not spring open on every presence change).
const collapsed = new Set();

/**
 * Draw the roster into `list` and the overall count into `summary`.
 * @param {{list: HTMLElement, summary: HTMLElement}} target
 */
export function renderRoster(target, participants, meId, t) {
  const groups = groupRoster(participants || []);
  const total = (participants || []).length;
  const online = (participants || []).filter((p) => p.online).length;
  target.summary.textContent = t("online_of", { online, total });

  // Most roster broadcasts only change who is online: when the people, their
  // order and the language are the same as last time, update dots and counts
  // in place instead of rebuilding hundreds of rows.
  const shape = JSON.stringify([
    meId,
    t("online"),
    groups.map(({ group, people }) => [group, people.map((p) => [p.id, p.name, p.role, p.site?.name])]),
  ]);
  if (drawnShapes.get(target.list) === shape) {
    updatePresence(target.list, groups, t);
    return;
  }
  drawnShapes.set(target.list, shape);

  const fragment = document.createDocumentFragment();
  if (!total) fragment.append(el("p", "roster-empty", t("empty_roster")));
  for (const { group, people, online: groupOnline } of groups) {
    const section = el("section", `roster-group${collapsed.has(group) ? " is-collapsed" : ""}`);
    section.dataset.group = group;
    const heading = el("h3", "roster-group-title");
    const toggle = el("button", "roster-group-toggle");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", String(!collapsed.has(group)));
    toggle.append(el("span", "roster-group-name", t(`group:${group}`)));
    const count = el("span", "roster-count");
    setCount(count, groupOnline, people.length, t);
    toggle.append(count);
    toggle.addEventListener("click", () => {
      const fold = !collapsed.has(group);
      if (fold) collapsed.add(group);
      else collapsed.delete(group);
      section.classList.toggle("is-collapsed", fold);
      toggle.setAttribute("aria-expanded", String(!fold));
    });
    heading.append(toggle);
    section.append(heading);

    const ul = el("ul", "roster-people");
    for (const p of people) {
      const li = el("li", `person${p.id === meId ? " is-me" : ""}`);
      li.dataset.participantId = p.id;
      const dot = el("span", "dot");
      dot.setAttribute("role", "img");
      const text = el("span", "person-text");
      const line = el("span", "person-line");
      line.append(el("span", "person-name", p.name));
      if (p.id === meId) line.append(el("span", "person-me", t("you")));
      text.append(line);
      const detail = el("span", "person-detail");
      detail.append(el("span", `role-badge role-${p.role}`, t(`role:${p.role}`)));
      if (p.site?.name) detail.append(el("span", "person-site", p.site.name));
      text.append(detail);
      li.append(dot, text);
      setOnline(li, Boolean(p.online), t);
      ul.append(li);
    }
    section.append(ul);
    fragment.append(section);
  }
  target.list.replaceChildren(fragment);
}
