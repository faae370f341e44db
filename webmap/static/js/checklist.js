/* A touch-friendly multiple choice: a fieldset of checkboxes with a legend (no "按住 Ctrl"), for
 * co-departments and the cases of a whistle. Items are [value, text, title] triples; the title (a
 * code) is the tooltip. */

import { el } from './dom.js';

export function checklist(name, legend) {
  const set = document.createElement('fieldset');
  set.className = 'gm-checklist';
  set.dataset.name = name;
  set.appendChild(el('legend', legend));
  const box = el('div', '', 'gm-checklist-items');
  set.appendChild(box);

  function add(items, checked, locked) {
    const chosen = new Set(checked || []);
    items.forEach(([value, text, title]) => {
      if (box.querySelector('input[value="' + CSS.escape(value) + '"]')) { return; }
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.name = name;
      input.value = value;
      input.checked = chosen.has(value);
      input.disabled = !!(locked && chosen.has(value));
      const label = el('label', null, 'gm-check');
      if (title) { label.title = title; }
      label.append(input, document.createTextNode(' ' + text));
      box.appendChild(label);
    });
  }

  return {
    node: set,
    /* Add items; `checked` values start ticked, and stay ticked when `locked`. */
    add,
    /* The ticked values, in list order. */
    values() {
      return Array.from(box.querySelectorAll('input:checked')).map((i) => i.value);
    },
    /* Tick exactly these values. */
    check(values) {
      const want = new Set(values);
      box.querySelectorAll('input').forEach((i) => { if (!i.disabled) { i.checked = want.has(i.value); } });
    },
    /* Hide one value (the lead department is not also a co-department). */
    hide(value) {
      box.querySelectorAll('input').forEach((i) => {
        i.closest('label').hidden = i.value === value;
        if (i.value === value) { i.checked = false; }
      });
    }
  };
}
