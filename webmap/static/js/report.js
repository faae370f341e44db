/* Reporting (上报) that keeps the reporter's work: the 上报 button starts placing; a tap on the map,
 * "使用当前位置" or "使用地图中心" (the keyboard's way) drops a draggable pin, kept clear of the panel
 * (a bottom sheet on phones); the form says where the case will go before it is sent (the placement
 * preview), offers possible duplicates (是同一问题 adds the photos and note to that case; 继续上报
 * keeps the draft), checks and shrinks photos in the browser, and keeps the draft in localStorage
 * until the case is sent: a network failure leaves an error with 重试, never a dead button.
 * Urgency names and photo limits come from the options. */

import { currentPosition } from './position.js';
import { addGroups, addOptions, el, labelled, selectEl } from './dom.js';
import { caseUrl, categoryGroups, failure, getJSON, send } from './api.js';
import { photoRules, preparePhotos, uploadPhotos } from './photos.js';

const DRAFT_KEY = 'gridmap.reportDraft';
const COORDINATE_DIGITS = 6;
const PIN_ZOOM = 17;
const EDGE_PX = 48;  // a pin closer than this to the covered edge is moved into view
const DRAFT_PHOTO_BYTES = 2500000;  // photos larger than this in total stay in memory only

/* The draft in localStorage (null: none). Storage may be full or off: then it lives in memory only. */
function readDraft() {
  try { return JSON.parse(window.localStorage.getItem(DRAFT_KEY) || 'null'); } catch (e) { return null; }
}
function writeDraft(draft) {
  try { window.localStorage.setItem(DRAFT_KEY, JSON.stringify(draft)); return true; } catch (e) { return false; }
}
function dropDraft() {
  try { window.localStorage.removeItem(DRAFT_KEY); } catch (e) { /* nothing stored */ }
}

function asDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve({ name: file.name, type: file.type, data: reader.result });
    reader.onerror = reject;
    reader.readAsDataURL(file);
  });
}
/* Decoded here, not fetched: the page's CSP (connect-src 'self') refuses fetch() of data: URLs. */
function fromDataUrl(photo) {
  return new Promise((resolve) => {
    const binary = atob(String(photo.data).split(',', 2)[1] || '');
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    resolve(new File([bytes], photo.name, { type: photo.type }));
  });
}


function button(text, cls) {
  const b = el('button', text, cls || 'gm-secondary');
  b.type = 'button';
  return b;
}

/* The 上报 control and the report in progress (one at a time). */
export function createReportButton(map, panel, options, onCreated) {
  const state = { placing: false, pin: null, latlng: null, form: null, caseId: null, photos: [] };
  let start = null;
  let bar = null;
  let hint = null;
  const control = L.control({ position: 'topleft' });
  control.onAdd = () => {
    const box = L.DomUtil.create('div', 'gm-report-control');
    start = button('上报', 'gm-report-button');
    bar = el('div', '', 'gm-pick-bar');
    bar.hidden = true;
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', '选择上报位置');
    hint = el('span', '点击地图选位置，或：', 'gm-pick-hint');
    hint.setAttribute('role', 'status');
    bar.appendChild(hint);
    const here = button('使用当前位置');
    const centre = button('使用地图中心');
    const cancel = button('取消');
    here.addEventListener('click', () => useDevice());
    centre.addEventListener('click', () => place(map.getCenter()));
    cancel.addEventListener('click', () => stop());
    bar.append(here, centre, cancel);
    box.append(start, bar);
    L.DomEvent.disableClickPropagation(box);
    start.addEventListener('click', () => {
      if (state.placing) { stop(); return; }
      begin();
      centre.focus();
    });
    return box;
  };
  control.addTo(map);

  /* Placing: marker taps are ignored (cases.js asks for gm-picking), a map tap moves the pin. */
  function begin() {
    state.placing = true;
    map.getContainer().classList.add('gm-picking');
    start.textContent = '点击地图选位置';
    start.setAttribute('aria-pressed', 'true');
    bar.hidden = !!state.form;
  }

  function stop() {
    state.placing = false;
    state.form = null;
    state.caseId = null;
    state.photos = [];
    map.getContainer().classList.remove('gm-picking');
    start.textContent = '上报';
    start.setAttribute('aria-pressed', 'false');
    bar.hidden = true;
    if (state.pin) { map.removeLayer(state.pin); state.pin = null; }
  }

  function useDevice() {
    currentPosition().then((c) => {
      place(L.latLng(c.latitude, c.longitude), '已使用当前位置（定位精度约 ' + Math.round(c.accuracy) + ' 米）');
    }, (err) => {
      if (state.form) { state.form.say(err.message, true); } else { hint.textContent = err.message; hint.classList.add('gm-form-error'); }
    });
  }

  /* Keep the pin in the part of the map the panel does not cover (the bottom sheet on phones). */
  function keepClear(latlng) {
    const aside = document.getElementById('gm-panel');
    const size = map.getSize();
    let width = size.x;
    let height = size.y;
    if (aside && !aside.hidden) {
      const m = map.getContainer().getBoundingClientRect();
      const p = aside.getBoundingClientRect();
      if (p.width >= m.width * 0.9) { height = Math.max(EDGE_PX * 2, p.top - m.top); } else { width = Math.max(EDGE_PX * 2, p.left - m.left); }
    }
    const at = map.latLngToContainerPoint(latlng);
    const dx = at.x < EDGE_PX || at.x > width - EDGE_PX ? at.x - width / 2 : 0;
    const dy = at.y < EDGE_PX || at.y > height - EDGE_PX ? at.y - height / 2 : 0;
    if (dx || dy) { map.panBy([dx, dy], { animate: false }); }
  }

  function pinAt(latlng) {
    if (!state.pin) {
      state.pin = L.marker(latlng, {
        draggable: true, autoPan: true, keyboard: false, zIndexOffset: 1000, title: '上报位置（可拖动）',
        icon: L.divIcon({ className: 'gm-pin', iconSize: [28, 40], iconAnchor: [14, 40] })
      }).addTo(map);
      state.pin.on('dragend', () => moved(state.pin.getLatLng()));
    } else {
      state.pin.setLatLng(latlng);
    }
  }

  function moved(latlng, note) {
    state.latlng = latlng;
    if (state.form) { state.form.moved(latlng, note); }
  }

  /* Drop (or move) the pin at `latlng` and open the form if it is not open yet. */
  function place(latlng, note) {
    if (!state.placing) { begin(); }
    bar.hidden = true;
    pinAt(latlng);
    if (!state.form) {
      state.form = reportForm(latlng, readDraft());
      if (!state.form) { stop(); return; }
    }
    moved(latlng, note);
    if (map.getZoom() < PIN_ZOOM - 2) { map.setView(latlng, PIN_ZOOM, { animate: false }); }
    keepClear(latlng);
  }

  map.on('click', (e) => { if (state.placing) { place(e.latlng); } });

  /* The form in the panel; gives {moved, say} or null when there is no panel. */
  function reportForm(latlng, draft) {
    const body = panel.form(() => { if (state.form) { stop(); } });
    if (!body) { return null; }
    body.appendChild(el('h2', '上报问题'));
    const where = el('p', '', 'gm-placement');
    where.setAttribute('aria-live', 'polite');
    const coords = el('div', '', 'gm-tip-code');
    const moveRow = el('div', '', 'gm-form-row');
    const here = button('使用当前位置');
    const centre = button('使用地图中心');
    moveRow.append(here, centre);
    here.addEventListener('click', () => useDevice());
    centre.addEventListener('click', () => place(map.getCenter(), '已移到地图中心'));
    body.append(where, coords, el('p', '拖动图钉、点击地图或用上面的按钮调整位置。', 'gm-tip-code'), moveRow);

    const form = document.createElement('form');
    form.className = 'gm-report-form';
    form.noValidate = true;
    const category = selectEl('category', [['', '请选择问题分类']], '问题分类');
    const urgency = selectEl('urgency', [['', '按分类默认'], ...options.urgencies], '紧急程度');
    const description = document.createElement('textarea');
    description.name = 'description';
    description.maxLength = options.limits.descriptionMax;
    description.placeholder = '位置、情况';
    const photoInput = document.createElement('input');
    photoInput.type = 'file';
    photoInput.name = 'photo';
    photoInput.accept = 'image/jpeg,image/png';
    photoInput.multiple = true;
    const photoNotes = el('div', '', 'gm-tip-code gm-photo-notes');
    photoNotes.setAttribute('aria-live', 'polite');
    const duplicates = el('div', '', 'gm-duplicates');
    duplicates.setAttribute('aria-live', 'polite');
    const error = el('p', '', 'gm-login-error gm-form-error');
    error.setAttribute('role', 'alert');
    const retry = button('重试', 'gm-retry');
    retry.hidden = true;
    const submit = el('button', '提交');
    submit.type = 'submit';
    const discard = button('放弃上报');
    form.append(labelled('问题分类', category), labelled('紧急程度', urgency), labelled('问题描述', description),
                labelled('照片（可选，' + photoRules(options.limits) + '，发送前自动压缩）', photoInput),
                photoNotes, duplicates, error, retry, submit, discard);
    body.appendChild(form);

    function say(text, failed) {
      error.textContent = text || '';
      error.classList.toggle('gm-form-ok', !!text && !failed);
    }

    /* The draft: what is typed, where, and the shrunk photos when they fit in storage (not before a
     * stored draft has been put back into the form, which would overwrite it with blanks). */
    let restored = !draft;
    function save() {
      if (!restored || !state.latlng) { return; }
      const draft = { lat: state.latlng.lat, lng: state.latlng.lng, category: category.value, urgency: urgency.value,
                      description: description.value, savedAt: new Date().toISOString(), photos: [] };
      const bytes = state.photos.reduce((n, f) => n + f.size, 0);
      if (!state.photos.length || bytes > DRAFT_PHOTO_BYTES) { writeDraft(draft); return; }
      Promise.all(state.photos.map(asDataUrl)).then((photos) => {
        if (!writeDraft({ ...draft, photos })) { writeDraft(draft); }
      }, () => writeDraft(draft));
    }
    [category, urgency, description].forEach((c) => c.addEventListener('change', save));
    description.addEventListener('input', save);

    photoInput.addEventListener('change', () => {
      photoNotes.textContent = '正在检查照片…';
      preparePhotos(photoInput.files, options.limits).then((r) => {
        state.photos = r.files;
        photoNotes.textContent = [...r.notes, ...(r.files.length ? ['将上传 ' + r.files.length + ' 张照片'] : [])].join('；');
        say(r.errors.join(' '), true);
        save();
      });
    });

    let lookup = 0;
    function preview(at) {
      const ticket = ++lookup;
      where.textContent = '正在确定上报位置…';
      where.classList.remove('gm-placement-bad');
      const q = new URLSearchParams({ lon: at.lng, lat: at.lat, crs: 'wgs84' });
      getJSON(caseUrl('placement') + '?' + q).then((data) => {
        if (ticket !== lookup) { return; }
        const bad = data.error ? data.error.message : (data.may_report ? null : data.reason);
        where.textContent = data.error ? bad : data.label + (bad ? '。' + bad : '');
        where.title = data.grid ? data.grid.code : '';
        where.classList.toggle('gm-placement-bad', !!bad);
      }).catch(() => {
        if (ticket === lookup) { where.textContent = '暂时无法确定上报位置（网络问题），提交时会再确认。'; }
      });
    }

    let nearTicket = 0;
    function nearby() {
      duplicates.textContent = '';
      if (!category.value || !state.latlng) { return; }
      const ticket = ++nearTicket;
      const q = new URLSearchParams({ lon: state.latlng.lng, lat: state.latlng.lat, category: category.value });
      getJSON(caseUrl('nearby') + '?' + q).then((data) => {
        if (ticket !== nearTicket) { return; }
        const found = data.possible_duplicates || [];
        if (!found.length) { return; }
        duplicates.appendChild(el('strong', '附近已有 ' + found.length + ' 件相似案件，是同一个问题吗？'));
        found.forEach((d) => duplicates.appendChild(duplicateItem(d)));
        const go = button('继续上报（不是同一问题）', 'gm-secondary gm-continue');
        go.addEventListener('click', () => { duplicates.textContent = ''; submit.focus(); });
        duplicates.appendChild(go);
      }).catch(() => { /* the duplicate hint is a help, not a step: the report goes on without it */ });
    }
    category.addEventListener('change', nearby);

    /* One possible duplicate: what it is and how far, 查看, and 是同一问题 (adds to it). */
    function duplicateItem(d) {
      const item = el('div', '', 'gm-duplicate');
      const status = (options.statuses[d.status] || [null, d.status])[1];
      const text = (d.description || '').slice(0, 40);
      const line = el('div', Math.round(d.distance_m) + ' 米 · ' + status + (text ? ' · ' + text : ''));
      line.title = d.id;
      const same = button('是同一问题（补充照片）', 'gm-secondary gm-same');
      same.addEventListener('click', () => addTo(d.id, same));
      const when = d.reported_at ? new Date(d.reported_at).toLocaleDateString('zh-CN') + ' 受理' : '';
      item.append(line, el('div', when, 'gm-tip-code'), same);
      return item;
    }

    /* 是同一问题: the photos and the note go to the existing case instead of a new one. A step that
     * went through is not repeated by 重试. */
    let pending = null;
    function addTo(id, trigger) {
      const note = description.value.trim();
      if (!pending || pending.id !== id) {
        const steps = [];
        if (state.photos.length) { steps.push(() => uploadPhotos(id, state.photos)); }
        if (note) { steps.push(() => send(caseUrl(id, 'actions'), { action: 'note', note: '补充：' + note })); }
        pending = { id, steps, photos: state.photos.length };
      }
      if (!pending.steps.length) { say('请先选择照片或填写描述，再补充到已有案件。', true); pending = null; return; }
      say('正在补充到已有案件…');
      trigger.disabled = true;
      const next = () => {
        if (!pending.steps.length) {
          trigger.disabled = false;
          finish(id, '已补充到已有案件' + (pending.photos ? '（照片已上传）' : ''));
          return;
        }
        pending.steps[0]().then((res) => {
          if (!res.ok) { trigger.disabled = false; failed(res, '补充失败', () => addTo(id, trigger)); return; }
          pending.steps.shift();
          next();
        });
      };
      next();
    }

    function failed(res, fallback, again) {
      say(res.network ? '网络连接失败：内容已保存在本机，网络恢复后点“重试”。' : failure(res, fallback), true);
      retry.hidden = !res.network;
      retry.onclick = () => { retry.hidden = true; again(); };
      if (res.network) { retry.focus(); }
    }

    function finish(id, message) {
      dropDraft();
      onCreated();
      const done = id;
      stop();
      panel.open(done, message);
    }

    function sendPhotos(id) {
      uploadPhotos(id, state.photos).then((up) => {
        submit.disabled = false;
        if (up.ok) { finish(id, '已上报，照片已上传'); return; }
        if (up.network) {
          failed(up, '', () => { submit.disabled = true; sendPhotos(id); });
          say('案件已上报（' + id + '），照片还没有上传：网络恢复后点“重试”。', true);
          return;
        }
        finish(id, '案件已上报，但照片未保存：' + failure(up, '上传失败'));
      });
    }

    function deliver() {
      say('');
      retry.hidden = true;
      if (!category.value) { say('请选择问题分类。', true); category.focus(); return; }
      submit.disabled = true;
      if (state.caseId) { sendPhotos(state.caseId); return; }  // the case exists: only its photos are left
      const payload = { lon: state.latlng.lng, lat: state.latlng.lat, crs: 'wgs84', category: category.value,
                        description: description.value, source: 'grid_worker' };
      if (urgency.value) { payload.urgency = urgency.value; }
      save();
      send('/api/cases', payload).then((res) => {
        submit.disabled = false;
        if (!res.ok) { failed(res, '提交失败', deliver); return; }
        state.caseId = res.data.id;
        onCreated();
        if (!state.photos.length) { finish(res.data.id, '已上报'); return; }
        submit.disabled = true;
        sendPhotos(res.data.id);
      });
    }
    form.addEventListener('submit', (ev) => { ev.preventDefault(); deliver(); });
    discard.addEventListener('click', () => { restored = false; dropDraft(); stop(); panel.close(); });

    categoryGroups().then((groups) => {
      addGroups(category, groups);
      if (draft) {
        category.value = draft.category || '';
        urgency.value = draft.urgency || '';
        description.value = draft.description || '';
        Promise.all((draft.photos || []).map(fromDataUrl)).then((files) => {
          state.photos = files;
          if (files.length) { photoNotes.textContent = '草稿中的 ' + files.length + ' 张照片将一起上传'; }
        }, () => null).then(() => { restored = true; save(); });
        nearby();
      }
    });
    if (draft) { say('已恢复未发送的上报草稿（保存于 ' + new Date(draft.savedAt).toLocaleString('zh-CN', { hour12: false }) + '）'); }

    return {
      moved(at, note) {
        coords.textContent = at.lng.toFixed(COORDINATE_DIGITS) + ', ' + at.lat.toFixed(COORDINATE_DIGITS);
        if (note) { say(note); }
        preview(at);
        nearby();
        save();
      },
      say
    };
  }

  /* A draft left by a reload or a lost connection: back where it was, with what was typed. */
  const draft = readDraft();
  if (draft && Number.isFinite(draft.lat) && Number.isFinite(draft.lng)) {
    map.setView([draft.lat, draft.lng], Math.max(map.getZoom(), PIN_ZOOM), { animate: false });
    place(L.latLng(draft.lat, draft.lng));
  }
}
