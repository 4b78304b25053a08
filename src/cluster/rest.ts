/**
 * A small JSON client for the API server, for the audit's lists and the policy-report writes.
 * client-node's generated clients turn every listed object into model classes field by field
 * (slow for 10,000 pods) and know no custom resources; the audit reads plain JSON, page by page,
 * and writes reports with server-side apply. Two implementations: rest-https.ts over node:https
 * from the kubeconfig read directly (the CLI: importing client-node costs ~85 MiB of RSS and ~0.9 s
 * of CPU), and rest-client-node.ts with client-node's authentication (the webhook, and kubeconfigs
 * the direct reader does not support). This module holds what both share and imports neither.
 */

export type QueryValue = string | number | boolean | undefined;

export interface KubeRequest {
  readonly method: 'GET' | 'PATCH' | 'DELETE' | 'POST' | 'PUT';
  /** `/api/v1/pods`, `/apis/openreports.io/v1alpha1/namespaces/NS/reports/NAME` */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  readonly body?: unknown;
  /** Default `application/json`; server-side apply sends `application/apply-patch+yaml`. */
  readonly contentType?: string;
}

/** What the audit needs from the API server; tests substitute a scripted fake. */
export interface KubeRest {
  /** The response's JSON body on 2xx; a {@link KubeApiError} otherwise. */
  request(request: KubeRequest): Promise<unknown>;
}

/** A non-2xx answer: the HTTP status and the Status object's reason and message (never a request body). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  /** A 410's Status may carry a continue token to resume an inconsistent list; unused, kept for messages. */
  readonly details: unknown;
  constructor(status: number, message: string, reason: string | undefined, details: unknown = undefined) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

export function isApiStatus(error: unknown, status: number): boolean {
  return error instanceof KubeApiError && error.status === status;
}

export function queryString(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Builds the error of a failed response from its Status body (or the raw text when it is not one). */
export function apiError(status: number, method: string, path: string, body: string): KubeApiError {
  let reason: string | undefined;
  let message = body.trim().slice(0, 500);
  let details: unknown;
  try {
    const parsed = JSON.parse(body) as { reason?: unknown; message?: unknown; details?: unknown };
    if (typeof parsed.reason === 'string') reason = parsed.reason;
    if (typeof parsed.message === 'string') message = parsed.message;
    details = parsed.details;
  } catch {
    // not a Status object: keep the text
  }
  return new KubeApiError(status, `${method} ${path}: ${status}${reason !== undefined ? ` ${reason}` : ''}: ${message || '(no message)'}`, reason, details);
}
