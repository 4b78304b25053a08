import http from 'node:http';
import https from 'node:https';
import type { LightAccess } from './kubeconfig-light.ts';
import { apiError, KubeApiError, queryString, type KubeRest } from './rest.ts';

/**
 * The API client over node:https, from a kubeconfig read by kubeconfig-light.ts: no
 * @kubernetes/client-node, whose import alone costs ~85 MiB of RSS and ~0.9 s of CPU — more than
 * the audit of a 10,000-pod cluster needs for everything else. One keep-alive agent serves the
 * whole run. Credentials are resolved once (an exec plugin runs once), which suits a command that
 * ends in seconds; the webhook, which runs for months, uses rest-client-node.ts.
 */

/**
 * A request whose connection stays silent this long fails. A page of 500 pods arrives in well
 * under a second; a minute of silence is a dead connection or an overloaded server, and the user
 * should hear about it rather than wait forever (undici's default is five minutes).
 */
export const REST_IDLE_TIMEOUT_MS = 60_000;

export function httpsKubeRest(access: LightAccess, options: { idleTimeoutMs?: number } = {}): KubeRest {
  const base = new URL(access.server);
  const secure = base.protocol !== 'http:';
  const transport = secure ? https : http;
  // kubeconfig servers may carry a path (a proxy in front of the API server, as Rancher's).
  const prefix = base.pathname.replace(/\/+$/, '');
  const idleTimeoutMs = options.idleTimeoutMs ?? REST_IDLE_TIMEOUT_MS;
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        ...(access.caPem !== undefined ? { ca: access.caPem } : {}),
        ...(access.cert !== undefined ? { cert: access.cert } : {}),
        ...(access.key !== undefined ? { key: access.key } : {}),
        ...(access.insecure ? { rejectUnauthorized: false } : {}),
        ...(access.tlsServerName !== undefined ? { servername: access.tlsServerName } : {}),
      })
    : new http.Agent({ keepAlive: true });
  const server = `${base.protocol}//${base.host}${prefix}`;
  // URL keeps an IPv6 literal's brackets (`[fd00::1]`, as in-cluster addresses are written); a socket needs the bare address.
  const hostname = base.hostname.replace(/^\[(.*)\]$/, '$1');

  return {
    request(request) {
      const path = `${prefix}${request.path}${queryString(request.query)}`;
      const headers: Record<string, string> = { accept: 'application/json' };
      if (access.authorization !== undefined) headers['authorization'] = access.authorization;
      let body: Buffer | undefined;
      if (request.body !== undefined) {
        body = Buffer.from(JSON.stringify(request.body), 'utf8');
        headers['content-type'] = request.contentType ?? 'application/json';
        headers['content-length'] = String(body.length);
      }
      return new Promise<unknown>((resolve, reject) => {
        const outgoing = transport.request(
          { protocol: base.protocol, hostname, port: base.port, path, method: request.method, headers, agent, timeout: idleTimeoutMs },
          (response) => {
            // Decoded as it arrives (the decoder keeps a character split across chunks whole): the
            // text lives on the JS heap, where a young-generation collection frees it right after
            // the page is parsed, instead of in socket buffers that only a full collection frees.
            response.setEncoding('utf8');
            let text = '';
            response.on('data', (chunk: string) => (text += chunk));
            response.on('error', (error) => reject(unreachable(request.method, request.path, server, error)));
            response.on('end', () => {
              const status = response.statusCode ?? 0;
              if (status < 200 || status > 299) {
                reject(apiError(status, request.method, request.path, text));
                return;
              }
              try {
                resolve(text === '' ? undefined : (JSON.parse(text) as unknown));
              } catch {
                reject(new KubeApiError(status, `${request.method} ${request.path}: the answer is not JSON`, undefined));
              }
            });
          },
        );
        outgoing.on('timeout', () => outgoing.destroy(new Error(`no data for ${idleTimeoutMs / 1000} s`)));
        outgoing.on('error', (error) => reject(unreachable(request.method, request.path, server, error)));
        outgoing.end(body);
      });
    },
  };
}

function unreachable(method: string, path: string, server: string, error: Error): KubeApiError {
  return new KubeApiError(0, `${method} ${path}: cannot reach ${server}: ${error.message}`, undefined);
}
