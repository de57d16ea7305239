// The TypeScript declarations compile under `tsc --strict` and narrow events the way users write
// code (test/types-check.ts); types.d.ts is generated from the Rust types (scripts/gen-types.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));

test('index.d.ts and the generated types.d.ts type-check a typical consumer', () => {
  const tsc = join(pkg, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext',
      '--moduleResolution', 'nodenext', '--skipLibCheck', 'false', join(pkg, 'test', 'types-check.ts')],
    { cwd: pkg, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
