/**
 * A tiny element builder for the feedback, preview and panel views (plain
 * DOM: text is always set as text, never parsed as HTML).
 */

export type Child = Node | string | null | undefined | false;

export interface IAttrs {
  className?: string;
  text?: string;
  title?: string;
  type?: string;
  role?: string;
  tabIndex?: number;
  disabled?: boolean;
  value?: string;
  placeholder?: string;
  dataset?: Record<string, string>;
  aria?: Record<string, string>;
  onClick?: (event: MouseEvent) => void;
  onInput?: (event: Event) => void;
  onChange?: (event: Event) => void;
  onKeyDown?: (event: KeyboardEvent) => void;
}

/**
 * Create an element with attributes and children.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: IAttrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (attrs.className) {
    node.className = attrs.className;
  }
  if (attrs.text !== undefined) {
    node.textContent = attrs.text;
  }
  if (attrs.title) {
    node.title = attrs.title;
  }
  if (attrs.type) {
    node.setAttribute('type', attrs.type);
  }
  if (attrs.role) {
    node.setAttribute('role', attrs.role);
  }
  if (attrs.tabIndex !== undefined) {
    node.tabIndex = attrs.tabIndex;
  }
  if (attrs.disabled !== undefined) {
    (node as unknown as HTMLButtonElement).disabled = attrs.disabled;
  }
  if (attrs.value !== undefined) {
    (node as unknown as HTMLInputElement).value = attrs.value;
  }
  if (attrs.placeholder) {
    node.setAttribute('placeholder', attrs.placeholder);
  }
  for (const [key, value] of Object.entries(attrs.dataset ?? {})) {
    node.dataset[key] = value;
  }
  for (const [key, value] of Object.entries(attrs.aria ?? {})) {
    node.setAttribute(`aria-${key}`, value);
  }
  if (attrs.onClick) {
    node.addEventListener('click', attrs.onClick as EventListener);
  }
  if (attrs.onInput) {
    node.addEventListener('input', attrs.onInput);
  }
  if (attrs.onChange) {
    node.addEventListener('change', attrs.onChange);
  }
  if (attrs.onKeyDown) {
    node.addEventListener('keydown', attrs.onKeyDown as EventListener);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.appendChild(
      typeof child === 'string' ? document.createTextNode(child) : child
    );
  }
  return node;
}

/**
 * A JupyterLab-styled button.
 */
export function button(
  label: string,
  onClick: (event: MouseEvent) => void,
  options: {
    accept?: boolean;
    warn?: boolean;
    title?: string;
    className?: string;
  } = {}
): HTMLButtonElement {
  const classes = ['jp-mod-styled', 'jp-collab-button'];
  classes.push(
    options.accept
      ? 'jp-mod-accept'
      : options.warn
        ? 'jp-mod-warn'
        : 'jp-mod-reject'
  );
  if (options.className) {
    classes.push(options.className);
  }
  return h('button', {
    className: classes.join(' '),
    type: 'button',
    text: label,
    title: options.title,
    onClick
  });
}

/**
 * A loading line with a spinner.
 */
export function loading(text: string): HTMLElement {
  return h(
    'div',
    { className: 'jp-collab-loading', role: 'status' },
    h('span', { className: 'jp-collab-spinner', aria: { hidden: 'true' } }),
    text
  );
}

/**
 * Replace all children of `node`.
 */
export function replaceChildren(node: Element, ...children: Child[]): void {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.appendChild(
      typeof child === 'string' ? document.createTextNode(child) : child
    );
  }
}
