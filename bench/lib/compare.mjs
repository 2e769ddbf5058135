// Exact comparison of a transform result with the expected answer.
//   node compare.mjs EXPECTED.csv GOT.csv
// Both: usage_date,account,product,cost,rows (header first, RFC 4180
// quotes allowed). Rows with the same key are summed first (costflow's gold
// splits a group by category and region). Costs are parsed as decimal text
// into BigInt units of 10^-18: equal means equal to the last digit.
// Prints one JSON line; exit 0 only when every group matches.
import { readFileSync } from 'node:fs';

function parseCsv(text) {
  const rows = [];
  let row = [], field = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') { if (text[i + 1] === '"') { field += '"'; i++; } else q = false; }
      else field += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const SCALE = 18;
function dec(s) {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(s.trim());
  if (!m || (m[2] === '' && !m[3])) throw new Error(`not an exact decimal: '${s}'`);
  const frac = (m[3] || '');
  if (frac.replace(/0+$/, '').length > SCALE) throw new Error(`more than ${SCALE} digits: '${s}'`);
  const v = BigInt((m[2] || '0') + frac.padEnd(SCALE, '0').slice(0, SCALE));
  return m[1] ? -v : v;
}

function load(path) {
  const rows = parseCsv(readFileSync(path, 'utf8'));
  const map = new Map();
  for (const r of rows.slice(1)) {
    if (r.length === 1 && r[0] === '') continue;
    if (r.length !== 5) throw new Error(`${path}: bad row ${JSON.stringify(r)}`);
    const key = r.slice(0, 3).join('\u0001');
    const cur = map.get(key) || [0n, 0n];
    cur[0] += dec(r[3]);
    cur[1] += BigInt(r[4]);
    map.set(key, cur);
  }
  return map;
}

let res;
try {
  const want = load(process.argv[2]), got = load(process.argv[3]);
  let bad = 0, first = null;
  for (const [k, w] of want) {
    const g = got.get(k);
    if (!g || g[0] !== w[0] || g[1] !== w[1]) {
      bad++;
      first ??= { key: k.split('\u0001'), want: w.map(String), got: g ? g.map(String) : null };
    }
  }
  for (const k of got.keys()) if (!want.has(k)) { bad++; first ??= { key: k.split('\u0001'), unexpected: true }; }
  res = { ok: bad === 0, groups: want.size, mismatches: bad, first };
} catch (e) {
  res = { ok: false, error: String(e.message || e) };
}
console.log(JSON.stringify(res));
process.exit(res.ok ? 0 : 1);
