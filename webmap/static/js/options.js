/* The page's options JSON, filled by the server (webmap/page_options.py): every label, limit and
 * vocabulary the modules show — statuses, levels, actions, the check-in radius, the photo limit.
 * It sits in <script type="application/json" id="gm-options">, so no inline script is needed. */

export function readOptions(id = 'gm-options') {
  const node = document.getElementById(id);
  if (!node) { throw new Error('页面缺少选项数据（#' + id + '）'); }
  return JSON.parse(node.textContent);
}
