/**
 * Light or dark: a data-theme attribute wins; otherwise follow the host page, judged by the
 * background actually painted behind the widget, and failing that the reader's system setting.
 */
function hostIsDark(host: Element): boolean | undefined {
  for (let el: Element | null = host.parentElement; el; el = el.parentElement) {
    const m = getComputedStyle(el).backgroundColor.match(/[\d.]+/g);
    if (!m || m.length < 3) continue;
    const [r, g, b, a = '1'] = m.map(Number) as unknown as [number, number, number, number?];
    if (Number(a) < 0.5) continue;
    // Relative luminance, roughly: below the midpoint is a dark page.
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 < 0.45;
  }
  return undefined;
}

export function applyTheme(host: HTMLElement, wrap: HTMLElement, theme: string): void {
  const media = matchMedia('(prefers-color-scheme: dark)');
  const update = () => {
    const dark = theme === 'dark' || (theme !== 'light' && (hostIsDark(host) ?? media.matches));
    wrap.classList.toggle('dark', dark);
  };
  update();
  if (theme === 'dark' || theme === 'light') return;
  // Host pages switch themes with a media query or a class/attribute on <html> or <body>.
  media.addEventListener('change', () => setTimeout(update));
  const mo = new MutationObserver(update);
  const opts = { attributes: true, attributeFilter: ['class', 'data-theme', 'style'] };
  mo.observe(document.documentElement, opts);
  if (document.body) mo.observe(document.body, opts);
}
