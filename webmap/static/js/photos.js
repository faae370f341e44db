/* Case photos: the file input, the upload, the gallery. The size limit and the number a case may
 * hold come from the options (limits.photoMaxMB, limits.photosPerCase). */

import { el } from './dom.js';
import { caseUrl, send } from './api.js';

const TYPES = 'image/jpeg,image/png';

/* "JPEG/PNG，每张 ≤ N MB，每案最多 M 张" from the server's limits. */
export function photoRules(limits) {
  return 'JPEG/PNG，每张 ≤ ' + limits.photoMaxMB + ' MB，每案最多 ' + limits.photosPerCase + ' 张';
}

/* A labelled file input for photos: `lead` is the label's first words, `note` (optional) a remark. */
export function photoField(lead, limits, note) {
  const input = document.createElement('input');
  input.type = 'file';
  input.name = 'photo';
  input.accept = TYPES;
  input.multiple = true;
  const label = el('label', lead + '（' + (note ? note + '，' : '') + photoRules(limits) + '）：', 'gm-tip-code');
  label.appendChild(input);
  return { label, input };
}

export function uploadPhotos(id, files) {
  const data = new FormData();
  Array.prototype.forEach.call(files, (f) => data.append('photo', f, f.name));
  return send(caseUrl(id, 'photos'), data);
}

/* The case's photos as links to the full pictures. */
export function gallery(photos) {
  const box = el('div', '', 'gm-photos');
  photos.forEach((p) => {
    const link = document.createElement('a');
    link.href = p.url;
    link.target = '_blank';
    link.rel = 'noopener';
    const img = document.createElement('img');
    img.src = p.url;
    img.alt = '案件照片 ' + p.id;
    img.loading = 'lazy';
    link.appendChild(img);
    box.appendChild(link);
  });
  if (!photos.length) { box.appendChild(el('span', '暂无照片', 'gm-tip-code')); }
  return box;
}
