// Prints jest's totals as one plain closing line ("tests: N passed, N failed, N skipped"), read
// by CI tools that do not parse jest's own summary.
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.run/jest-results.json';
if (!existsSync(file)) {
  console.log('tests: 0 passed, 1 failed (no jest results were written)');
  process.exit(0);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
const failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
