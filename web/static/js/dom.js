/*
 * el(tag, attrs, ...children): one small element builder for the shell and
 * every feature module.
 *   class / text           className / textContent
 *   on: {event: fn}        listeners; "onclick: fn" works too
 *   non-string values of a property the element has (disabled, checked,
 *   value, width…) are set as properties; everything else as attributes
 *   (true → an empty attribute). null, undefined and false are skipped, in
 *   attributes and in children alike.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
