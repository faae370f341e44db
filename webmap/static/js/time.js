/* Times as people in Beijing read them: local, 24-hour, "—" when there is none. */

export function localTime(iso) {
  return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—';
}
