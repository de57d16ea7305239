// Builds the addon (debug profile, the workspace's shared target dir), copies it to
// ./metricchat.node and regenerates ./native.d.ts from the type definitions napi-derive writes
// while compiling the #[napi] items.
//
//   node scripts/build.mjs            # or: npm run build
//
// CARGO_TARGET_DIR defaults to ~/.cache/metricchat-target, as in .ci/run.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'metricchat-target');
const typeDefDir = join(targetDir, 'napi-type-defs');
mkdirSync(typeDefDir, { recursive: true });

const cargo = spawnSync('cargo', ['build', '-p', 'metricchat-node'], {
  cwd: pkg,
  stdio: 'inherit',
  env: { ...process.env, CARGO_TARGET_DIR: targetDir, NAPI_TYPE_DEF_TMP_FOLDER: typeDefDir },
});
if (cargo.status !== 0) process.exit(cargo.status ?? 1);

const lib = { linux: 'libmetricchat_node.so', darwin: 'libmetricchat_node.dylib', win32: 'metricchat_node.dll' }[
  process.platform
];
copyFileSync(join(targetDir, 'debug', lib), join(pkg, 'metricchat.node'));
console.log('built metricchat.node');

// napi-derive appends one JSON object per #[napi] item to this file when it compiles the crate
// (an unchanged crate is not recompiled, and the last file stays valid).
const defs = join(typeDefDir, 'metricchat-node');
if (existsSync(defs)) {
  writeFileSync(join(pkg, 'native.d.ts'), renderTypeDefs(readFileSync(defs, 'utf8')));
  console.log('wrote native.d.ts');
}

/** The d.ts text of napi-derive's type definition lines (what `napi build --dts` does). */
function renderTypeDefs(text) {
  const items = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  const doc = (d, pad = '') =>
    d
      ? d
          .trimEnd()
          .split('\n')
          .map((l) => pad + l.trim().replace(/^\*/, ' *').replace(/^\/\*\*/, '/**'))
          .join('\n') + '\n'
      : '';
  const indent = (s) =>
    s
      .split('\n')
      .map((l) => (l.trim() ? `  ${l.trim().startsWith('*') ? ' ' : ''}${l.trim()}` : l))
      .join('\n');
  const classes = new Map();
  const out = [];
  for (const item of items) {
    if (item.kind === 'struct') {
      classes.set(item.name, { doc: item.js_doc, members: [item.def].filter(Boolean) });
    } else if (item.kind === 'impl') {
      const c = classes.get(item.name) ?? { doc: '', members: [] };
      c.members.push(item.def);
      classes.set(item.name, c);
    }
  }
  for (const [name, c] of [...classes].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`${doc(c.doc)}export declare class ${name} {\n${indent(c.members.join('\n'))}\n}`);
  }
  const rest = items
    .filter((i) => i.kind !== 'struct' && i.kind !== 'impl')
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const item of rest) {
    if (item.kind === 'interface') {
      out.push(`${doc(item.js_doc)}export interface ${item.name} {\n${indent(item.def)}\n}`);
    } else {
      const def = item.kind === 'fn' ? `export declare function ${item.def.replace(/^function /, '')}` : item.def;
      out.push(`${doc(item.js_doc)}${def}`);
    }
  }
  return (
    '// Declarations of the native addon (metricchat.node), generated from the #[napi] items of\n' +
    '// src/ by scripts/build.mjs: do not edit. The public API is index.d.ts.\n\n' +
    out.join('\n\n') +
    '\n'
  );
}
