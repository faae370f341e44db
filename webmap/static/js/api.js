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

/* One POST (JSON, or a FormData as multipart) with the CSRF header; the promise gives {ok, data}. */
export function send(url, payload) {
  const init = { method: 'POST', headers: { 'X-CSRFToken': csrfToken() } };
  if (payload instanceof FormData) {
    init.body = payload;
  } else {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  return fetch(url, init).then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, data })));
}

/* The server's message for a failed {ok, data}, or the fallback. */
export function failure(res, fallback) {
  return res.data && res.data.error ? res.data.error.message : fallback;
}

/* The category list as [code, "code name"] pairs, fetched once per page for the filters and
 * every report form. */
let categoryPairs = null;
export function categories() {
  if (!categoryPairs) {
    categoryPairs = getJSON('/api/categories')
      .then((data) => (data.categories || []).map((c) => [c.code, c.code + ' ' + c.name]));
  }
  return categoryPairs;
}

/* The department list as [code, "name（code）"] pairs. */
export function departments() {
  return getJSON('/api/departments')
    .then((data) => (data.departments || []).map((d) => [d.code, d.name + '（' + d.code + '）']));
}

/* The case API's address for one case, and for one of its parts (actions, events, photos). */
export function caseUrl(id, part) {
  return '/api/cases/' + encodeURIComponent(id) + (part ? '/' + part : '');
}
