import { isRecord } from '../workloads/extract.ts';
import { LIST_PAGE_SIZE } from './limits.ts';
import { isApiStatus, type KubeRest } from './rest.ts';

/**
 * One complete, consistent list of a collection, read `limit` objects at a time. Each page is
 * handed to the consumer before the next one is asked for, so a consumer that reduces objects as
 * they arrive (a Secret to its auths keys) never holds more than one page of raw objects.
 *
 * All pages of one list come from the first page's snapshot (resourceVersion). When the
 * continue token expires mid-list (410 Gone: etcd compacted that revision, after about five
 * minutes on a default API server), the list starts again from the first page: the consumer is
 * told to drop what it gathered, so the result is still one consistent list, as client-go's
 * pager does when it falls back to a full list.
 */

/** A list whose continue token expires this many times in a row is given up on. */
export const MAX_LIST_RESTARTS = 3;

export interface PageConsumer {
  /** One page of raw objects, in the API server's order (by namespace, then name). */
  page(items: readonly unknown[], progress: PageProgress): void;
  /** The list starts over (410 Gone): forget everything received from this list so far. */
  restart(): void;
}

export interface PageProgress {
  /** Objects received so far in this list attempt. */
  readonly received: number;
  /** The server's count of objects still to come, when it sends one (lists without selectors). */
  readonly remaining: number | undefined;
  /** True on the list's last page. */
  readonly last: boolean;
}

export interface ListSelectors {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
}

export interface ListOutcome {
  readonly resourceVersion: string;
  readonly objects: number;
  readonly restarts: number;
  readonly pages: number;
}

/** Thrown when a list cannot complete; names the collection and why. */
export class ListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListError';
  }
}

interface ListPageBody {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  readonly continueToken: string | undefined;
  readonly remaining: number | undefined;
}

function readPage(path: string, body: unknown): ListPageBody {
  if (!isRecord(body) || !Array.isArray(body['items'])) throw new ListError(`GET ${path}: the answer is not a list`);
  const metadata = isRecord(body['metadata']) ? body['metadata'] : {};
  const next = metadata['continue'];
  const remaining = metadata['remainingItemCount'];
  return {
    items: body['items'] as unknown[],
    resourceVersion: typeof metadata['resourceVersion'] === 'string' ? metadata['resourceVersion'] : '',
    continueToken: typeof next === 'string' && next !== '' ? next : undefined,
    remaining: typeof remaining === 'number' ? remaining : undefined,
  };
}

export async function listInPages(
  rest: KubeRest,
  path: string,
  selectors: ListSelectors,
  consumer: PageConsumer,
  pageSize = LIST_PAGE_SIZE,
): Promise<ListOutcome> {
  let restarts = 0;
  let pages = 0;
  for (;;) {
    let continueToken: string | undefined;
    let received = 0;
    let resourceVersion = '';
    try {
      do {
        const body = await rest.request({
          method: 'GET',
          path,
          query: { limit: pageSize, continue: continueToken, labelSelector: selectors.labelSelector, fieldSelector: selectors.fieldSelector },
        });
        const page = readPage(path, body);
        pages += 1;
        if (continueToken === undefined) resourceVersion = page.resourceVersion;
        received += page.items.length;
        consumer.page(page.items, { received, remaining: page.remaining, last: page.continueToken === undefined });
        continueToken = page.continueToken;
      } while (continueToken !== undefined);
      return { resourceVersion, objects: received, restarts, pages };
    } catch (error) {
      // Only an expired continue token restarts; a 410 on the first page is not about paging.
      if (!(continueToken !== undefined && isApiStatus(error, 410))) throw error;
      restarts += 1;
      if (restarts > MAX_LIST_RESTARTS) {
        throw new ListError(`GET ${path}: the list expired (410 Gone) ${restarts} times before it completed; the cluster changes faster than it can be read at ${pageSize} objects a page`);
      }
      consumer.restart();
    }
  }
}
