/**
 * Message building: one sentence per finding that names the container, the image or registry, what
 * was looked at, and the fix. Warnings must stay under 120 characters (kubectl prints them as they
 * are), so long names are shortened in the middle rather than cut at the end.
 */

/** kubectl shows each warning on one line; the API server recommends short warnings. */
export const WARNING_MAX_CHARS = 119;

/**
 * Denials go whole into the status message, but a subject (an image string, a name) comes from
 * the object: a megabyte-long image must not make a megabyte-long answer.
 */
export const DENY_SUBJECT_MAX_CHARS = 256;

export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  return `${sliceWhole(text, 0, head)}…${sliceWhole(text, text.length - (keep - head), text.length)}`;
}

/** `text.slice(start, end)` that never splits a surrogate pair (kubectl would print U+FFFD). */
export function sliceWhole(text: string, start: number, end: number): string {
  const isLow = (index: number): boolean => {
    const code = text.charCodeAt(index);
    return code >= 0xdc00 && code <= 0xdfff;
  };
  let from = start;
  let to = end;
  if (from > 0 && from < text.length && isLow(from)) from += 1;
  if (to > 0 && to < text.length && isLow(to)) to -= 1;
  return text.slice(from, Math.max(from, to));
}

/** A subject of a denial (an image, a registry host, a name from the object), shortened to DENY_SUBJECT_MAX_CHARS. */
export function denySubject(text: string): string {
  return shorten(text, DENY_SUBJECT_MAX_CHARS);
}

/** Names from the object (imagePullSecrets entries are not validated by the API server) are shortened like any subject. */
/** Names joined by `, ` when the text fits a denial's subject (DENY_SUBJECT_MAX_CHARS), else undefined. Stops counting at the limit. */
export function joinedWithin(names: readonly string[]): string | undefined {
  let length = -2;
  for (const name of names) {
    length += name.length + 2;
    if (length > DENY_SUBJECT_MAX_CHARS) return undefined;
  }
  return names.join(', ');
}

export function listNames(names: readonly string[], max = 3): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, max).map(denySubject).join(', ');
  return names.length > max ? `${shown} +${names.length - max}` : shown;
}

/**
 * Fits `prefix` + `subject` + `suffix` into the warning limit by shortening the subject only.
 * Denials are not warnings: they go whole into the API server's status message.
 */
export function fit(prefix: string, subject: string, suffix: string, severity: 'deny' | 'warn' | 'info' = 'warn'): string {
  if (severity === 'deny') return prefix + shorten(subject, DENY_SUBJECT_MAX_CHARS) + suffix;
  const room = WARNING_MAX_CHARS - prefix.length - suffix.length;
  return prefix + shorten(subject, Math.max(room, 12)) + suffix;
}

export function formatDuration(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.round(hours / 24)}d`;
}
