/**
 * The only way the embed builds DOM: elements, attributes and text nodes. User text is only ever
 * passed as a child string (a Text node) or an attribute value, never parsed as HTML.
 */
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** Replaces an element's children with plain text. */
export function setText(el: Element, text: string): void {
  el.textContent = text;
}

let seq = 0;
/** Ids unique within the page, for label/aria wiring inside a shadow root. */
export function uid(prefix: string): string {
  seq += 1;
  return `${prefix}-${seq}`;
}
