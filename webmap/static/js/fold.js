/* On a phone the legend, the layer list and the thematic box fold away behind a small button each. */

import { el } from './dom.js';

const PHONE = '(max-width: 700px)';

export function foldable(container, label) {
  if (!container) { return; }
  const folded = window.matchMedia(PHONE).matches;
  const button = el('button', label, 'gm-fold-button');
  button.title = '展开/收起' + label;
  button.type = 'button';
  button.setAttribute('aria-expanded', folded ? 'false' : 'true');
  container.classList.toggle('gm-folded', folded);
  button.addEventListener('click', (ev) => {
    ev.stopPropagation();
    const nowFolded = container.classList.toggle('gm-folded');
    button.setAttribute('aria-expanded', nowFolded ? 'false' : 'true');
  });
  L.DomEvent.disableClickPropagation(button);
  container.insertBefore(button, container.firstChild);
}
