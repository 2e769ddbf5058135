// dags/dag.schema.json (JSON Schema draft-07, for editors) kept in sync
// with the C loader (core/dag_load.c):
//
//   node dag-schema.mjs gen PLUGINS.json   rewrite definitions.pluginParams
//                                           from `costflow plugins list --json`
//   node dag-schema.mjs check PLUGINS.json the test (test-dag-schema.sh):
//     1. the schema is valid draft-07 and compiles in strict mode;
//     2. definitions.pluginParams is what the bundled plugins declare;
//     3. every sample DAG validates, with the schema and with the loader;
//     4. every file of tests/dags/bad/ is refused by the loader, and each
//        is classified below: SCHEMA files must be refused by the schema
//        too, at the line the loader reports; NOT_SCHEMA files name why a
//        JSON Schema cannot say it. A new bad file must be added to one.
//
// Env: CF_SOURCE_DIR (repository), COSTFLOW (binary, for the loader side;
// skipped if unset), COSTFLOW_PLUGIN_PATH (plugins the sample DAGs use).
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import Ajv from 'ajv';
import YAML from 'yaml';

const SRC = process.env.CF_SOURCE_DIR ||
  new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const SCHEMA = join(SRC, 'dags/dag.schema.json');

// ---- the malformed corpus, classified ------------------------------------
// Refused by the schema too (unknown key, wrong type, bad enum value,
// missing required key, range, shape of a string).
const SCHEMA_FILES = [
  'bad-backoff', 'bad-dag-id', 'bad-date-format', 'bad-deadline',
  'bad-duration', 'bad-id', 'cron-6-field', 'empty', 'empty-tasks',
  'impossible-date', 'long-id', 'missing-dag', 'missing-plugin',
  'missing-required-param', 'missing-tasks', 'out-of-range', 'plugin-path',
  'quoted-int', 'retries-range', 'root-list', 'root-scalar',
  'trigger-no-path', 'tz-traversal', 'unknown-key-hint',
  'unknown-param-hint', 'unknown-top-key', 'unknown-trigger-rule',
  'wrong-param-list', 'wrong-param-type', 'yes-no-bool',
];
// What a JSON Schema cannot express, and why.
const NOT_SCHEMA = {
  'abi-mismatch': 'plugin binary built for another ABI (needs the .so)',
  'bad-cron': 'cron field values (the schema checks only the 5-field shape)',
  'billion-laughs': 'YAML anchors/aliases (refused before any schema)',
  'control-char': 'control characters in the file (YAML/encoding level)',
  'cycle-3': 'dependency cycle (graph property)',
  'deep-nesting': 'YAML nesting limit (parser limit)',
  'dup-key-nested': 'duplicate YAML key (gone after YAML -> JSON)',
  'dup-task-id': 'duplicate YAML key (gone after YAML -> JSON)',
  'encoding': 'file is not UTF-8 (encoding level)',
  'end-before-start': 'end_date before start_date (compares two values)',
  'multi-doc': 'several YAML documents (YAML level)',
  'never-fires': 'cron that can never fire (calendar arithmetic)',
  'recursive-alias': 'YAML anchors/aliases (refused before any schema)',
  'self-dep': 'task depends on itself (compares a value with its key)',
  'syntax-tab': 'YAML syntax error',
  'syntax': 'YAML syntax error',
  'undeclared-pool': "pool not declared in 'pools' (cross-reference)",
  'undefined-param-template': "template names an undefined DAG param (cross-reference)",
  'unknown-dep': 'depends_on names an unknown task (cross-reference)',
  'unknown-plugin': 'plugin not installed (depends on the plugin path)',
  'unknown-template': 'template names (core/template.c, in any param string)',
  'unknown-tz': 'zone missing from the system tzdata (the schema checks the name shape)',
  'unterminated-template': 'template syntax (core/template.c, in any param string)',
  'yaml-tag': 'YAML tags such as !!binary (YAML level)',
};

// ---- plugin params -> schema ---------------------------------------------
const SCALAR = { type: ['string', 'number', 'boolean'] };
const TEMPLATE = { $ref: '#/definitions/template' };

function paramSchema(p) {
  const help = [p.help, `(${p.type}${p.required ? ', required' : ''}` +
    `${p.default != null ? `, default ${p.default}` : ''})`]
    .filter(Boolean).join(' ');
  let s;
  let def;
  switch (p.type) {
    case 'string':
      s = { ...SCALAR };
      def = p.default;
      break;
    case 'int':
      s = { anyOf: [{ type: 'integer' }, TEMPLATE] };
      if (p.default != null && /^-?[0-9]+$/.test(p.default)) def = Number(p.default);
      break;
    case 'bool':
      s = { anyOf: [{ type: 'boolean' }, TEMPLATE] };
      if (p.default === 'true' || p.default === 'false') def = p.default === 'true';
      break;
    case 'duration':
      s = { anyOf: [{ $ref: '#/definitions/duration' }, TEMPLATE] };
      def = p.default;
      break;
    case 'list':
      s = { type: 'array', items: { type: ['string', 'number', 'boolean', 'null'] } };
      break;
    case 'map':
      s = { type: 'object',
            additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } };
      break;
    case 'json':
      s = {};
      break;
    default:
      throw new Error(`plugin param ${p.name}: unknown type '${p.type}'`);
  }
  if (def != null && ['list', 'map', 'json'].indexOf(p.type) < 0) s.default = def;
  return { description: help, ...s };
}

function pluginParams(plugins) {
  const blocks = [...plugins].sort((a, b) => a.name.localeCompare(b.name))
    .map((pl) => {
      const required = pl.params.filter((p) => p.required).map((p) => p.name);
      const props = {};
      for (const p of pl.params) props[p.name] = paramSchema(p);
      const params = {
        description: `Params of plugin ${pl.name}: ${pl.description}` +
          (pl.params.length ? '' : ' (it takes no params)'),
        type: required.length ? 'object' : ['object', 'null'],
        additionalProperties: false,
        properties: props,
      };
      if (required.length) params.required = required;
      const then = { type: 'object', properties: { params } };
      if (required.length) then.required = ['params'];
      return {
        if: { type: 'object', properties: { plugin: { const: pl.name } },
              required: ['plugin'] },
        then,
      };
    });
  return {
    $comment: 'GENERATED by tests/schema/regen.sh from `costflow plugins ' +
      'list --json` (the bundled plugins in plugins/*/); do not edit by hand.',
    allOf: blocks,
  };
}

// ---- YAML -> JSON, as close to the loader as the `yaml` package allows --
// Returns {doc, value, lines} or {error}. YAML 1.2 core schema (yes/no are
// strings), unique keys, no aliases, one document, UTF-8 only.
function loadYaml(path) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
  } catch (e) {
    return { error: `not UTF-8: ${e.message}` };
  }
  const lines = new YAML.LineCounter();
  let docs;
  try {
    docs = YAML.parseAllDocuments(text, { version: '1.2', uniqueKeys: true,
                                          lineCounter: lines });
  } catch (e) {
    return { error: e.message };
  }
  if (!Array.isArray(docs)) docs = [docs];
  if (docs.length > 1) return { error: 'several YAML documents' };
  const doc = docs[0];
  if (!doc) return { doc: null, value: null, lines };
  if (doc.errors.length) return { error: doc.errors[0].message };
  // Like the loader: no anchors/aliases, no tags but !!str, !!map, !!seq.
  const tags = ['str', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`);
  let refused = null;
  YAML.visit(doc, {
    Alias() { refused = 'aliases'; return YAML.visit.BREAK; },
    Node(_, n) {
      if (n.anchor) refused = 'anchors';
      else if (n.tag && !tags.includes(n.tag)) refused = `tag ${n.tag}`;
      return refused ? YAML.visit.BREAK : undefined;
    },
  });
  if (refused) return { error: refused };
  try {
    return { doc, value: doc.toJS({ maxAliasCount: 0 }), lines };
  } catch (e) {
    return { error: e.message };
  }
}

// Lines (1-based) an ajv error points at: the node at its instancePath
// (value and key), or the offending key for propertyNames and
// additionalProperties.
function errorLines(loaded, err) {
  const { doc, lines } = loaded;
  const out = new Set();
  const lineOf = (n) => (n && n.range ? lines.linePos(n.range[0]).line : null);
  if (!doc || !doc.contents) { out.add(1); return out; }
  const path = err.instancePath.split('/').slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node = doc.contents;
  let pair = null;
  for (const seg of path) {
    if (YAML.isMap(node)) {
      pair = node.items.find((it) => String(YAML.isScalar(it.key) ? it.key.value : it.key) === seg);
      node = pair ? pair.value : null;
    } else if (YAML.isSeq(node)) {
      pair = null;
      node = node.items[Number(seg)];
    } else {
      node = null;
    }
    if (!node) break;
  }
  if (pair && pair.key) out.add(lineOf(pair.key));
  if (node) out.add(lineOf(node));
  const key = err.propertyName ?? err.params?.additionalProperty;
  if (key != null && YAML.isMap(node)) {
    const kp = node.items.find((it) => String(YAML.isScalar(it.key) ? it.key.value : it.key) === key);
    if (kp) out.add(lineOf(kp.key));
  }
  out.delete(null);
  return out;
}

// ---- the test --------------------------------------------------------------
let passed = 0;
let failed = 0;
const ok = (m) => { passed++; console.log(`ok   ${m}`); };
const bad = (m) => { failed++; console.log(`FAIL ${m}`); };

function costflowValidate(file) {
  if (!process.env.COSTFLOW) return null;
  const r = spawnSync(process.env.COSTFLOW, ['dags', 'validate', file],
                      { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, stderr: r.stderr || '' };
}

function yamlFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
    .map((f) => join(dir, f));
}

function check(pluginsJson) {
  const schema = JSON.parse(readFileSync(SCHEMA, 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  if (ajv.validateSchema(schema)) ok('dag.schema.json is valid draft-07');
  else bad(`dag.schema.json is not valid draft-07: ${ajv.errorsText(ajv.errors)}`);
  if (schema.$schema !== 'http://json-schema.org/draft-07/schema#')
    bad('$schema must be draft-07 (yaml-language-server supports 7 and below)');
  if (schema.additionalProperties !== false ||
      schema.definitions?.task?.additionalProperties !== false)
    bad('additionalProperties: false at the top level and per task');
  let validate;
  try {
    validate = ajv.compile(schema);
    ok('schema compiles (ajv, strict mode)');
  } catch (e) {
    bad(`schema does not compile: ${e.message}`);
    return;
  }

  // Bundled plugins' params.
  const plugins = JSON.parse(readFileSync(pluginsJson, 'utf8'));
  if (plugins.length === 0) bad('no bundled plugins listed');
  const want = JSON.stringify(pluginParams(plugins));
  if (JSON.stringify(schema.definitions.pluginParams) === want)
    ok(`pluginParams matches the ${plugins.length} bundled plugins`);
  else
    bad('definitions.pluginParams differs from what the bundled plugins ' +
        'declare: run tests/schema/regen.sh (after building) and commit ' +
        'dags/dag.schema.json');

  // Valid DAGs: the schema and the loader accept them.
  const goods = [
    ...yamlFiles(join(SRC, 'dags')),
    ...yamlFiles(join(SRC, 'tests/dags/good')),
    ...yamlFiles(join(SRC, 'tests/dags/billing')),
    ...readdirSync(join(SRC, 'examples'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => yamlFiles(join(SRC, 'examples', d.name))),
  ];
  for (const f of goods) {
    const name = relative(SRC, f);
    const c = costflowValidate(f);
    if (c && c.status !== 0) {
      bad(`${name}: the loader refuses it (exit ${c.status}): ${c.stderr.split('\n')[0]}`);
      continue;
    }
    const y = loadYaml(f);
    if (y.error) { bad(`${name}: YAML: ${y.error}`); continue; }
    if (validate(y.value)) ok(`good ${name}`);
    else bad(`${name}: the schema refuses it: ${ajv.errorsText(validate.errors)}`);
  }
  if (goods.length >= 8) ok(`${goods.length} valid DAGs`);
  else bad(`only ${goods.length} valid DAGs found`);

  // The malformed corpus.
  const badDir = join(SRC, 'tests/dags/bad');
  const files = yamlFiles(badDir);
  const seen = new Set();
  let nschema = 0;
  let nnot = 0;
  for (const f of files) {
    const base = f.slice(badDir.length + 1).replace(/\.ya?ml$/, '');
    seen.add(base);
    const first = readFileSync(f, 'latin1').split('\n')[0];
    const m = /^# expect: (\d+):(\d+): (.*)$/.exec(first);
    if (!m) { bad(`bad/${base}: first line has no '# expect: LINE:COL: MESSAGE'`); continue; }
    const line = Number(m[1]);
    const c = costflowValidate(f);
    if (c && c.status !== 2) { bad(`bad/${base}: the loader exits ${c.status}, want 2`); continue; }
    const inSchema = SCHEMA_FILES.includes(base);
    const why = NOT_SCHEMA[base];
    if (inSchema && why) { bad(`bad/${base}: in both SCHEMA_FILES and NOT_SCHEMA`); continue; }
    if (!inSchema && !why) {
      bad(`bad/${base}: unclassified; add it to SCHEMA_FILES (the schema ` +
          'can express its error) or NOT_SCHEMA (with the reason) in ' +
          'tests/schema/dag-schema.mjs');
      continue;
    }
    const y = loadYaml(f);
    if (inSchema) {
      nschema++;
      if (y.error) { bad(`bad/${base}: YAML -> JSON failed (${y.error}); the schema never sees it`); continue; }
      if (validate(y.value)) { bad(`bad/${base}: the schema accepts it, the loader says: ${m[3]}`); continue; }
      const at = new Set(validate.errors.flatMap((e) => [...errorLines(y, e)]));
      if (at.has(line)) ok(`bad/${base}: refused by both at line ${line}`);
      else
        bad(`bad/${base}: the schema refuses it at line(s) ${[...at].join(',')}, ` +
            `the loader at line ${line}: ${ajv.errorsText(validate.errors)}`);
    } else {
      nnot++;
      if (y.error) ok(`bad/${base}: not schema (${why}); YAML -> JSON already fails`);
      else if (validate(y.value)) ok(`bad/${base}: not schema (${why})`);
      else
        bad(`bad/${base}: listed as not schema-expressible but the schema ` +
            `refuses it (${ajv.errorsText(validate.errors)}): move it to SCHEMA_FILES`);
    }
  }
  for (const name of [...SCHEMA_FILES, ...Object.keys(NOT_SCHEMA)])
    if (!seen.has(name)) bad(`${name}: classified but tests/dags/bad/${name}.yaml is gone`);
  console.log(`corpus: ${files.length} bad files, ${nschema} refused by the ` +
              `schema too, ${nnot} not schema-expressible`);
  if (files.length < 30) bad(`only ${files.length} bad files`);
}

function gen(pluginsJson) {
  const text = readFileSync(SCHEMA, 'utf8');
  const schema = JSON.parse(text);
  const plugins = JSON.parse(readFileSync(pluginsJson, 'utf8'));
  schema.definitions.pluginParams = pluginParams(plugins);
  const out = JSON.stringify(schema, null, 2) + '\n';
  if (out === text) console.log('dags/dag.schema.json is up to date');
  else { writeFileSync(SCHEMA, out); console.log('dags/dag.schema.json updated'); }
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'gen' && arg) gen(arg);
else if (cmd === 'check' && arg) {
  check(arg);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
} else {
  console.error('usage: node dag-schema.mjs gen|check PLUGINS.json');
  process.exit(2);
}
