import { parseSubjectAltNames } from '../certs/generate.ts';

/**
 * Mutual TLS for the webhook routes (`--client-ca`, `--client-cn`). The TLS layer asks every
 * client for a certificate and verifies it against the client CA (tls-reload.ts), but lets the
 * handshake finish without one: the kubelet's probes carry no certificate and must still reach
 * /healthz and /readyz. This module is the gate on /mutate and /validate: a connection whose
 * certificate is missing or untrusted gets 401, a trusted certificate whose names are not allowed
 * gets 403. The verdict is computed once per connection (a TLS session's peer never changes).
 */

/** Why a request was refused; also the `reason` label of pullguard_client_certificate_rejections_total. */
export type ClientRejection = 'no-certificate' | 'untrusted' | 'name-not-allowed';

export type ClientVerdict =
  | { readonly allowed: true; readonly name: string }
  | { readonly allowed: false; readonly reason: ClientRejection; readonly status: 401 | 403; readonly message: string };

/** A certificate subject can be long and is chosen by the caller: what we echo or log of it is capped. */
export const MAX_ECHOED_NAME_LENGTH = 128;

export interface ClientCertificatePolicy {
  /** Accepted names: the certificate's subject CN or one of its DNS subject alternative names must be one of them. */
  readonly names: readonly string[];
}

/** The subset of a TLS socket the check reads (a test can hand it a fake). */
export interface PeerSocket {
  readonly authorized: boolean;
  readonly authorizationError?: Error | undefined;
  /** node:tls: an empty object when the peer sent no certificate. */
  getPeerCertificate(): PeerCertificateFields;
}

/** What the check reads of node:tls's PeerCertificate. */
export interface PeerCertificateFields {
  readonly subject?: Record<string, string | string[] | undefined>;
  readonly subjectaltname?: string;
}

function capped(text: string): string {
  return text.length <= MAX_ECHOED_NAME_LENGTH ? text : `${text.slice(0, MAX_ECHOED_NAME_LENGTH)}...`;
}

/** The names a certificate answers to: its subject CNs and its DNS subject alternative names. */
export function certificateNames(certificate: PeerCertificateFields): string[] {
  const names: string[] = [];
  const commonName = certificate.subject?.['CN'];
  if (typeof commonName === 'string') names.push(commonName);
  else if (Array.isArray(commonName)) names.push(...commonName);
  // Node formats SANs as `DNS:a, DNS:b, IP Address:1.2.3.4` and JSON-quotes a value that holds a
  // comma, so a plain split on ", " would let `DNS:"x, DNS:kube-apiserver"` pass as two names.
  for (const entry of parseSubjectAltNames(certificate.subjectaltname)) {
    if (entry.type === 'DNS') names.push(entry.value);
  }
  return names;
}

export function checkClientCertificate(socket: PeerSocket, policy: ClientCertificatePolicy): ClientVerdict {
  const certificate = socket.getPeerCertificate();
  const presented = certificate !== null && typeof certificate === 'object' && Object.keys(certificate).length > 0;
  if (!presented) {
    return { allowed: false, reason: 'no-certificate', status: 401, message: 'a client certificate is required (this webhook runs with --client-ca)' };
  }
  if (!socket.authorized) {
    return {
      allowed: false,
      reason: 'untrusted',
      status: 401,
      message: `the client certificate is not trusted: ${String(socket.authorizationError ?? 'not signed by the --client-ca')}`,
    };
  }
  const names = certificateNames(certificate);
  const match = names.find((name) => policy.names.includes(name));
  if (match !== undefined) return { allowed: true, name: match };
  const shown = names.length === 0 ? 'no CN and no DNS name' : names.slice(0, 4).map(capped).join(', ');
  return {
    allowed: false,
    reason: 'name-not-allowed',
    status: 403,
    message: `the client certificate (${shown}) is not one of the allowed names (--client-cn ${policy.names.join(', ')})`,
  };
}

function isPeerSocket(socket: object): socket is PeerSocket {
  return typeof (socket as Partial<PeerSocket>).getPeerCertificate === 'function';
}

/** A connection without TLS: no certificate. */
const NO_PEER: PeerSocket = {
  authorized: false,
  authorizationError: new Error('no TLS'),
  // An empty object is what node:tls returns when the peer sent no certificate.
  getPeerCertificate: () => ({}),
};

/** One verdict per TLS connection: the peer certificate is fixed for the connection's life. */
export class ClientCertificateGate {
  private readonly verdicts = new WeakMap<object, ClientVerdict>();
  readonly policy: ClientCertificatePolicy;

  constructor(policy: ClientCertificatePolicy) {
    if (policy.names.length === 0) throw new Error('a client certificate policy needs at least one allowed name');
    this.policy = policy;
  }

  /** `socket` is whatever carries the request: without TLS (fastify.inject, plain HTTP) nothing was presented. */
  verdict(socket: object): ClientVerdict {
    if (!isPeerSocket(socket)) return checkClientCertificate(NO_PEER, this.policy);
    let verdict = this.verdicts.get(socket);
    if (verdict === undefined) {
      verdict = checkClientCertificate(socket, this.policy);
      this.verdicts.set(socket, verdict);
    }
    return verdict;
  }
}
