// What the phone's layout is measured by, in the browser: the header's height, the page's
// width (and the elements sticking out) and controls under 44 px high; links inside running
// text are exempt, as in WCAG 2.5.5.
() => {
  const header = document.querySelector('.site-header').getBoundingClientRect().height;
  const inText = 'p a, .help a, blockquote a, .muted a, .message a, .chat-log a';
  const small = [...document.querySelectorAll(
      'a[href], button, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea')]
    .filter((el) => el.getClientRects().length && !el.closest(inText) && !el.closest('.visually-hidden'))
    .filter((el) => { const r = el.getBoundingClientRect(); return r.right > 0 && r.height < 43.5; })
    .map((el) => `${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 30)}" ${Math.round(el.getBoundingClientRect().height)}px`);
  const wide = [...document.querySelectorAll('main *')]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
    .slice(-3).map((el) => el.tagName.toLowerCase() + '.' + el.className);
  return {header, width: document.documentElement.scrollWidth, small, wide};
}
