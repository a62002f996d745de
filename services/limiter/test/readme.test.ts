// The README shows the script: it must be the one the code runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SLIDING_WINDOW_LUA } from '../src/sliding-window-script';

test('README.md carries the exact Lua script the limiter runs', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const m = /### The script[\s\S]*?```lua\n([\s\S]*?)```/.exec(readme);
  expect(m).not.toBeNull();
  expect(m![1]!.trim()).toBe(SLIDING_WINDOW_LUA.trim());
});
