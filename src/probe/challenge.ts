/**
 * `WWW-Authenticate` as registries send it (RFC 7235 auth-params), e.g.
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`
 * or `Basic realm="Registry Realm"`. Pure and linear; unknown schemes are kept by name.
 */
export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`, ... */
  readonly scheme: string;
  /** Parameters by lower-cased name. */
  readonly params: Readonly<Record<string, string>>;
}

/** Longest header read; registries send well under 1 KiB. */
const MAX_HEADER_CHARS = 8 * 1024;

export function parseChallenges(header: string): Challenge[] {
  const text = header.slice(0, MAX_HEADER_CHARS);
  const challenges: Challenge[] = [];
  let index = 0;
  let current: { scheme: string; params: Record<string, string> } | undefined;
  const skipSpaces = (): void => {
    while (index < text.length && (text[index] === ' ' || text[index] === '\t')) index++;
  };
  while (index < text.length) {
    skipSpaces();
    const start = index;
    while (index < text.length && /[A-Za-z0-9!#$%&'*+.^_`|~-]/.test(text[index] as string)) index++;
    const token = text.slice(start, index);
    if (token === '') {
      index++; // a comma or a stray character
      continue;
    }
    skipSpaces();
    if (text[index] === '=') {
      index++;
      skipSpaces();
      let value = '';
      if (text[index] === '"') {
        index++;
        while (index < text.length && text[index] !== '"') {
          if (text[index] === '\\' && index + 1 < text.length) index++;
          value += text[index];
          index++;
        }
        index++; // closing quote
      } else {
        const valueStart = index;
        while (index < text.length && text[index] !== ',' && text[index] !== ' ') index++;
        value = text.slice(valueStart, index);
      }
      if (current !== undefined) current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}
