// Sensor reaction: rename of a file into the landing folder -> spawn of
// the first task of the run the sensor created for its date.
//   sqlite3 -csv costflow.db "SELECT logical_date, min(spawn_us) ..." |
//     node sensor.mjs drops.csv          (drops.csv: date,rename_us)
import { readFileSync } from 'node:fs';
const spawn = new Map(readFileSync(0, 'utf8').trim().split('\n').filter(Boolean)
  .map((l) => l.split(',')).map(([d, s]) => [d, Number(s)]));
const lat = [];
for (const l of readFileSync(process.argv[2], 'utf8').trim().split('\n')) {
  const [d, us] = l.split(',');
  if (spawn.has(d)) lat.push((spawn.get(d) - Number(us)) / 1000);
}
lat.sort((a, b) => a - b);
const pct = (p) => lat.length ? +lat[Math.min(lat.length - 1, Math.ceil(p / 100 * lat.length) - 1)].toFixed(3) : null;
console.log(JSON.stringify({ files: lat.length, p50_ms: pct(50), p99_ms: pct(99), max_ms: pct(100) }));
