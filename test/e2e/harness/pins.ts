import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** test/e2e/versions.env: the pins the build scripts source. */
export const VERSIONS_FILE = fileURLToPath(new URL('../versions.env', import.meta.url));

/** The plain KEY=VALUE lines of a versions file, as a lookup that throws for a key it does not set. */
export function readPins(path: string = VERSIONS_FILE): (key: string) => string {
  const values = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(\S+)\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) values.set(match[1], match[2]);
  }
  return (key) => {
    const value = values.get(key);
    if (value === undefined) throw new Error(`${path}: ${key} is not set`);
    return value;
  };
}
