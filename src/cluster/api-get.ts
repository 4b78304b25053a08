import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { LightAccess } from './kubeconfig-light.ts';

/**
 * Plain JSON GETs against the API server with the kubeconfig's credentials and TLS settings.
 * client-node's typed clients turn timestamps into Date objects and drop `kind` from list items;
 * the pure core reads API JSON as the server sends it, so CLI readers use this instead.
 */

export interface ApiAnswer {
  /** HTTP status; 0 never happens (network errors reject). */
  readonly status: number;
  /** The parsed body, or undefined when it was not JSON. */
  readonly body: unknown;
}

export type ApiGet = (path: string) => Promise<ApiAnswer>;

/** Largest answer read: a namespace's events or pull secrets; a bigger one is cut off as an error. */
export const API_GET_MAX_BYTES = 64 * 1024 * 1024;
export const API_GET_TIMEOUT_MS = 30_000;

export async function apiGetter(kubeConfig: KubeConfig, options: { timeoutMs?: number } = {}): Promise<ApiGet> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const requestOptions: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(requestOptions);
  return getter(cluster.server, requestOptions, options.timeoutMs ?? API_GET_TIMEOUT_MS);
}

/** The same GETs from a kubeconfig read by kubeconfig-light.ts (no client-node). */
export function apiGetterFromLight(access: LightAccess, options: { timeoutMs?: number } = {}): ApiGet {
  const requestOptions: https.RequestOptions = {
    ...(access.caPem !== undefined ? { ca: access.caPem } : {}),
    ...(access.cert !== undefined ? { cert: access.cert } : {}),
    ...(access.key !== undefined ? { key: access.key } : {}),
    ...(access.insecure ? { rejectUnauthorized: false } : {}),
    ...(access.tlsServerName !== undefined ? { servername: access.tlsServerName } : {}),
    ...(access.authorization !== undefined ? { headers: { Authorization: access.authorization } } : {}),
    agent: new https.Agent({ keepAlive: true }),
  };
  return getter(access.server, requestOptions, options.timeoutMs ?? API_GET_TIMEOUT_MS);
}

function getter(server: string, requestOptions: https.RequestOptions, timeoutMs: number): ApiGet {
  const base = new URL(server);
  const transport = base.protocol === 'http:' ? http : https;
  const prefix = base.pathname.replace(/\/$/, '');
  return (path) =>
    new Promise<ApiAnswer>((resolve, reject) => {
      const url = new URL(prefix + path, base);
      const request = transport.get(
        url,
        { ...requestOptions, headers: { ...(requestOptions.headers ?? {}), Accept: 'application/json' }, timeout: timeoutMs },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > API_GET_MAX_BYTES) {
              request.destroy(new Error(`GET ${path}: answer larger than ${API_GET_MAX_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => {
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              body = undefined;
            }
            resolve({ status: response.statusCode ?? 0, body });
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
      request.on('error', reject);
    });
}
