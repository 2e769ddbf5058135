// Hand-off latencies from the store's attempt timestamps.
//   sqlite3 -csv costflow.db "SELECT task_id, spawn_us, exit_us ..." |
//     node handoff.mjs fan|chain N PARALLELISM
// A task can start once its upstreams have exited AND a parallelism slot
// is free. Its hand-off latency is spawn_us minus that moment:
//   ready = max(max over upstreams of exit_us, slot free time),
// slots being handed out first come, first served (the k-th start that
// waited for a slot gets the k-th child exit that freed one). In the chain
// no task ever waits for a slot, so this is exactly
// spawn(downstream) - exit(upstream). Prints one JSON line.
import { readFileSync } from 'node:fs';

const [shape, nStr, parStr] = process.argv.slice(2);
const n = Number(nStr), par = Number(parStr);
const rows = readFileSync(0, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
  const [id, s, e] = l.split(',');
  return { id, spawn: Number(s), exit: Number(e) };
});
const by = new Map(rows.map((r) => [r.id, r]));
function upstreams(id) {
  if (shape === 'fan') {
    if (id === 'src') return [];
    if (id === 'sink') return Array.from({ length: n - 2 }, (_, i) => 't' + (i + 1));
    return ['src'];
  }
  const k = Number(id.slice(1));
  return k === 1 ? [] : ['t' + (k - 1)];
}
// events in time order: exits free a slot, spawns take one
const ev = [];
for (const r of rows) { ev.push({ t: r.spawn, kind: 1, r }); ev.push({ t: r.exit, kind: 0, r }); }
ev.sort((a, b) => a.t - b.t || a.kind - b.kind);
const free = Array(par).fill(-Infinity);   // FIFO of slot-free times
let head = 0;
const lat = [];
for (const e of ev) {
  if (e.kind === 0) { free.push(e.t); continue; }
  const slot = free[head++];
  const ups = upstreams(e.r.id);
  if (ups.length === 0) continue;          // a root: nothing handed off
  let ready = slot;
  for (const u of ups) { const x = by.get(u); if (x && x.exit > ready) ready = x.exit; }
  lat.push((e.r.spawn - ready) / 1000);
}
lat.sort((a, b) => a - b);
const pct = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p / 100 * lat.length) - 1)] : null;
console.log(JSON.stringify({ tasks: rows.length, edges: lat.length,
  p50_ms: +pct(50).toFixed(3), p99_ms: +pct(99).toFixed(3), max_ms: +pct(100).toFixed(3) }));
