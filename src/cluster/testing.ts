import type { ErrorCallback, Informer, ObjectCallback } from '@kubernetes/client-node';
import type { InformerFactory, InformerHooks, InformerName, InformerSpec } from './informers.ts';
import type { ProjectedObject } from './projection.ts';

/**
 * In-memory informers for unit tests and simulations: they behave like client-node's ListWatch
 * at its seam (callbacks add/update/delete/error, start/stop, an error stops the informer)
 * but the test decides what the API server says and when. Raw objects given to them are
 * projected with the spec's projector, as the real factory does.
 */

type ObjectVerb = 'add' | 'update' | 'delete';

function keyOf(record: ProjectedObject): string {
  return `${record.metadata.namespace ?? ''}/${record.metadata.name}`;
}

export class FakeInformer implements Informer<ProjectedObject> {
  readonly spec: InformerSpec;
  private readonly hooks: InformerHooks;
  private readonly objectCallbacks: Record<ObjectVerb, Array<ObjectCallback<ProjectedObject>>> = { add: [], update: [], delete: [] };
  private readonly errorCallbacks: ErrorCallback[] = [];
  private readonly cache = new Map<string, ProjectedObject>();
  /** Errors the next start() calls report instead of connecting, in order. */
  readonly failNextStarts: unknown[] = [];
  starts = 0;
  stops = 0;
  running = false;

  constructor(spec: InformerSpec, hooks: InformerHooks) {
    this.spec = spec;
    this.hooks = hooks;
  }

  on(verb: 'add' | 'update' | 'delete' | 'change', callback: ObjectCallback<ProjectedObject>): void;
  on(verb: 'error' | 'connect', callback: ErrorCallback): void;
  on(verb: string, callback: ObjectCallback<ProjectedObject> | ErrorCallback): void {
    if (verb === 'error') this.errorCallbacks.push(callback as ErrorCallback);
    else if (verb === 'change') for (const each of ['add', 'update', 'delete'] as const) this.objectCallbacks[each].push(callback as ObjectCallback<ProjectedObject>);
    else if (verb === 'add' || verb === 'update' || verb === 'delete') this.objectCallbacks[verb].push(callback as ObjectCallback<ProjectedObject>);
  }

  off(verb: 'add' | 'update' | 'delete' | 'change', callback: ObjectCallback<ProjectedObject>): void;
  off(verb: 'error' | 'connect', callback: ErrorCallback): void;
  off(verb: string, callback: ObjectCallback<ProjectedObject> | ErrorCallback): void {
    const remove = <T>(list: T[], item: T): void => {
      const index = list.indexOf(item);
      if (index >= 0) list.splice(index, 1);
    };
    if (verb === 'error') remove(this.errorCallbacks, callback as ErrorCallback);
    else for (const each of ['add', 'update', 'delete'] as const) if (verb === each || verb === 'change') remove(this.objectCallbacks[each], callback as ObjectCallback<ProjectedObject>);
  }

  async start(): Promise<void> {
    this.starts++;
    if (this.failNextStarts.length > 0) {
      // Like ListWatch: a failed list or watch is reported to the error callbacks and start() resolves.
      this.fail(this.failNextStarts.shift());
      return;
    }
    this.running = true;
  }

  async stop(): Promise<void> {
    this.stops++;
    this.running = false;
  }

  /** The API server answers a list: hooks first, then the diff against the cache, as ListWatch does. */
  list(raws: readonly unknown[]): void {
    const records = raws.map((raw) => this.spec.project(raw)).filter((record): record is ProjectedObject => record !== undefined);
    this.hooks.listed(records);
    const listed = new Map(records.map((record) => [keyOf(record), record] as const));
    for (const [key, record] of [...this.cache]) {
      if (listed.has(key)) continue;
      this.cache.delete(key);
      this.emit('delete', record);
    }
    for (const [key, record] of listed) {
      const known = this.cache.has(key);
      this.cache.set(key, record);
      this.emit(known ? 'update' : 'add', record);
    }
  }

  added(raw: unknown): void {
    this.watchEvent('add', raw);
  }

  modified(raw: unknown): void {
    this.watchEvent('update', raw);
  }

  deleted(raw: unknown): void {
    this.watchEvent('delete', raw);
  }

  bookmark(): void {
    this.hooks.activity();
  }

  /** The informer stops on an error (API server gone, 403, failed list). */
  fail(error: unknown): void {
    this.running = false;
    for (const callback of [...this.errorCallbacks]) callback(error);
  }

  private watchEvent(verb: ObjectVerb, raw: unknown): void {
    const record = this.spec.project(raw);
    if (record === undefined) return;
    if (verb === 'delete') this.cache.delete(keyOf(record));
    else this.cache.set(keyOf(record), record);
    this.emit(verb, record);
  }

  private emit(verb: ObjectVerb, record: ProjectedObject): void {
    for (const callback of [...this.objectCallbacks[verb]]) callback(record);
  }
}

export class FakeInformerFactory implements InformerFactory {
  readonly created: FakeInformer[] = [];

  create(spec: InformerSpec, hooks: InformerHooks): FakeInformer {
    const informer = new FakeInformer(spec, hooks);
    this.created.push(informer);
    return informer;
  }

  /** The newest informer created for `name`. */
  informer(name: InformerName): FakeInformer {
    const found = this.created.filter((informer) => informer.spec.name === name).at(-1);
    if (found === undefined) throw new Error(`no informer ${name} was created`);
    return found;
  }

  /** How many informers were created for `name` (a forced relist creates a new one). */
  count(name: InformerName): number {
    return this.created.filter((informer) => informer.spec.name === name).length;
  }
}
