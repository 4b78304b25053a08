/** Named limits of the live cluster state (see each for the reason). */

/**
 * Objects per list page. Bounds the raw JSON alive at once while listing 50,000 secrets (one
 * page of secrets is well under a few MiB), while keeping the request count small (100 pages).
 * client-go's reflector uses the same page size.
 */
export const LIST_PAGE_SIZE = 500;

/**
 * Distinct strings the intern pool shares before it is emptied: enough for the namespace names,
 * registry keys and label values of a large cluster, small enough (a few MiB) to never matter.
 */
export const INTERN_LIMIT = 65_536;

/** `serve --reports`: 10 minutes, because reports are for people and dashboards, and each refresh lists every pod. */
export const DEFAULT_REPORTS_INTERVAL_SECONDS = 600;

/** The Lease the replica writing policy reports holds (in the webhook's namespace). */
export const REPORTS_LEASE_NAME = 'pullguard-reports';
