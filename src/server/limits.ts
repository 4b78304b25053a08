/**
 * Server limits, each with its reason. The README's operations table reads these same constants.
 */

/** 7 MiB: an UPDATE review carries object and oldObject (up to ~3 MiB each, etcd's limit) plus the envelope (controller-runtime uses the same bound). */
export const BODY_LIMIT_BYTES = 7 * 1024 * 1024;

/** 95 s: longer than Go's http.Transport IdleConnTimeout (90 s) used by the API server, so the client, not us, closes idle connections and never reuses one we just closed. Losing keep-alive costs a TLS handshake per review. */
export const KEEP_ALIVE_TIMEOUT_MS = 95_000;

/** 9 s: below the webhook's default timeoutSeconds (10 s), so a stuck request is cut by us (HTTP 408) and logged before the API server gives up. The chart sets timeoutSeconds 5 and --request-timeout 4000. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 9_000;

/** A request past --request-timeout is cut within this much more (Node's own check runs every 30 s); checking the open connections this often costs nothing measurable. */
export const REQUEST_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Error messages answered and logged quote at most this much (a parser error may quote the body). */
export const ERROR_MESSAGE_MAX_CHARS = 512;

/** Minimum TLS version by default (`--min-tls 1.3` raises it): the API server speaks 1.2 and 1.3; older versions are insecure. */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** TLS 1.2 cipher suites: ECDHE key exchange (forward secrecy) with AEAD ciphers only, Mozilla's "intermediate" list; Go clients (the API server, the kubelet's probes) offer them all. No RSA key exchange (`AES256-GCM-SHA384`), no CBC (`AES128-SHA`). TLS 1.3 suites are all ECDHE+AEAD and stay OpenSSL's. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The name a client certificate must carry (CN or DNS SAN) when `--client-ca` is given and no `--client-cn`: the conventional identity of the API server's client certificate. */
export const DEFAULT_CLIENT_CERTIFICATE_NAME = 'kube-apiserver';

/** On SIGTERM, in-flight reviews get this long to finish before we exit anyway (the pod's grace period is 30 s). */
export const SHUTDOWN_GRACE_MS = 20_000;

/** Webhook HTTPS port: above 1024, so the server runs as non-root without capabilities. */
export const DEFAULT_PORT = 8443;

/** Metrics port, plain HTTP, so Prometheus scrapes without the webhook's CA. */
export const DEFAULT_METRICS_PORT = 9090;
