// Turns bench/run's raw records into the table (stdout) and JSON.
//   node report.mjs RAW.jsonl OUT.json MODE RUNS
// Each figure: median of its runs, with min and max. A run whose output
// was wrong or which failed is recorded as null and counted as invalid.
import { readFileSync, writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import os from 'node:os';

const [rawPath, outPath, mode, runs, runsBig] = process.argv.slice(2);
const recs = readFileSync(rawPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const groups = new Map();
for (const r of recs) {
  const k = `${r.section}\u0001${r.case}\u0001${r.metric}`;
  if (!groups.has(k)) groups.set(k, { section: r.section, case: r.case, metric: r.metric, unit: r.unit, better: r.better, values: [], invalid: 0 });
  const g = groups.get(k);
  if (r.value === null || Number.isNaN(r.value)) g.invalid++; else g.values.push(r.value);
}
const median = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const rows = [];
for (const g of groups.values()) {
  const v = g.values;
  rows.push({ section: g.section, case: g.case, metric: g.metric, unit: g.unit, better: g.better,
    median: v.length ? median(v) : null, min: v.length ? Math.min(...v) : null,
    max: v.length ? Math.max(...v) : null, runs: v.length, invalid: g.invalid });
}
// ratios: costflow against each transform peer (medians)
const get = (s, c, m) => rows.find((r) => r.section === s && r.case === c && r.metric === m);
const ratios = [];
for (const c of [...new Set(rows.filter((r) => r.section === 'transform').map((r) => r.case))]) {
  const cw = get('transform', c, 'costflow wall'), cm = get('transform', c, 'costflow peak RSS');
  for (const peer of ['duckdb-t1', 'duckdb-t2', 'sqlite3']) {
    const pw = get('transform', c, `${peer} wall`), pm = get('transform', c, `${peer} peak RSS`);
    if (!cw?.median || !pw?.median) continue;
    ratios.push({ case: c, peer, speedup: +(pw.median / cw.median).toFixed(2),
      memory_fraction: cm?.median && pm?.median ? +(cm.median / pm.median).toFixed(2) : null });
  }
}
const fmt = (x) => x === null || x === undefined ? '—' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
const table = [['section', 'case', 'metric', 'median', 'min', 'max', 'unit', 'runs']];
for (const r of rows) table.push([r.section, r.case, r.metric, fmt(r.median), fmt(r.min), fmt(r.max), r.unit,
  r.invalid ? `${r.runs} (+${r.invalid} invalid)` : String(r.runs)]);
const w = table[0].map((_, i) => Math.max(...table.map((t) => t[i].length)));
const line = (t) => t.map((x, i) => (i >= 3 && i <= 5 ? x.padStart(w[i]) : x.padEnd(w[i]))).join('  ').trimEnd();
let text = line(table[0]) + '\n' + w.map((n) => '-'.repeat(n)).join('  ') + '\n';
let prev = null;
for (const t of table.slice(1)) { if (prev && prev !== t[0]) text += '\n'; prev = t[0]; text += line(t) + '\n'; }
if (ratios.length) {
  text += '\ncostflow vs peers (medians): speedup = peer time / costflow time (target >= 2 vs DuckDB);\n' +
          'memory = costflow peak RSS / peer peak RSS (target <= 0.25 vs DuckDB)\n';
  for (const r of ratios) text += `  ${r.case.padEnd(22)} vs ${r.peer.padEnd(10)} speedup ${String(r.speedup).padStart(6)}x   memory ${String(r.memory_fraction).padStart(6)}x\n`;
}
// the contract floor (src/transform_floor.c) against what the 2x target allows
const floors = [];
for (const c of [...new Set(rows.filter((r) => r.section === 'transform').map((r) => r.case))]) {
  const sum = get('transform', c, 'floor: sum, sha256 x2'), sq = get('transform', c, 'floor: sqlite facts');
  const cw = get('transform', c, 'costflow wall'), d2 = get('transform', c, 'duckdb-t2 wall');
  if (!sum?.median || !sq?.median) continue;
  floors.push({ case: c, floor_1core_s: sum.median, floor_2cores_s: +Math.max(sum.median / 2, sq.median).toFixed(2),
    costflow_s: cw?.median ?? null, target_s: d2?.median ? +(d2.median / 2).toFixed(2) : null });
}
if (floors.length) {
  text += '\ncontract floor (no transform work: read input, write + read silver, sha256 twice, sqlite facts):\n' +
          'on 2 cores at best half the 1-core sum, never less than the single SQLite writer; target = duckdb-t2 / 2\n';
  for (const f of floors) text += `  ${f.case.padEnd(22)} floor ${fmt(f.floor_1core_s)} s on 1 core, ${fmt(f.floor_2cores_s)} s on 2   costflow ${fmt(f.costflow_s)} s   target ${fmt(f.target_s)} s\n`;
}
const sh = (c) => { try { return execSync(c, { encoding: 'utf8' }).trim(); } catch { return null; } };
const machine = {
  nproc: Number(sh('nproc')), cpu: (sh("lscpu | sed -n 's/^Model name: *//p'") || os.cpus()[0]?.model || '').trim(),
  memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: sh('uname -sr'),
  os: sh(". /etc/os-release && echo $PRETTY_NAME"), date: new Date().toISOString(),
  commit: sh('git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null') || sh('git rev-parse --short HEAD'),
};
text = `costflow benchmarks (${mode}; ${runs} runs per figure${mode === 'full' ? `, ${runsBig || runs} for 10,000-task DAGs and 1 GB inputs` : ''}) on ${machine.cpu}, ${machine.nproc} CPUs, ` +
       `${machine.memory_gib} GiB, ${machine.kernel}\n\n` + text;
process.stdout.write(text);
writeFileSync(outPath, JSON.stringify({ mode, runs: Number(runs), runs_big: Number(runsBig || runs), machine, figures: rows, ratios, floors, table: text }, null, 2) + '\n');
