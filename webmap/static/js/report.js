/* Pin to report: the 上报 button, a click on the map for the place, then a form for it in the
 * panel; possible duplicates nearby come first. Urgency names and photo limits come from the options. */

import { el, addOptions, selectEl } from './dom.js';
import { caseUrl, categories, failure, getJSON, send } from './api.js';
import { photoField, uploadPhotos } from './photos.js';

const COORDINATE_DIGITS = 6;

function reportForm(panel, options, latlng, onCreated) {
  const body = panel.form();
  if (!body) { return; }
  body.appendChild(el('h2', '上报问题'));
  body.appendChild(el('div', latlng.lng.toFixed(COORDINATE_DIGITS) + ', ' + latlng.lat.toFixed(COORDINATE_DIGITS),
                      'gm-tip-code'));
  const form = document.createElement('form');
  form.className = 'gm-report-form';
  const category = selectEl('category', [['', '请选择问题分类']]);
  const urgency = selectEl('urgency', [['', '紧急程度（按分类默认）'], ...options.urgencies]);
  const description = document.createElement('textarea');
  description.name = 'description';
  description.maxLength = options.limits.descriptionMax;
  description.placeholder = '问题描述（位置、情况）';
  const duplicates = el('div', '', 'gm-duplicates');
  const photos = photoField('照片', options.limits, '可选');
  const error = el('p', '', 'gm-login-error');
  const submit = el('button', '提交');
  submit.type = 'submit';
  [category, urgency, description, photos.label, duplicates, error, submit].forEach((node) => form.appendChild(node));
  body.appendChild(form);
  categories().then((pairs) => addOptions(category, pairs));

  category.addEventListener('change', () => {
    duplicates.textContent = '';
    if (!category.value) { return; }
    const q = new URLSearchParams({ lon: latlng.lng, lat: latlng.lat, category: category.value });
    getJSON(caseUrl('nearby') + '?' + q).then((data) => {
      const found = data.possible_duplicates || [];
      if (!found.length) { return; }
      duplicates.appendChild(el('strong', '附近已有相似案件，请先确认是否重复：'));
      found.forEach((d) => {
        const item = el('a', d.id + '（' + Math.round(d.distance_m) + ' 米）', 'gm-duplicate');
        item.href = '#';
        item.addEventListener('click', (ev) => { ev.preventDefault(); panel.open(d.id); });
        duplicates.appendChild(item);
      });
    });
  });

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!category.value) { error.textContent = '请选择问题分类。'; return; }
    const payload = { lon: latlng.lng, lat: latlng.lat, crs: 'wgs84', category: category.value,
                      description: description.value, source: 'grid_worker' };
    if (urgency.value) { payload.urgency = urgency.value; }
    submit.disabled = true;
    send('/api/cases', payload).then((res) => {
      submit.disabled = false;
      if (!res.ok) { error.textContent = failure(res, '提交失败'); return; }
      const id = res.data.id;
      onCreated();
      if (!photos.input.files.length) { panel.open(id, '已上报'); return; }
      uploadPhotos(id, photos.input.files).then((up) => {
        panel.open(id, up.ok ? '已上报，照片已上传' : '案件已上报，但照片未保存：' + failure(up, '上传失败'));
      });
    });
  });
}

/* The 上报 button: the next click on the map picks the place and opens the form. */
export function createReportButton(map, panel, options, onCreated) {
  let picking = false;
  let button = null;
  const control = L.control({ position: 'topleft' });
  control.onAdd = () => {
    button = L.DomUtil.create('button', 'gm-report-button');
    button.type = 'button';
    button.textContent = '上报';
    L.DomEvent.disableClickPropagation(button);
    button.addEventListener('click', () => {
      picking = true;
      map.getContainer().classList.add('gm-picking');
      button.textContent = '点击地图选位置';
    });
    return button;
  };
  control.addTo(map);
  map.on('click', (e) => {
    if (!picking) { return; }
    picking = false;
    map.getContainer().classList.remove('gm-picking');
    button.textContent = '上报';
    reportForm(panel, options, e.latlng, onCreated);
  });
}
