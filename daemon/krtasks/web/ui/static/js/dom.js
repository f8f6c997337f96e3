// Building the page's elements. Every piece of data goes in as text (textContent or text nodes), never as HTML.

/**
 * A new element: h('a', {href, class: 'x', onclick: fn}, 'text', child, ...).
 * Props: class, dataset (object), text, on<event> handlers, DOM properties given non-string values
 * (checked, hidden, value...), anything else as an attribute. Children: nodes or text.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'text') el.textContent = String(value);
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (typeof value !== 'string' && name in el) el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}

/** Append nodes or text (null, undefined and false are skipped; arrays are flattened). */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The element with this id (throws when the page lacks it: a template and its script disagree). */
export function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

/** Replace an element's content with these children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

/** Set an element's text (null and undefined as empty). */
export function setText(el, text) {
  el.textContent = text === null || text === undefined ? '' : String(text);
}

/** A link to a task's page. */
export function taskLink(id, label) {
  return h('a', { href: `/ui/task?id=${encodeURIComponent(id)}` }, label ?? id);
}
