/**
 * Help text columns: every row's description starts at the same column, so `--help` reads as a
 * table. Rows are [left, middle, right?]; a third column is aligned too.
 */
export function formatColumns(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row) => indent + row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd((widths[index] as number) + 2))).join(''))
    .join('\n');
}
