import type { ServiceStatus } from './health.js';

/** The console page: plain server-rendered HTML, no scripts beyond a refresh. */

const STATE_LABEL: Record<ServiceStatus['state'], string> = {
  ready: 'ready',
  'not-ready': 'not ready',
  down: 'down',
  'failed-to-start': 'failed to start',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function renderPage(statuses: ServiceStatus[], generatedAt: Date): string {
  const rows = statuses
    .map((service) => {
      const name = escapeHtml(service.name);
      const url = escapeHtml(service.url);
      const detail = service.detail ? `<div class="detail">${escapeHtml(service.detail)}</div>` : '';
      const latency =
        service.latencyMs === undefined ? '' : ` <span class="latency">${service.latencyMs} ms</span>`;
      return `<tr class="${service.state}">
  <td><a href="${url}/docs">${name}</a></td>
  <td><code>${url}</code></td>
  <td><span class="state">${STATE_LABEL[service.state]}</span>${latency}${detail}</td>
  <td><a href="${url}/docs">API docs</a> · <a href="${url}/metrics">metrics</a> · <a href="${url}/readyz">readyz</a></td>
</tr>`;
    })
    .join('\n');
  const empty =
    statuses.length === 0
      ? '<tr><td colspan="4">No services are configured (CONSOLE_SERVICES).</td></tr>'
      : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<title>sysdesign console</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; color: #1d1d1f; }
  h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
  p.lead { color: #555; margin-top: 0; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 0.5rem 0.75rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
  .state { font-weight: 600; padding: 0.1rem 0.5rem; border-radius: 0.75rem; }
  tr.ready .state { background: #e3f6e8; color: #1a7f37; }
  tr.not-ready .state { background: #fff4d6; color: #8a6100; }
  tr.down .state, tr.failed-to-start .state { background: #fde7e9; color: #b42318; }
  .detail { color: #666; font-size: 0.85rem; }
  .latency { color: #888; font-size: 0.85rem; }
  footer { color: #888; font-size: 0.8rem; margin-top: 1rem; }
</style>
</head>
<body>
<h1>sysdesign</h1>
<p class="lead">Runnable reference implementations of classic distributed-system designs. Each service below has its API docs at <code>/docs</code>.</p>
<table>
<thead><tr><th>service</th><th>address</th><th>health</th><th>links</th></tr></thead>
<tbody>
${rows}${empty}
</tbody>
</table>
<footer>Checked ${generatedAt.toISOString()}; this page refreshes every 5 s. JSON: <a href="/v1/services">/v1/services</a></footer>
</body>
</html>`;
}
