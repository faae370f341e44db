/* Talking to the server: JSON reads, POSTs with the CSRF header, the lists a page asks for once. */

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

/* GET a JSON body (whatever the status). */
export function getJSON(url, init) {
  return fetch(url, init).then((r) => r.json());
}

/* GET a JSON body, rejecting on an HTTP error (AbortError when `signal` aborts). */
export function getChecked(url, init) {
  return fetch(url, init).then((r) => {
    if (!r.ok) { throw new Error('HTTP ' + r.status); }
    return r.json();
  });
}

/* What a failed request says when the network, not the server, failed. */
export const NETWORK_FAILURE = '网络连接失败，请检查网络后重试';

/* One POST (JSON, or a FormData as multipart) with the CSRF header; the promise gives {ok, data}
 * and never rejects: a network failure gives {ok: false, network: true}, so no caller is left
 * with a button disabled for ever. */
export function send(url, payload) {
  const init = { method: 'POST', headers: { 'X-CSRFToken': csrfToken() } };
  if (payload instanceof FormData) {
    init.body = payload;
  } else {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  return fetch(url, init)
    .then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, status: r.status, data })))
    .catch(() => ({ ok: false, network: true, data: {} }));
}

/* The server's message for a failed {ok, data}, the network's, or the fallback. */
export function failure(res, fallback) {
  if (res.network) { return NETWORK_FAILURE; }
  return res.data && res.data.error ? res.data.error.message : fallback;
}

/* The category list, fetched once per page for the filters and every report form. */
let categoryList = null;
function categoryRows() {
  if (!categoryList) { categoryList = getJSON('/api/categories').then((data) => data.categories || []); }
  return categoryList;
}

/* Categories as [code, name, code] triples: people read the name, the code is the tooltip. */
export function categories() {
  return categoryRows().then((rows) => rows.map((c) => [c.code, c.name, c.code]));
}

/* Categories grouped by their big class (大类): [[big class name, triples], …] for <optgroup>s. */
export function categoryGroups() {
  return categoryRows().then((rows) => {
    const groups = new Map();
    rows.forEach((c) => {
      const name = c.major_name || c.major_code || '其他';
      if (!groups.has(name)) { groups.set(name, []); }
      groups.get(name).push([c.code, c.name, c.code]);
    });
    return Array.from(groups.entries());
  });
}

/* The department list as [code, name, code] triples (the code is the tooltip). */
export function departments() {
  return getJSON('/api/departments')
    .then((data) => (data.departments || []).map((d) => [d.code, d.name, d.code]));
}

/* The case API's address for one case, and for one of its parts (actions, events, photos). */
export function caseUrl(id, part) {
  return '/api/cases/' + encodeURIComponent(id) + (part ? '/' + part : '');
}
