// The dashboard: polls the scheduler's read API every few seconds (well under the notes' 60 s)
// and draws queues, last-hour throughput, a job's timeline and a DAG as SVG. No build step.

const REFRESH_MS = 3000;
const SVG = 'http://www.w3.org/2000/svg';
const state = { queue: null, jobId: null, flowId: null };

async function getJson(url) {
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function cell(row, value) {
  const td = document.createElement('td');
  td.textContent = String(value);
  row.append(td);
}

function renderQueues(queues) {
  const body = document.querySelector('#queues tbody');
  body.replaceChildren();
  for (const queue of queues) {
    const row = document.createElement('tr');
    row.dataset.queue = queue.queue;
    if (queue.queue === state.queue) row.classList.add('selected');
    const c = queue.counts;
    for (const value of [
      queue.queue,
      queue.depth,
      c.running,
      c.waiting,
      c.failed,
      c.dead,
      c.succeeded,
      queue.paused ? 'yes' : 'no',
    ])
      cell(row, value);
    row.addEventListener('click', () => {
      state.queue = queue.queue;
      refresh();
    });
    body.append(row);
  }
}

function renderThroughput(stats) {
  const svg = document.getElementById('throughput');
  document.getElementById('throughput-queue').textContent = stats.queue;
  svg.replaceChildren();
  const width = 720;
  const height = 120;
  const nowMs = Date.now();
  const perMinute = new Map();
  for (const point of stats.throughput) {
    const minute = Math.floor((nowMs - Date.parse(point.minute)) / 60000);
    if (minute >= 0 && minute < 60) perMinute.set(minute, (perMinute.get(minute) ?? 0) + point.jobs);
  }
  const max = Math.max(1, ...perMinute.values());
  const barWidth = width / 60;
  for (const [minute, jobs] of perMinute) {
    const barHeight = Math.max(1, (jobs / max) * height);
    const bar = svgElement('rect', {
      x: width - (minute + 1) * barWidth,
      y: height - barHeight,
      width: barWidth - 1,
      height: barHeight,
      class: 'state-succeeded bar',
    });
    bar.append(svgElement('title', {}, `${jobs} jobs ${minute} min ago`));
    svg.append(bar);
  }
  svg.append(svgElement('text', { x: 0, y: height + 15 }, '60 min ago'));
  svg.append(svgElement('text', { x: width - 30, y: height + 15 }, 'now'));
  svg.append(svgElement('text', { x: 4, y: 12 }, `max ${max}/min`));
}

function renderJob(detail) {
  const target = document.getElementById('job');
  const job = detail.job;
  const heading = document.createElement('p');
  heading.textContent = `job ${job.id} on ${job.queue}: ${job.state}, attempt ${job.attempts} of ${job.maxAttempts}`;
  const list = document.createElement('ol');
  list.className = 'timeline';
  for (const event of detail.history) {
    const item = document.createElement('li');
    const error = event.error ? ` (${event.error.message})` : '';
    item.textContent = `${event.at} ${event.from ?? 'submitted'} → ${event.to}, attempt ${event.attempt}${event.worker ? ` by ${event.worker}` : ''}${error}`;
    list.append(item);
  }
  target.replaceChildren(heading, list);
}

/** Layers by longest path from a root, so every edge points down; nodes spread across each layer. */
function layout(graph) {
  const parents = new Map(graph.nodes.map((node) => [node.id, []]));
  for (const edge of graph.edges) parents.get(edge.to)?.push(edge.from);
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const value = Math.max(-1, ...(parents.get(id) ?? []).map((parent) => depthOf(parent, seen))) + 1;
    depth.set(id, value);
    return value;
  };
  const layers = [];
  for (const node of graph.nodes) {
    const level = depthOf(node.id);
    if (!layers[level]) layers[level] = [];
    layers[level].push(node);
  }
  const position = new Map();
  layers.forEach((layer, level) => {
    layer.forEach((node, index) => {
      position.set(node.id, { x: ((index + 1) * 720) / (layer.length + 1), y: 30 + level * 70 });
    });
  });
  return { position, height: 60 + (layers.length - 1) * 70 };
}

function renderDag(graph) {
  const svg = document.getElementById('dag');
  svg.replaceChildren();
  const { position, height } = layout(graph);
  svg.setAttribute('height', String(height));
  const defs = svgElement('defs', {});
  const marker = svgElement('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 10,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: 'auto',
  });
  marker.append(svgElement('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#6b7385' }));
  defs.append(marker);
  svg.append(defs);
  for (const edge of graph.edges) {
    const from = position.get(edge.from);
    const to = position.get(edge.to);
    if (!from || !to) continue;
    svg.append(
      svgElement('line', {
        x1: from.x,
        y1: from.y + 14,
        x2: to.x,
        y2: to.y - 14,
        stroke: '#6b7385',
        'marker-end': 'url(#arrow)',
        class: 'edge',
        'stroke-dasharray': edge.onFailure === 'continue' ? '4 3' : '',
      }),
    );
  }
  for (const node of graph.nodes) {
    const { x, y } = position.get(node.id);
    const group = svgElement('g', { class: 'node', 'data-state': node.state });
    group.append(
      svgElement('rect', {
        x: x - 55,
        y: y - 14,
        width: 110,
        height: 28,
        rx: 6,
        class: `state-${node.state}`,
      }),
    );
    group.append(
      svgElement(
        'text',
        { x, y: y + 4, 'text-anchor': 'middle', fill: '#fff' },
        `${node.ref ?? node.id}: ${node.state}`,
      ),
    );
    svg.append(group);
  }
}

async function refresh() {
  try {
    const { queues } = await getJson('/v1/queues');
    state.queue ??= queues[0]?.queue ?? null;
    renderQueues(queues);
    if (state.queue) renderThroughput(await getJson(`/v1/queues/${encodeURIComponent(state.queue)}/stats`));
    if (state.jobId) renderJob(await getJson(`/v1/jobs/${state.jobId}`));
    if (state.flowId) renderDag(await getJson(`/v1/flows/${state.flowId}`));
    document.getElementById('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    document.getElementById('updated').textContent = `refresh failed: ${error.message}`;
  }
}

function digitsFrom(id) {
  const value = document.getElementById(id).value.trim();
  return /^[0-9]{1,19}$/.test(value) ? value : null;
}

document.getElementById('job-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.jobId = digitsFrom('job-id');
  refresh();
});
document.getElementById('flow-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.flowId = digitsFrom('flow-id');
  refresh();
});

const params = new URLSearchParams(location.search);
state.jobId = params.get('job');
state.flowId = params.get('flow');
refresh();
setInterval(refresh, REFRESH_MS);
