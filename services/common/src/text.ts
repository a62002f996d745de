/** Length in Unicode code points (an emoji outside the BMP counts as 1, not 2), as MariaDB's utf8mb4 VARCHAR counts. */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
