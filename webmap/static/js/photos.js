/* Case photos: the file input, the upload, the gallery. The size limit and the number a case may
 * hold come from the options (limits.photoMaxMB, limits.photosPerCase). */

import { el } from './dom.js';
import { caseUrl, send } from './api.js';

const TYPES = 'image/jpeg,image/png';
/* Photos are shrunk in the browser to about this many pixels before they are sent: plenty to see
 * the problem, and a phone on a slow network sends a tenth of the bytes. */
const TARGET_PIXELS = 2000000;
const JPEG_QUALITY = 0.85;

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

/* "3.2 MB", with the server's own size of a megabyte (limits.photoMaxBytes / limits.photoMaxMB). */
function megabytes(bytes, limits) {
  return (bytes * limits.photoMaxMB / limits.photoMaxBytes).toFixed(1) + ' MB';
}

/* Decode, shrink to about TARGET_PIXELS and re-encode one photo as JPEG (a canvas); a photo
 * already small enough is kept as it is. Gives {file, note}. */
function shrink(file, limits) {
  return createImageBitmap(file).then((bitmap) => {
    const pixels = bitmap.width * bitmap.height;
    if (pixels <= TARGET_PIXELS) { bitmap.close(); return { file, note: null }; }
    const scale = Math.sqrt(TARGET_PIXELS / pixels);
    const width = Math.round(bitmap.width * scale);
    const height = Math.round(bitmap.height * scale);
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d').drawImage(bitmap, 0, 0, width, height);
    const note = file.name + '：' + bitmap.width + '×' + bitmap.height + ' → ' + width + '×' + height;
    bitmap.close();
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY)).then((blob) => {
      const name = file.name.replace(/\.[^.]*$/, '') + '.jpg';
      return { file: new File([blob], name, { type: 'image/jpeg' }), note: note + '，' + megabytes(blob.size, limits) };
    });
  });
}

/* Check and shrink the chosen photos before anything is sent: the type (JPEG/PNG), the number a
 * case may hold and, after shrinking, the size limit. Gives {files, notes, errors}; a photo with
 * an error is left out, and the error names it and the fix. */
export function preparePhotos(fileList, limits) {
  const chosen = Array.from(fileList || []);
  const errors = [];
  if (chosen.length > limits.photosPerCase) {
    errors.push('照片太多：选了 ' + chosen.length + ' 张，每案最多 ' + limits.photosPerCase + ' 张。');
  }
  const usable = chosen.slice(0, limits.photosPerCase).filter((f) => {
    if (TYPES.split(',').includes(f.type)) { return true; }
    errors.push(f.name + ' 不是 JPEG 或 PNG 照片，请换一张。');
    return false;
  });
  return Promise.all(usable.map((f) => shrink(f, limits).catch(() => ({ file: null, note: null, broken: f.name }))))
    .then((results) => {
      const files = [];
      const notes = [];
      results.forEach((r) => {
        if (r.broken) { errors.push(r.broken + ' 无法读取，照片可能已损坏。'); return; }
        if (r.file.size > limits.photoMaxBytes) {
          errors.push(r.file.name + ' 太大：' + megabytes(r.file.size, limits) + '（每张最多 ' + limits.photoMaxMB + ' MB）。');
          return;
        }
        files.push(r.file);
        if (r.note) { notes.push('已压缩 ' + r.note); }
      });
      return { files, notes, errors };
    });
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
