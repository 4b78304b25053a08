import type { ServiceAccountPullSecrets } from '../snapshot/types.ts';
import type { PodSpecRef } from '../workloads/extract.ts';
import { DENY_SUBJECT_MAX_CHARS, denySubject, joinedWithin, listNames, shorten } from './messages.ts';

/**
 * Advice on the imagePullSecrets list to write so that a spec gets more secrets, true to the
 * ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount/admission.go):
 * - it copies the ServiceAccount's imagePullSecrets verbatim into a pod that lists none, and
 *   nothing into a pod that lists any: a list written into a spec whose secrets are its
 *   ServiceAccount's must keep the ServiceAccount's names, or every pod loses them;
 * - when the ServiceAccount has kubernetes.io/enforce-mountable-secrets: "true", it rejects a pod
 *   that lists a name the ServiceAccount's imagePullSecrets do not: a new name goes into the
 *   ServiceAccount's list (pods that list none get it from there).
 */

/** The name advice gives a secret the user has yet to create. */
export const NEW_SECRET = 'NEW-SECRET';

const NONE: readonly string[] = Object.freeze([]);

/** Whose list the advice is about. */
export interface ListAdviceSubject {
  readonly spec: PodSpecRef;
  /** The ServiceAccount's imagePullSecrets, or undefined when the snapshot does not hold it. */
  readonly saSecrets: ServiceAccountPullSecrets | undefined;
  /** The spec's secrets are its ServiceAccount's: it lists none, or its list is the plugin's copy. */
  readonly viaServiceAccount: boolean;
  /** Pod admission: the ServiceAccount plugin has run, so a pod without a list had a ServiceAccount without secrets. */
  readonly secretsFinal: boolean;
}

/**
 * The advice for one decision's subject. Everything linear in the ServiceAccount's list (its names
 * as a set, the whole list) is built at most once, on first use: a decision asks per uncovered
 * container, and the list can hold hundreds of thousands of names.
 */
export class ListAdvisor {
  readonly subject: ListAdviceSubject;
  /**
   * The ServiceAccount's list, or undefined when unknown. A pod admitted without a list had a
   * ServiceAccount with none (the plugin copies any it has), known to pullguard or not.
   */
  private readonly saSecrets: ServiceAccountPullSecrets | undefined;
  private listed: ReadonlySet<string> | undefined;
  private extended: boolean | undefined;

  constructor(subject: ListAdviceSubject) {
    this.subject = subject;
    this.saSecrets = subject.saSecrets ?? (subject.secretsFinal && subject.spec.imagePullSecrets.length === 0 ? NONE : undefined);
  }

  /**
   * True when advice to list one more secret must say more than "list it in imagePullSecrets":
   * the spec's secrets come from a ServiceAccount that has some (or that pullguard does not know),
   * or the ServiceAccount enforces mountable secrets. Constant time.
   */
  needsListAdvice(): boolean {
    const saSecrets = this.saSecrets;
    return saSecrets?.enforceMountableSecrets === true || (this.subject.viaServiceAccount && (saSecrets === undefined || saSecrets.length > 0));
  }

  /**
   * True for a pod whose own list begins with its ServiceAccount's whole list, verbatim, and goes
   * on: what the plugin's copy looks like once a mutating webhook (pullguard's own injection, or
   * another's) appended to it, and also what a pod written with those names looks like. Either
   * way the list to write is the pod's whole list plus the new names, in the pod or in the
   * template it came from: "list it in imagePullSecrets", written into a template that lists
   * none, would take the ServiceAccount's secrets from every pod. Entries without a name are
   * skipped, as isCopyOf skips them (the plugin copies a ServiceAccount's `{}` entries, which the
   * snapshot does not keep): the copy may hold them anywhere. Linear once, then constant.
   */
  extendsServiceAccountList(): boolean {
    if (this.extended === undefined) {
      const saSecrets = this.saSecrets;
      this.extended = this.subject.secretsFinal && !this.subject.viaServiceAccount && saSecrets !== undefined && saSecrets.length > 0 &&
        startsWithThenMore(this.subject.spec.imagePullSecrets, saSecrets);
    }
    return this.extended;
  }

  /**
   * Where `added` go, as one piece of advice for a denial. A whole list that does not fit
   * DENY_SUBJECT_MAX_CHARS is said by reference ("the 40 pull secrets of ServiceAccount X, then
   * Y") instead of being cut in the middle.
   */
  advice(added: readonly string[]): string {
    const { spec } = this.subject;
    const saSecrets = this.saSecrets;
    const names = namesText(added);
    const account = denySubject(spec.serviceAccountName);
    const to = spec.isTemplate ? ` to the ${spec.kind}'s pod template` : '';
    const ofSpec = spec.isTemplate ? `of the ${spec.kind}'s pod template` : 'of the pod';
    const ownList = this.addsToOwnList();
    const missing = this.notListed(added);
    if (missing.length > 0) {
      const then = ownList ? `, and ${names} to the imagePullSecrets ${ofSpec} (existing entries kept)` : ' (pods that list none get its list)';
      return `add ${namesText(missing)} to ServiceAccount ${account}'s imagePullSecrets${then}: it has kubernetes.io/enforce-mountable-secrets: "true", so a pod may list only the secrets it lists`;
    }
    if (ownList && this.extendsServiceAccountList()) return extendedListAdvice(spec.imagePullSecrets, added, account);
    if (ownList) return `add ${names} to the imagePullSecrets ${ofSpec} (existing entries kept)`;
    if (!this.subject.viaServiceAccount || saSecrets?.length === 0) return `add imagePullSecrets: [${names}]${to}`;
    const orServiceAccount = `or add ${names} to ServiceAccount ${account}'s imagePullSecrets`;
    if (saSecrets === undefined) {
      return `add imagePullSecrets${to} listing the pull secrets of ServiceAccount ${account} (not known to pullguard), if any, then ${names} (a list of its own stops the ServiceAccount's copy), ${orServiceAccount}`;
    }
    const whole = wholeList(saSecrets, added);
    if (whole.text !== undefined) {
      return `add imagePullSecrets: [${whole.text}]${to} (ServiceAccount ${account}'s secrets kept: a list of its own stops the ServiceAccount's copy), ${orServiceAccount}`;
    }
    const theirs = `the ${whole.count} pull secret${whole.count === 1 ? '' : 's'} of ServiceAccount ${account}`;
    return `add imagePullSecrets${to} listing ${theirs}, then ${names} (a list of its own stops the ServiceAccount's copy), ${orServiceAccount}`;
  }

  /**
   * advice() in a few words, for a warning (kubectl prints each on one line, and the API server
   * asks for under 120 characters): list the secret when that keeps every secret the spec has,
   * else add it to the ServiceAccount, which always works ("SA", as other warnings say).
   */
  brief(secret: string): string {
    const enforced = this.notListed([secret]).length > 0;
    // Neither "list secret X" (a template without a list would lose the ServiceAccount's secrets)
    // nor the ServiceAccount (a pod that lists its own never gets its copy): the whole list.
    if (!enforced && this.extendsServiceAccountList()) return `append ${shorten(secret, 32)} to the pod's whole list`;
    if (!enforced && !this.needsListAdvice()) return `list secret ${secret}, which covers it`;
    const account = shorten(this.subject.spec.serviceAccountName, 32);
    return this.addsToOwnList() ? `add ${shorten(secret, 32)} to SA ${account} and the pod's imagePullSecrets` : `add ${shorten(secret, 32)} to SA ${account}'s imagePullSecrets`;
  }

  /**
   * brief() for a running pod (a pod UPDATE), whose list cannot change: the pod is recreated with
   * the secret listed too, once a ServiceAccount that enforces mountable secrets lists it (a pod
   * that lists none then gets it from the ServiceAccount's copy).
   */
  runningBrief(secret: string): string {
    const name = shorten(secret, 32);
    if (this.notListed([secret]).length === 0) return `recreate the pod with ${name} also listed`;
    const account = shorten(this.subject.spec.serviceAccountName, 32);
    return this.addsToOwnList() ? `add ${name} to SA ${account}, recreate the pod listing it` : `add ${name} to SA ${account}, then recreate the pod`;
  }

  /** True when the spec lists its own secrets, so advice adds to that list. */
  addsToOwnList(): boolean {
    return !this.subject.viaServiceAccount && this.subject.spec.imagePullSecrets.length > 0;
  }

  /** `added` that a ServiceAccount enforcing mountable secrets does not list (none when it does not enforce). */
  private notListed(added: readonly string[]): readonly string[] {
    const saSecrets = this.saSecrets;
    if (saSecrets?.enforceMountableSecrets !== true) return NONE;
    const listed = (this.listed ??= new Set(saSecrets));
    return added.filter((name) => !listed.has(name));
  }
}

/** ListAdvisor.advice for a subject asked once (admit's denial of an unpatched pod). */
export function listAdvice(subject: ListAdviceSubject, added: readonly string[]): string {
  return new ListAdvisor(subject).advice(added);
}

/** advice() for a pod whose list extends its ServiceAccount's (extendsServiceAccountList). */
function extendedListAdvice(podList: readonly string[], added: readonly string[], account: string): string {
  // An entry without a name adds no secret: left out, as recreateList leaves it out.
  const whole = wholeList(podList.filter((name) => name !== ''), added);
  const where = "in the pod's template (or in the pod, if no controller made it), every entry kept";
  const why = `the list starts with ServiceAccount ${account}'s secrets, which it copies only into pods that list none`;
  if (whole.text !== undefined) return `set imagePullSecrets: [${whole.text}] ${where} (${why})`;
  return `set imagePullSecrets to the pod's ${whole.count} pull secrets, then ${namesText(added)}, ${where} (${why})`;
}

/** True when `list`, its nameless entries skipped, is `prefix` followed by at least one named entry. One pass. */
function startsWithThenMore(list: readonly string[], prefix: readonly string[]): boolean {
  let matched = 0;
  for (const name of list) {
    if (name === '') continue;
    if (matched === prefix.length) return true;
    if (name !== prefix[matched]) return false;
    matched++;
  }
  return false;
}

/** Names joined when they fit a subject's room; otherwise the first few and how many more. */
function namesText(names: readonly string[]): string {
  return joinedWithin(names) ?? listNames(names);
}

/**
 * The names of a list (the ServiceAccount's, or a pod's), each once, then the added ones it does
 * not hold: the text when it fits DENY_SUBJECT_MAX_CHARS whole, and how many distinct names the
 * list holds. One pass.
 */
function wholeList(saSecrets: readonly string[], added: readonly string[]): { readonly text: string | undefined; readonly count: number } {
  const seen = new Set<string>();
  const names: string[] = [];
  let length = -2;
  for (const name of saSecrets) {
    if (seen.has(name)) continue;
    seen.add(name);
    length += name.length + 2;
    if (length <= DENY_SUBJECT_MAX_CHARS) names.push(name);
  }
  const count = seen.size;
  for (const name of added) {
    if (seen.has(name)) continue;
    seen.add(name);
    length += name.length + 2;
    if (length <= DENY_SUBJECT_MAX_CHARS) names.push(name);
  }
  return { text: length <= DENY_SUBJECT_MAX_CHARS ? names.join(', ') : undefined, count };
}
