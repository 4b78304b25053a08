import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';
import { apiError, KubeApiError, queryString, type KubeRest } from './rest.ts';

/**
 * The API client with client-node's authentication (tokens, client certificates, exec plugins,
 * legacy auth providers, the CA), applied per request so refreshed tokens are picked up; one
 * connection pool serves the whole run. The webhook already holds a KubeConfig for its informers;
 * the CLI uses it only for kubeconfigs rest-https.ts cannot serve.
 */

/** The production client over the kubeconfig's current context. */
export function kubeRest(kubeConfig: KubeConfig): KubeRest {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/+$/, '');
  let dispatcher: Dispatcher | undefined;
  return {
    async request(request) {
      const url = `${server}${request.path}${queryString(request.query)}`;
      const context = new RequestContext(url, HttpMethod[request.method]);
      await kubeConfig.applySecurityAuthentication(context);
      // Only the first dispatcher is used: one connection pool (keep-alive) for every request.
      dispatcher ??= context.getDispatcher() as Dispatcher | undefined;
      const headers: Record<string, string> = { ...context.getHeaders(), accept: 'application/json' };
      let body: string | undefined;
      if (request.body !== undefined) {
        body = JSON.stringify(request.body);
        headers['content-type'] = request.contentType ?? 'application/json';
      }
      let response;
      try {
        response = await fetch(url, { method: request.method, headers, body, ...(dispatcher !== undefined ? { dispatcher } : {}) });
      } catch (error) {
        const cause = (error as { cause?: { message?: string } }).cause?.message;
        throw new KubeApiError(0, `${request.method} ${request.path}: cannot reach ${server}: ${cause ?? (error as Error).message}`, undefined);
      }
      const text = await response.text();
      if (response.status < 200 || response.status > 299) throw apiError(response.status, request.method, request.path, text);
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    },
  };
}
