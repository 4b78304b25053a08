import { pino, type Logger } from 'pino';
import type { AdmissionOutcome, Phase } from '../admission/admit.ts';
import { shorten } from '../decide/messages.ts';

/**
 * Request fields (uid, name, namespace, kind, operation) come from the caller and have no length
 * limit in the body: a log line quotes at most this many characters of each, so one review can
 * never make a line the log pipe drops (the API server's own limits are 253 for names, 36 for uids).
 */
export const LOG_FIELD_MAX_CHARS = 512;
/** The reason names the secrets injected; a pod with hundreds of containers must not make it unbounded. */
export const LOG_REASON_MAX_CHARS = 1024;

export const DECISION_MESSAGE = 'admission decision';

/** pino's numeric levels, as its lines carry them. */
const INFO = 30;
const DEBUG = 20;

interface LineSink {
  write(line: string): unknown;
}

/**
 * The one log line per decision, built by hand: a generic serializer (pino's, JSON.stringify of an
 * object) costs more per review than the decision itself, and this line is on every request's path.
 *
 * Decisions that do something (patch, deny, warn, dry-run findings) are logged at info; plain
 * allows and skips at debug, or at info with `logAllows` (`--log-allows`). The line goes to the
 * logger's own destination with the logger's bindings, so it reads exactly like pino's lines:
 * `{"level":30,"time":…,"app":"pullguard",…,"msg":"admission decision"}`.
 */
export class DecisionLog {
  private readonly logger: Logger;
  private readonly logAllows: boolean;
  private readonly sink: LineSink;
  private readonly bindings: string;

  constructor(logger: Logger, options: { readonly logAllows?: boolean } = {}) {
    this.logger = logger;
    this.logAllows = options.logAllows === true;
    // pino exposes its destination and its pre-serialised bindings (`,"app":"pullguard"`) as symbols.
    this.sink = (logger as unknown as Record<symbol, LineSink>)[pino.symbols.streamSym] as LineSink;
    this.bindings = ((logger as unknown as Record<symbol, string | undefined>)[pino.symbols.chindingsSym]) ?? '';
  }

  /** The level a decision is logged at: info when the webhook did something, else debug (info with logAllows). */
  levelOf(outcome: AdmissionOutcome): number {
    return this.logAllows || (outcome.action !== 'allow' && outcome.action !== 'skip') ? INFO : DEBUG;
  }

  write(phase: Phase, outcome: AdmissionOutcome, dryRun: boolean, latencyMs: number): void {
    const level = this.levelOf(outcome);
    if (level < this.logger.levelVal) return;
    let line = `{"level":${level},"time":${Date.now()}${this.bindings},"webhook":"${phase}","uid":${quote(outcome.response.uid)}`;
    line += `,"kind":${quote(outcome.kind)},"namespace":${quote(outcome.namespace)},"name":${quote(outcome.name)}`;
    line += `,"operation":${quote(outcome.operation)},"dryRun":${dryRun}`;
    const mode = outcome.decision?.mode;
    if (mode !== undefined) line += `,"mode":"${mode}"`;
    line += `,"action":"${outcome.action}"`;
    if (outcome.verdict !== undefined) line += `,"decision":"${outcome.verdict}"`;
    line += `,"reason":${JSON.stringify(shorten(outcome.reason, LOG_REASON_MAX_CHARS))},"codes":[`;
    const codes = outcome.codes;
    // Finding codes are identifiers from the catalogue: nothing to escape.
    for (let index = 0; index < codes.length; index++) line += `${index === 0 ? '' : ','}"${codes[index]}"`;
    line += `],"latencyMs":${Math.round(latencyMs * 1e3) / 1e3},"msg":"${DECISION_MESSAGE}"}\n`;
    this.sink.write(line);
  }
}

/** A request field as a JSON string, at most LOG_FIELD_MAX_CHARS characters of it. */
function quote(text: string): string {
  return JSON.stringify(text.length > LOG_FIELD_MAX_CHARS ? shorten(text, LOG_FIELD_MAX_CHARS) : text);
}
