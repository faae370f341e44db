/* The shared DOM helpers of the map and statistics pages. All text, and above all user-written
 * text (names, codes, descriptions), reaches the page through textContent, never innerHTML. */

const SVG = 'http://www.w3.org/2000/svg';

/* An element with its text (none when null) and class. */
export function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (cls) { node.className = cls; }
  if (text != null) { node.textContent = text; }
  return node;
}

/* An SVG element with its attributes and text. */
export function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  Object.keys(attrs || {}).forEach((k) => node.setAttribute(k, attrs[k]));
  if (text != null) { node.textContent = text; }
  return node;
}

/* Options from [value, text] pairs; a third element is the option's tooltip (a code). */
export function addOptions(select, pairs) {
  pairs.forEach(([value, text, title]) => {
    const option = el('option', text);
    option.value = value;
    if (title) { option.title = title; }
    select.appendChild(option);
  });
}

/* Option groups from [group name, pairs] (categories under their big class). */
export function addGroups(select, groups) {
  groups.forEach(([name, pairs]) => {
    const group = document.createElement('optgroup');
    group.label = name;
    addOptions(group, pairs);
    select.appendChild(group);
  });
}

/* A control with its visible label around it (the label names it for screen readers too). */
export function labelled(text, control, cls) {
  const label = el('label', text + ' ', cls || 'gm-field');
  label.appendChild(control);
  return label;
}

/* A <select> named `name` with [value, text] pairs and an accessible label. */
export function selectEl(name, pairs, label) {
  const select = document.createElement('select');
  select.name = name;
  if (label) { select.setAttribute('aria-label', label); }
  addOptions(select, pairs);
  return select;
}

/* A row of a legend: a swatch (any element) and its text. */
export function legendRow(swatch, text) {
  const row = el('div', '', 'gm-legend-row');
  row.appendChild(swatch);
  row.appendChild(document.createTextNode(text));
  return row;
}

/* Forms marked data-stay are handled by scripts and never navigate (the page's CSP allows no
 * inline onsubmit="return false"). Called once by each page's entry module. */
export function keepFormsOnPage() {
  document.addEventListener('submit', (event) => {
    if (event.target instanceof HTMLFormElement && event.target.hasAttribute('data-stay')) {
      event.preventDefault();
    }
  });
}
