/* costflow web UI: a small hash-routed single page on the JSON API.
 * Plain JS, no dependencies. All data goes into the DOM as text (never as
 * HTML). Money arrives as exact decimal strings; it is formatted as text
 * and parsed to numbers only to size chart shapes. */
'use strict';

const $app = document.getElementById('app');
const STATES = ['success', 'running', 'queued', 'up_for_retry', 'failed',
  'upstream_failed', 'skipped', 'none'];
const PALETTE = ['#2554c7', '#22a06b', '#f5a524', '#e5484d', '#8b5cf6',
  '#0ea5b7', '#d16ba5', '#64748b', '#84cc16', '#f97316', '#14b8a6',
  '#a16207'];
let timer = null;          /* page refresh timer */
let pageGen = 0;           /* bumps on navigation: stale fetches are dropped */

/* ---- small DOM helpers ---------------------------------------------- */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const SVGNS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {}))
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const kid of kids.flat()) if (kid) el.append(kid);
  return el;
}
function badge(state) {
  return h('span', {class: 'badge s-' + (state || 'none')},
           (state || 'none').replace(/_/g, ' '));
}
function toast(msg, err) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = 'toast' + (err ? ' err' : '');
  t.hidden = false;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { t.hidden = true; }, err ? 6000 : 3500);
}
function fmtTime(iso) {
  if (!iso) return '–';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
}
function fmtDur(sec) {
  if (sec === null || sec === undefined) return '–';
  if (sec < 1) return (sec * 1000).toFixed(0) + ' ms';
  if (sec < 60) return sec.toFixed(1) + ' s';
  const m = Math.floor(sec / 60);
  if (m < 60) return m + 'm ' + Math.round(sec % 60) + 's';
  return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
}
function todayUTC(offsetDays) {
  const d = new Date(Date.now() + (offsetDays || 0) * 86400000);
  return d.toISOString().slice(0, 10);
}

/* Exact decimal string -> "12,345.68": rounds half away from zero on the
 * digits themselves, never through a float. */
function fmtMoney(str, places) {
  places = places === undefined ? 2 : places;
  if (str === null || str === undefined) return '–';
  let neg = str.startsWith('-');
  let [ip, fp = ''] = (neg ? str.slice(1) : str).split('.');
  fp = (fp + '0'.repeat(places + 1)).slice(0, places + 1);
  let digits = (ip + fp.slice(0, places)).split('').map(Number);
  if (Number(fp[places]) >= 5) {
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === 9) { digits[i] = 0; i--; }
    if (i < 0) digits.unshift(1); else digits[i]++;
  }
  const all = digits.join('');
  let ints = all.slice(0, all.length - places) || '0';
  const frac = places ? all.slice(all.length - places) : '';
  ints = ints.replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  if (/^[0,]*$/.test(ints) && /^0*$/.test(frac)) neg = false;
  return (neg ? '-' : '') + ints + (places ? '.' + frac : '');
}
function money(str, cur) {
  return (cur && cur !== 'USD' ? cur + ' ' : '$') + fmtMoney(str);
}
/* A total the API gives per currency ({USD: "1.5", NOK: "30"}): never
 * added across currencies, shown side by side. */
function moneyTotals(totals) {
  const e = Object.entries(totals || {});
  return e.length ? e.map(([cur, v]) => money(v, cur)).join(' + ') : money('0');
}

/* ---- API ------------------------------------------------------------ */
function token() { return localStorage.getItem('costflow.token') || ''; }
function authHeaders(extra) {
  const hd = Object.assign({}, extra || {});
  if (token()) hd.Authorization = 'Bearer ' + token();
  return hd;
}
async function api(path, opts) {
  opts = opts || {};
  const init = {method: opts.method || 'GET',
                headers: authHeaders(opts.headers)};
  if (opts.json !== undefined) {
    init.body = JSON.stringify(opts.json);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const err = new Error((body && body.error) || res.status + ' ' +
                          res.statusText);
    err.status = res.status;
    err.body = body;
    if (res.status === 401) openToken();
    throw err;
  }
  return body;
}
async function act(label, fn) {
  try {
    const r = await fn();
    toast(label);
    return r;
  } catch (e) {
    toast(e.message, true);
    return null;
  }
}

/* ---- token dialog --------------------------------------------------- */
const dlg = document.getElementById('token-dlg');
function openToken() {
  if (dlg.open) return;
  document.getElementById('token-input').value = '';
  dlg.showModal();
}
function paintTokenBtn() {
  const b = document.getElementById('token-btn');
  b.textContent = token() ? 'Token set' : 'Set API token';
  b.classList.toggle('ok', !!token());
}
document.getElementById('token-btn').addEventListener('click', openToken);
dlg.addEventListener('close', () => {
  const v = document.getElementById('token-input').value.trim();
  if (dlg.returnValue === 'clear') localStorage.removeItem('costflow.token');
  else if (dlg.returnValue === 'save' && v)
    localStorage.setItem('costflow.token', v);
  paintTokenBtn();
});

/* ---- router --------------------------------------------------------- */
const routes = [
  [/^#?\/?$/, pageDags],
  [/^#\/dag\/([^/]+)$/, pageDag],
  [/^#\/dag\/([^/]+)\/run\/(\d{4}-\d{2}-\d{2})$/, pageRun],
  [/^#\/upload$/, pageUpload],
  [/^#\/costs$/, pageCosts],
];
function route() {
  clearTimeout(timer);
  pageGen++;
  const hash = location.hash || '#/';
  document.querySelectorAll('[data-nav]').forEach((a) => {
    const n = a.dataset.nav;
    a.classList.toggle('active', n === 'dags'
      ? hash === '#/' || hash.startsWith('#/dag') : hash.startsWith('#/' + n));
  });
  for (const [re, fn] of routes) {
    const m = hash.match(re);
    if (m) {
      fn(...m.slice(1).map(decodeURIComponent));
      return;
    }
  }
  $app.replaceChildren(h('div', {class: 'card empty'}, 'No such page.'));
}
window.addEventListener('hashchange', () => {
  document.getElementById('toast').hidden = true;
  route();
});
/* Runs `load` now and every `ms` while this page is shown. */
function poll(load, ms) {
  const gen = pageGen;
  const tick = async () => {
    if (gen !== pageGen) return;
    try { await load(gen); } catch (e) { showError(e); }
    if (gen === pageGen) timer = setTimeout(tick, typeof ms === 'function'
                                                    ? ms() : ms);
  };
  tick();
}
function showError(e) {
  $app.replaceChildren(h('div', {class: 'card errors'},
    h('h3', null, 'Cannot load this page'), h('pre', null, e.message)));
}

/* ---- DAG list ------------------------------------------------------- */
function pageDags() {
  $app.replaceChildren(h('div', {class: 'empty'}, 'Loading…'));
  poll(async (gen) => {
    const d = await api('/api/dags');
    if (gen !== pageGen) return;
    const rows = d.dags.map((g) => h('tr', {'data-dag': g.dag_id},
      h('td', null, h('a', {href: '#/dag/' + encodeURIComponent(g.dag_id),
                            class: 'dag-link'}, h('b', null, g.dag_id)),
        g.description ? h('div', {class: 'muted small'}, g.description)
                      : null),
      h('td', null, g.schedule ? h('code', null, g.schedule)
                               : h('span', {class: 'muted'}, 'manual'),
        h('div', {class: 'muted small'}, g.timezone)),
      h('td', null, g.paused ? badge('paused')
        : g.next_run ? fmtTime(g.next_run) : h('span', {class: 'muted'}, '–')),
      h('td', null, h('div', {class: 'dots'},
        g.recent_runs.slice().reverse().map((r) => h('a', {
          class: 'dot c-' + r.state, title: r.logical_date + ': ' + r.state,
          href: '#/dag/' + encodeURIComponent(g.dag_id) + '/run/' +
                r.logical_date})),
        g.recent_runs.length ? null
          : h('span', {class: 'muted small'}, 'no runs yet'))),
      h('td', {class: 'num'}, String(g.tasks.length)),
      h('td', {class: 'num'}, h('div', {class: 'row end'},
        h('button', {class: 'btn ghost small', onclick: () =>
          act(g.paused ? 'Unpaused ' + g.dag_id : 'Paused ' + g.dag_id,
              () => api('/api/dags/' + encodeURIComponent(g.dag_id) +
                        (g.paused ? '/unpause' : '/pause'),
                        {method: 'POST'})).then(route)},
          g.paused ? 'Unpause' : 'Pause'),
        h('button', {class: 'btn small', onclick: () =>
          triggerDialog(g.dag_id)}, 'Trigger')))));
    const errs = d.import_errors.length ? h('div', {class: 'card errors'},
      h('h2', null, `Import errors (${d.import_errors.length})`),
      d.import_errors.map((e) => h('div', null, h('code', null, e.file),
                                   h('pre', null, e.error)))) : null;
    $app.replaceChildren(
      h('div', {class: 'page-head'}, h('div', null, h('h1', null, 'DAGs'),
        h('div', {class: 'muted sub'}, `${d.dags.length} DAG` +
          (d.dags.length === 1 ? '' : 's') + ' in the DAGs folder'))),
      h('div', {class: 'stack'},
        h('div', {class: 'card flush'}, h('table', {class: 't'},
          h('thead', null, h('tr', null, h('th', null, 'DAG'),
            h('th', null, 'Schedule'), h('th', null, 'Next run'),
            h('th', null, 'Recent runs'), h('th', {class: 'num'}, 'Tasks'),
            h('th', {class: 'num'}, ''))),
          h('tbody', null, rows.length ? rows : h('tr', null,
            h('td', {colspan: 6, class: 'empty'}, 'No DAG files yet.'))))),
        errs));
  }, 5000);
}

function triggerDialog(dagId) {
  const date = h('input', {type: 'date', value: todayUTC(-1),
                           id: 'trigger-date'});
  const d = h('dialog', null, h('form', {method: 'dialog'},
    h('h3', null, 'Trigger ' + dagId),
    h('p', {class: 'muted'}, 'Creates a manual run for one logical date and ' +
      'starts it now.'),
    h('label', {class: 'field'}, 'Logical date', date),
    h('div', {class: 'row end', style: {marginTop: '16px'}},
      h('button', {class: 'btn ghost', value: 'cancel'}, 'Cancel'),
      h('button', {class: 'btn', value: 'ok', id: 'trigger-go'},
        'Trigger run'))));
  document.body.append(d);
  d.addEventListener('close', async () => {
    d.remove();
    if (d.returnValue !== 'ok') return;
    const r = await act('Run for ' + date.value + ' triggered', () =>
      api('/api/dags/' + encodeURIComponent(dagId) + '/runs',
          {method: 'POST', json: {date: date.value}}));
    if (!r) return;
    const target = '#/dag/' + encodeURIComponent(dagId);
    if (location.hash === target) route();   /* refresh now, poll fast */
    else location.hash = target;
  });
  d.showModal();
}

/* ---- one DAG: grid of runs x tasks ---------------------------------- */
function pageDag(dagId) {
  const enc = encodeURIComponent(dagId);
  let sel = null;          /* {date, task} of the open task panel */
  let active = false;
  let before = [];         /* page cursors: [] = newest page */
  const gridCard = h('div', {class: 'card'}, h('div', {class: 'empty'},
                                               'Loading…'));
  const panel = h('div', {class: 'card', id: 'task-panel'},
    h('div', {class: 'panel-empty'}, 'Click a square to see a task\'s ' +
      'attempts and log.'));
  const plan = h('div');
  const from = h('input', {type: 'date', value: todayUTC(-7)});
  const to = h('input', {type: 'date', value: todayUTC(-1)});
  const reprocess = h('select', null, h('option', {value: 'none'},
    'skip dates that ran'), h('option', {value: 'failed'},
    'rerun failed dates'), h('option', {value: 'all'}, 'rerun every date'));
  async function backfill(dry) {
    const r = await act(dry ? 'Plan ready' : 'Backfill submitted', () =>
      api('/api/dags/' + enc + '/backfill', {method: 'POST', json: {
        from: from.value, to: to.value, reprocess: reprocess.value,
        dry_run: dry}}));
    if (!r) return;
    plan.replaceChildren(h('table', {class: 't', style: {marginTop: '12px'}},
      h('thead', null, h('tr', null, h('th', null, 'Date'),
        h('th', null, 'Current state'), h('th', null, dry ? 'Plan' : 'Action'))),
      h('tbody', null, r.plan.map((p) => h('tr', null,
        h('td', null, p.date), h('td', null, p.state ? badge(p.state) : '–'),
        h('td', null, p.action, p.error ? h('span', {class: 'pos'},
                                            ' – ' + p.error) : null))))));
    if (!dry) loadGrid(pageGen);
  }
  const head = h('div', {class: 'page-head'},
    h('div', null, h('div', {class: 'crumbs'}, h('a', {href: '#/'}, 'DAGs'),
      ' / ' + dagId), h('h1', null, dagId),
      h('div', {class: 'muted sub', id: 'dag-sub'}, '')),
    h('div', {class: 'spacer'}),
    h('div', {class: 'row'},
      h('button', {class: 'btn', id: 'btn-trigger',
                   onclick: () => triggerDialog(dagId)}, 'Trigger run')));
  const bf = h('details', {class: 'card'},
    h('summary', null, h('b', null, 'Backfill a range')),
    h('div', {class: 'row', style: {marginTop: '12px'}},
      h('label', {class: 'field'}, 'From', from),
      h('label', {class: 'field'}, 'To', to),
      h('label', {class: 'field'}, 'Existing runs', reprocess),
      h('div', {class: 'row', style: {alignSelf: 'flex-end'}},
        h('button', {class: 'btn ghost', onclick: () => backfill(true)},
          'Preview'),
        h('button', {class: 'btn', onclick: () => backfill(false)},
          'Run backfill'))), plan);
  $app.replaceChildren(head, h('div', {class: 'split'},
    h('div', {class: 'stack'}, gridCard, bf), panel));

  async function loadGrid(gen) {
    const cur = before.length ? before[before.length - 1] : null;
    const g = await api('/api/dags/' + enc + '/grid?limit=30' +
                        (cur ? '&before=' + cur : ''));
    if (gen !== pageGen) return;
    const runs = g.runs.slice().reverse();   /* oldest left */
    active = runs.some((r) => r.state === 'queued' || r.state === 'running');
    document.getElementById('dag-sub').textContent =
      `${g.tasks.length} task${g.tasks.length === 1 ? '' : 's'} · ` +
      `${g.runs.length} run${g.runs.length === 1 ? '' : 's'} shown` +
      (cur ? ` before ${cur}` : '');
    const maxDur = Math.max(1, ...runs.map((r) => r.duration_s || 0));
    const thead = h('tr', null, h('th', {class: 'task'},
      h('span', {class: 'muted small'}, 'Task \\ run')),
      runs.map((r) => h('th', {class: 'run', title: r.run_id + ': ' +
                               r.state + ' ' + fmtDur(r.duration_s)},
        h('div', {class: 'runlabel'}, r.logical_date.slice(5)),
        h('a', {href: '#/dag/' + enc + '/run/' + r.logical_date},
          h('div', {class: 'runbar c-' + r.state, 'data-run': r.logical_date,
            style: {height: (8 + 40 * (r.duration_s || 0) / maxDur) + 'px'}}
          )))));
    const rows = g.tasks.map((t) => h('tr', null,
      h('th', {class: 'task'}, t.task_id,
        t.plugin ? h('span', {class: 'plugin'}, t.plugin) : null),
      runs.map((r) => {
        const ti = r.tasks[t.task_id];
        const st = ti ? ti.state : 'none';
        const isSel = sel && sel.date === r.logical_date &&
                      sel.task === t.task_id;
        return h('td', {class: 'cell'}, h('div', {
          class: 'sq c-' + st + (isSel ? ' sel' : ''),
          title: `${t.task_id} · ${r.logical_date} · ${st}` +
                 (ti && ti.try_number > 1 ? ` · try ${ti.try_number}` : ''),
          'data-task': t.task_id, 'data-date': r.logical_date,
          'data-state': st,
          onclick: () => { sel = {date: r.logical_date, task: t.task_id};
                           loadGrid(pageGen); loadPanel(); }}));
      })));
    gridCard.replaceChildren(
      h('div', {class: 'row', style: {marginBottom: '12px'}},
        h('h2', {style: {margin: 0}}, 'Grid'),
        g.next_before ? h('button', {class: 'btn ghost small', onclick: () => {
          before.push(g.next_before); loadGrid(pageGen); }}, '‹ Older')
          : null,
        before.length ? h('button', {class: 'btn ghost small', onclick: () => {
          before.pop(); loadGrid(pageGen); }}, 'Newer ›') : null,
        h('div', {class: 'spacer'}),
        h('div', {class: 'legend'}, STATES.map((st) => h('span', null,
          h('i', {class: 'dot c-' + st}), st.replace(/_/g, ' '))))),
      runs.length ? h('div', {class: 'gridwrap'}, h('table', {class: 'grid',
        id: 'grid'}, h('thead', null, thead), h('tbody', null, rows)))
        : h('div', {class: 'empty'}, 'No runs yet: trigger one.'));
    if (sel && active) loadPanel();
  }

  async function loadPanel() {
    if (!sel) return;
    const {date, task} = sel;
    const run = await api('/api/dags/' + enc + '/runs/' + date);
    const ti = run.tasks.find((t) => t.task_id === task);
    const logBox = h('pre', {class: 'log', id: 'log'}, 'Loading log…');
    const rerun = (down) => act('Cleared ' + task + (down ? ' and downstream'
                                                          : ''), () =>
      api('/api/dags/' + enc + '/runs/' + date + '/rerun', {method: 'POST',
          json: {task: task, downstream: down}})).then(() => loadGrid(pageGen));
    panel.replaceChildren(
      h('div', {class: 'row'}, h('h2', {style: {margin: 0}}, task),
        h('div', {class: 'spacer'}), ti ? badge(ti.state) : null),
      h('div', {class: 'muted small', style: {margin: '4px 0 12px'}},
        h('a', {href: '#/dag/' + enc + '/run/' + date}, run.run.run_id)),
      ti ? h('dl', {class: 'kv'},
        h('dt', null, 'Plugin'), h('dd', null, ti.plugin),
        h('dt', null, 'Try'), h('dd', null, `${ti.try_number} of ` +
                                           `${ti.max_tries}`),
        h('dt', null, 'Started'), h('dd', null, fmtTime(ti.start)),
        h('dt', null, 'Duration'), h('dd', null, fmtDur(ti.duration_s)),
        ti.reason ? [h('dt', null, 'Reason'), h('dd', null, ti.reason)] : null)
        : h('div', {class: 'muted'}, 'Not run yet.'),
      h('div', {class: 'row', style: {margin: '14px 0'}},
        h('button', {class: 'btn ghost small', onclick: () => rerun(false)},
          'Rerun task'),
        h('button', {class: 'btn ghost small', onclick: () => rerun(true)},
          'Rerun with downstream')),
      ti && ti.attempts.length ? h('table', {class: 't'},
        h('thead', null, h('tr', null, h('th', null, 'Try'),
          h('th', null, 'State'), h('th', null, 'Duration'),
          h('th', null, ''))),
        h('tbody', null, ti.attempts.map((a) => h('tr', null,
          h('td', null, String(a.try_number)), h('td', null, badge(a.state)),
          h('td', null, fmtDur(a.duration_s)),
          h('td', {class: 'num'}, h('a', {href: '#', class: 'log-link',
            onclick: (ev) => { ev.preventDefault();
                               showLog(a.try_number); }}, 'log'))))))
        : null,
      h('div', {class: 'row', style: {margin: '14px 0 6px'}},
        h('h3', {style: {margin: 0}}, 'Log'), h('div', {class: 'spacer'}),
        h('button', {class: 'btn ghost small', id: 'log-download',
          onclick: () => download(task, date)}, 'Download full log')),
      logBox);
    async function showLog(tryNo) {
      const res = await fetch('/api/dags/' + enc + '/runs/' + date +
        '/tasks/' + encodeURIComponent(task) + '/log?tail=65536' +
        (tryNo ? '&try=' + tryNo : ''), {headers: authHeaders()});
      logBox.textContent = res.ok ? (await res.text()) || '(empty log)'
        : 'No log yet.';
      logBox.scrollTop = logBox.scrollHeight;
    }
    showLog(0);
  }
  async function download(task, date) {
    /* fetch + blob: works with --auth-reads, which a plain link cannot */
    const res = await fetch('/api/dags/' + enc + '/runs/' + date + '/tasks/' +
      encodeURIComponent(task) + '/log?download=1', {headers: authHeaders()});
    if (!res.ok) { toast('No log to download', true); return; }
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', {href: url, download: `${dagId}_${date}_${task}.log`});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
  poll(loadGrid, () => active ? 1000 : 8000);
}

/* ---- one run: Gantt, tasks, data quality ---------------------------- */
function pageRun(dagId, date) {
  const enc = encodeURIComponent(dagId);
  let active = false;
  poll(async (gen) => {
    const [d, dq] = await Promise.all([
      api('/api/dags/' + enc + '/runs/' + date),
      api('/api/dags/' + enc + '/runs/' + date + '/dq')]);
    if (gen !== pageGen) return;
    const run = d.run;
    active = run.state === 'queued' || run.state === 'running';
    const rerun = (body, label) => act(label, () =>
      api('/api/dags/' + enc + '/runs/' + date + '/rerun',
          {method: 'POST', json: body})).then(route);
    $app.replaceChildren(
      h('div', {class: 'page-head'},
        h('div', null, h('div', {class: 'crumbs'}, h('a', {href: '#/'},
          'DAGs'), ' / ', h('a', {href: '#/dag/' + enc}, dagId), ' / ' + date),
          h('h1', null, run.run_id, ' ', badge(run.state)),
          h('div', {class: 'muted sub'}, `${run.kind} run · started ` +
            `${fmtTime(run.start)} · ${fmtDur(run.duration_s)}`)),
        h('div', {class: 'spacer'}),
        h('div', {class: 'row'},
          h('button', {class: 'btn ghost', onclick: () =>
            rerun({failed_only: true}, 'Failed tasks cleared')},
            'Rerun failed'),
          h('button', {class: 'btn', onclick: () =>
            rerun({}, 'Run cleared: running again')}, 'Rerun all'))),
      h('div', {class: 'stack'},
        h('div', {class: 'card'}, h('h2', null, 'Timeline'),
          gantt(d.tasks, run)),
        h('div', {class: 'card flush'}, h('h2', null, 'Task instances'),
          h('table', {class: 't'}, h('thead', null, h('tr', null,
            h('th', null, 'Task'), h('th', null, 'State'),
            h('th', null, 'Try'), h('th', null, 'Start'),
            h('th', {class: 'num'}, 'Duration'), h('th', null, 'Reason'))),
            h('tbody', null, d.tasks.map((t) => h('tr', null,
              h('td', null, h('b', null, t.task_id),
                h('div', {class: 'muted small'}, t.plugin)),
              h('td', null, badge(t.state)),
              h('td', null, `${t.try_number}/${t.max_tries}`),
              h('td', null, fmtTime(t.start)),
              h('td', {class: 'num'}, fmtDur(t.duration_s)),
              h('td', {class: 'muted small'}, t.reason || '')))))),
        h('div', {class: 'card flush'}, h('h2', null, 'Data quality'),
          dq.results.length ? h('table', {class: 't'}, h('thead', null,
            h('tr', null, h('th', null, 'Task'), h('th', null, 'Rule'),
              h('th', null, 'Severity'), h('th', {class: 'num'}, 'Checked'),
              h('th', {class: 'num'}, 'Failed'), h('th', null, 'Result'))),
            h('tbody', null, dq.results.map((r) => h('tr', null,
              h('td', null, r.task_id), h('td', null, h('code', null, r.rule)),
              h('td', null, r.severity),
              h('td', {class: 'num'}, String(r.rows_checked ?? '–')),
              h('td', {class: 'num'}, String(r.rows_failed ?? '–')),
              h('td', null, badge(r.passed ? 'success' : 'failed'))))))
            : h('div', {class: 'empty'}, 'No data-quality results for this ' +
                'run.'))));
  }, () => active ? 1000 : 10000);
}

function gantt(tasks, run) {
  const started = tasks.filter((t) => t.start);
  if (!started.length) return h('div', {class: 'empty'}, 'Nothing ran yet.');
  const t0 = Math.min(...started.map((t) => Date.parse(t.start)));
  const now = Date.now();
  const t1 = Math.max(...started.map((t) => t.end ? Date.parse(t.end) : now),
                      t0 + 1);
  const W = 1000, L = 190, R = 20, rowH = 26, top = 26;
  const H = top + tasks.length * rowH + 10;
  const x = (ms) => L + (W - L - R) * (ms - t0) / (t1 - t0);
  const span = (t1 - t0) / 1000;
  const ticks = [];
  for (let i = 0; i <= 5; i++) {
    const xv = L + (W - L - R) * i / 5;
    ticks.push(s('line', {x1: xv, x2: xv, y1: top - 6, y2: H - 6,
                          class: 'gridline'}),
               s('text', {x: xv, y: 14, 'text-anchor': 'middle'},
                 document.createTextNode('+' + fmtDur(span * i / 5))));
  }
  const bars = tasks.map((t, i) => {
    const y = top + i * rowH;
    const label = s('text', {x: L - 10, y: y + 16, 'text-anchor': 'end'},
                    document.createTextNode(t.task_id));
    if (!t.start) return label;
    const a = x(Date.parse(t.start));
    const b = Math.max(a + 3, x(t.end ? Date.parse(t.end) : now));
    const color = getComputedStyle(document.documentElement)
      .getPropertyValue('--' + ({up_for_retry: 'retry',
        upstream_failed: 'upstream'}[t.state] || t.state)).trim() || '#98a2b3';
    const rect = s('rect', {x: a, y: y + 4, width: b - a, height: rowH - 9,
                            rx: 4, fill: color, class: 'gantt-bar'});
    rect.append(s('title', null, document.createTextNode(
      `${t.task_id}: ${t.state}, ${fmtDur(t.duration_s)}`)));
    return [label, rect];
  });
  return s('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, id: 'gantt',
                   role: 'img', 'aria-label': 'Gantt chart of ' + run.run_id},
           ticks, bars.flat());
}

/* ---- upload --------------------------------------------------------- */
function pageUpload() {
  const file = h('input', {type: 'file', id: 'upload-file'});
  const dir = h('input', {type: 'text', id: 'upload-dir', size: 40,
    placeholder: 'aws/year=2025/month=01/day=15 (optional)'});
  const over = h('input', {type: 'checkbox', id: 'upload-overwrite'});
  const bar = h('div');
  const prog = h('div', {class: 'progress', hidden: true}, bar);
  const result = h('div', {id: 'upload-result'});
  const drop = h('div', {class: 'drop'},
    h('div', {style: {fontSize: '15px', fontWeight: 600}},
      'Drop a billing file here'),
    h('div', {class: 'muted', style: {margin: '6px 0 14px'}},
      'or choose one: AWS CUR, GCP export (csv, csv.gz, parquet)'), file);
  ['dragenter', 'dragover'].forEach((ev) => drop.addEventListener(ev, (e) => {
    e.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((ev) => drop.addEventListener(ev, (e) => {
    e.preventDefault(); drop.classList.remove('over'); }));
  drop.addEventListener('drop', (e) => {
    if (e.dataTransfer.files.length) file.files = e.dataTransfer.files;
  });
  function send() {
    const f = file.files[0];
    if (!f) { toast('Choose a file first', true); return; }
    const q = new URLSearchParams({name: f.name});
    if (dir.value.trim()) q.set('dir', dir.value.trim());
    if (over.checked) q.set('overwrite', '1');
    /* XHR, not fetch: it reports upload progress */
    const x = new XMLHttpRequest();
    x.open('POST', '/api/upload?' + q);
    for (const [k, v] of Object.entries(authHeaders()))
      x.setRequestHeader(k, v);
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    prog.hidden = false;
    x.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.style.width = (100 * e.loaded / e.total) + '%';
    };
    x.onload = () => {
      let b = null;
      try { b = JSON.parse(x.responseText); } catch (e) { b = null; }
      if (x.status === 201 && b) {
        bar.style.width = '100%';
        toast('Uploaded ' + f.name);
        result.prepend(h('div', {class: 'card', style: {marginTop: '16px'}},
          h('div', {class: 'row'}, badge('success'), h('b', null,
            b.relative_path)),
          h('dl', {class: 'kv', style: {marginTop: '10px'}},
            h('dt', null, 'Stored at'), h('dd', null, h('code', null, b.path)),
            h('dt', null, 'Size'), h('dd', null,
              b.size.toLocaleString('en-US') + ' bytes'),
            h('dt', null, 'SHA-256'), h('dd', null, h('code', {class:
              'sha'}, b.sha256)))));
      } else {
        if (x.status === 401) openToken();
        toast((b && b.error) || 'Upload failed: ' + x.status, true);
      }
    };
    x.onerror = () => toast('Upload failed: connection lost', true);
    x.send(f);
  }
  $app.replaceChildren(
    h('div', {class: 'page-head'}, h('div', null, h('h1', null, 'Upload'),
      h('div', {class: 'muted sub'}, 'Files land in the landing folder ' +
        'under a temporary name and appear only when complete, so a ' +
        'file-drop sensor starts its run on whole files.'))),
    h('div', {class: 'card', style: {maxWidth: '760px'}},
      drop,
      h('div', {class: 'row', style: {marginTop: '16px'}},
        h('label', {class: 'field', style: {flex: 1}}, 'Folder inside ' +
          'landing', dir),
        h('label', {class: 'row small muted', style: {alignSelf: 'flex-end',
          gap: '6px'}}, over, 'Replace if it exists'),
        h('button', {class: 'btn', id: 'upload-go', style: {alignSelf:
          'flex-end'}, onclick: send}, 'Upload')),
      h('div', {style: {marginTop: '14px'}}, prog)),
    h('div', {style: {maxWidth: '760px'}}, result));
}

/* ---- costs ---------------------------------------------------------- */
function pageCosts() {
  const by = h('select', {id: 'cost-by'}, ['provider', 'service', 'account']
    .map((v) => h('option', {value: v}, 'by ' + v)));
  const from = h('input', {type: 'date', id: 'cost-from'});
  const to = h('input', {type: 'date', id: 'cost-to'});
  const body = h('div', {class: 'stack'}, h('div', {class: 'empty'},
                                            'Loading…'));
  const params = () => {
    const q = new URLSearchParams();
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    return q;
  };
  $app.replaceChildren(
    h('div', {class: 'page-head'}, h('div', null, h('h1', null, 'Costs'),
      h('div', {class: 'muted sub', id: 'cost-sub'}, 'From the gold ' +
        'warehouse')), h('div', {class: 'spacer'}),
      h('div', {class: 'row'}, h('label', {class: 'field'}, 'From', from),
        h('label', {class: 'field'}, 'To', to),
        h('label', {class: 'field'}, 'Group', by),
        h('button', {class: 'btn', style: {alignSelf: 'flex-end'},
                     onclick: load}, 'Apply'))),
    body);
  by.addEventListener('change', load);
  async function load() {
    const gen = pageGen;
    let sum;
    try {
      sum = await api('/api/costs/summary?' + params());
    } catch (e) {
      if (gen !== pageGen) return;
      body.replaceChildren(h('div', {class: 'card empty', id: 'cost-missing'},
        h('h3', null, 'No cost data yet'), h('div', null, e.message)));
      return;
    }
    if (!from.value) from.value = sum.from;
    if (!to.value) to.value = sum.to;
    const q = params();
    q.set('by', by.value);
    const [daily, top, an, zo] = await Promise.all([
      api('/api/costs/daily?' + q + '&limit=8'),
      api('/api/costs/daily?' + params() + '&by=service&limit=10'),
      api('/api/costs/anomalies?' + params()),
      api('/api/costs/zombies?' + params())]);
    if (gen !== pageGen) return;
    const zombieTotal = zo.zombies.map((z) => z.cost);
    document.getElementById('cost-sub').textContent =
      `${sum.from} to ${sum.to} · data from ${sum.first_date} to ` +
      `${sum.last_date}`;
    const days = Math.round((Date.parse(sum.to) - Date.parse(sum.from)) /
                            86400000) + 1;
    body.replaceChildren(
      h('div', {class: 'kpis'},
        kpi('Total spend', moneyTotals(sum.totals), `${days} days, all providers`,
            'kpi-total'),
        kpi('Providers', String(sum.series.length),
            sum.series.map((x) => x.provider).join(', ')),
        kpi('Anomalies', String(sum.anomalies ?? 0),
            'spend spikes over the trailing average'),
        kpi('Zombies', String(sum.zombies ?? 0),
            zombieTotal.length ? 'idle resources still billing' : 'none')),
      h('div', {class: 'card'}, h('div', {class: 'row'},
        h('h2', {style: {margin: 0}}, 'Daily spend ' + by.selectedOptions[0]
          .textContent), h('div', {class: 'spacer'}),
        h('span', {class: 'muted small'}, daily.other_series
          ? `+ ${daily.other_series} smaller series: ` +
            moneyTotals(daily.other_totals) : '')),
        lineChart(daily, by.value)),
      h('div', {class: 'grid2'},
        h('div', {class: 'card'}, h('h2', null, 'Top services'),
          topBars(top)),
        h('div', {class: 'card'}, h('h2', null, 'Spend by provider'),
          h('table', {class: 't'}, h('tbody', null, sum.series.map((x, i) =>
            h('tr', null, h('td', null, h('span', {class: 'row', style:
              {gap: '8px'}}, h('i', {class: 'dot', style: {background:
              PALETTE[i % PALETTE.length]}}), x.provider)),
              h('td', {class: 'num mono'}, money(x.total, x.currency)))))))),
      h('div', {class: 'card flush', id: 'anomalies'},
        h('h2', null, 'Anomalies'), an.anomalies.length ? h('table',
        {class: 't'}, h('thead', null, h('tr', null, h('th', null, 'Date'),
          h('th', null, 'Provider'), h('th', null, 'Account'),
          h('th', null, 'Service'), h('th', {class: 'num'}, 'Cost'),
          h('th', {class: 'num'}, 'Trailing avg'),
          h('th', {class: 'num'}, 'Above avg'))),
        h('tbody', null, an.anomalies.map((a) => h('tr', null,
          h('td', null, a.usage_date, a.provisional
            ? h('span', {class: 'muted small'}, ' (provisional)') : null),
          h('td', null, a.provider), h('td', {class: 'mono'}, a.account),
          h('td', null, a.service),
          h('td', {class: 'num mono'}, money(a.cost, a.currency)),
          h('td', {class: 'num mono'}, money(a.trailing_avg, a.currency)),
          h('td', {class: 'num pos'}, a.pct_above ? '+' + fmtMoney(
            a.pct_above, 1) + '%' : '–')))))
        : h('div', {class: 'empty'}, 'No anomalies in this range.')),
      h('div', {class: 'card flush', id: 'zombies'},
        h('h2', null, 'Zombie resources'), zo.zombies.length ? h('table',
        {class: 't'}, h('thead', null, h('tr', null, h('th', null, 'Date'),
          h('th', null, 'Provider'), h('th', null, 'Account'),
          h('th', null, 'Resource'), h('th', null, 'Service'),
          h('th', {class: 'num'}, 'Usage'),
          h('th', {class: 'num'}, 'Cost / day'))),
        h('tbody', null, zo.zombies.map((z) => h('tr', null,
          h('td', null, z.usage_date), h('td', null, z.provider),
          h('td', {class: 'mono'}, z.account),
          h('td', {class: 'mono'}, z.resource_id), h('td', null, z.service),
          h('td', {class: 'num mono'}, z.usage_quantity),
          h('td', {class: 'num mono pos'}, money(z.cost))))))
        : h('div', {class: 'empty'}, 'No zombie resources in this range.')));
  }
  load();
}

function kpi(label, value, hint, id) {
  return h('div', {class: 'card kpi', id: id || null},
    h('div', {class: 'label'}, label), h('div', {class: 'value'}, value),
    h('div', {class: 'hint'}, hint));
}

let tipEl = null;
function tip(ev, text) {
  if (!tipEl) { tipEl = h('div', {class: 'tip'}); document.body.append(tipEl); }
  tipEl.textContent = text;
  tipEl.style.left = (ev.clientX + 12) + 'px';
  tipEl.style.top = (ev.clientY + 12) + 'px';
  tipEl.hidden = false;
}
function untip() { if (tipEl) tipEl.hidden = true; }

/* Daily spend: one line per series over every date of the range. */
function lineChart(d, by) {
  if (!d.series.length)
    return h('div', {class: 'empty'}, 'No spend in this range.');
  const dates = [];
  for (let t = Date.parse(d.from); t <= Date.parse(d.to); t += 86400000)
    dates.push(new Date(t).toISOString().slice(0, 10));
  const W = 1000, H = 300, L = 64, R = 16, T = 12, B = 28;
  const val = (str) => Number(str);    /* drawing only */
  let max = 0;
  for (const sr of d.series)
    for (const p of sr.points) max = Math.max(max, val(p.cost));
  max = niceMax(max);
  const x = (i) => L + (W - L - R) * (dates.length > 1
    ? i / (dates.length - 1) : 0.5);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const v = max * i / 4;
    grid.push(s('line', {x1: L, x2: W - R, y1: y(v), y2: y(v),
                         class: 'gridline'}),
              s('text', {x: L - 8, y: y(v) + 4, 'text-anchor': 'end'},
                document.createTextNode('$' + short(v))));
  }
  const step = Math.max(1, Math.ceil(dates.length / 10));
  const xl = dates.map((dt, i) => i % step ? null : s('text', {x: x(i),
    y: H - 8, 'text-anchor': 'middle'}, document.createTextNode(
      dt.slice(5))));
  const idx = Object.fromEntries(dates.map((dt, i) => [dt, i]));
  const lines = d.series.map((sr, k) => {
    const color = PALETTE[k % PALETTE.length];
    const pts = sr.points.filter((p) => p.date in idx);
    const path = pts.map((p, j) => (j ? 'L' : 'M') + x(idx[p.date]).toFixed(1)
      + ' ' + y(val(p.cost)).toFixed(1)).join(' ');
    const label = sr.key || sr.provider;
    return [s('path', {d: path, fill: 'none', stroke: color,
                       'stroke-width': 2.2, 'stroke-linejoin': 'round',
                       class: 'series'}),
      pts.map((p) => s('circle', {cx: x(idx[p.date]), cy: y(val(p.cost)),
        r: 3.2, fill: color, stroke: '#fff', 'stroke-width': 1,
        onmousemove: (ev) => tip(ev, `${label} · ${p.date} · ` +
                                     money(p.cost, sr.currency)),
        onmouseleave: untip}))];
  });
  return h('div', null,
    s('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, id: 'spend-chart',
              role: 'img', 'aria-label': 'Daily spend ' + by},
      grid, s('line', {x1: L, x2: W - R, y1: H - B, y2: H - B,
                       class: 'axis'}), xl, lines.flat(2)),
    h('div', {class: 'chart-legend'}, d.series.map((sr, k) => h('span', null,
      h('i', {style: {background: PALETTE[k % PALETTE.length]}}),
      (sr.key ? sr.key + ' (' + sr.provider + ')' : sr.provider) + ' · ' +
      money(sr.total, sr.currency)))));
}

function topBars(d) {
  if (!d.series.length) return h('div', {class: 'empty'}, 'No spend.');
  /* each bar against the largest of its own currency: amounts in two
   * currencies are not on one scale */
  const max = {};
  for (const x of d.series)
    max[x.currency] = Math.max(max[x.currency] || 0, Number(x.total));
  return h('div', {class: 'bars', id: 'top-services'},
    d.series.map((x) => h('div', {class: 'bar'},
      h('div', {title: x.provider}, x.key, h('span', {class: 'muted small'},
        ' · ' + x.provider)),
      h('div', {class: 'track'}, h('div', {class: 'fill', style: {width:
        (100 * Number(x.total) / (max[x.currency] || 1)).toFixed(1) + '%'}})),
      h('div', {class: 'num mono'}, money(x.total, x.currency)))));
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
function short(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
  return String(Math.round(v));
}

paintTokenBtn();
route();
