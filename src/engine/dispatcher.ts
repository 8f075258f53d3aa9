/**
 * The iteration's shared state and its one way to send a request. Executors
 * decide *when* to send; the dispatcher decides *whether* (request and time
 * limits, warmup phase), sends through the backend, and keeps the counts.
 * Multi-turn, what is claimed and sent is a conversation (conversation.ts):
 * limits, slots and arrivals then count conversations.
 */
import type { Backend } from '../backends/backend.js';
import type { RequestPhase, RequestRecord } from '../metrics/record.js';
import { traceIdFor } from '../base/trace-id.js';
import type { WorkItem } from '../workload/work-item.js';
import type { ConversationPlay } from '../workload/conversations.js';
import { nowUs } from '../base/clock.js';
import { playConversation, type ConversationCounts } from './conversation.js';
import { FailFastWatch } from './fail-fast.js';
import type { IterationPlan } from '../plan/plan.js';
import type { ProgressSnapshot } from '../metrics/run-events.js';
import { dealingFor, shareOf, WHOLE, type Dealing, type Segment } from '../plan/segments.js';

export type EndReason = 'max_requests' | 'max_time' | 'trace_end' | 'interrupted' | 'fail_fast';

/** Requests whose dispatch started this much after their schedule are counted late. */
export const LATE_ARRIVAL_THRESHOLD_US = 10_000;

export interface Claim {
  index: number;
  phase: RequestPhase;
}

export class Dispatcher {
  readonly startUs: number;
  readonly deadlineUs: number;
  readonly records: RequestRecord[] = [];
  inFlight = 0;
  dropped = 0;
  late = 0;
  errors = 0;
  endedBy: EndReason | null = null;
  /** Trips when the first measured requests all fail alike; its cause says why the iteration ended. */
  readonly failFast = new FailFastWatch();
  /** The indexes this shard claims, in order (plan/segments.ts: by slot in closed loop). */
  private readonly dealing: Dealing;
  /** Indexes claimed so far: the next claim takes the dealing's `claimed`-th. */
  private claimed = 0;
  /**
   * The shard's part of the iteration's measured requests. With a time-based warmup in open
   * loop it is fixed once the first measured arrival of the whole schedule is drawn.
   */
  measuredShare: number;
  /** Open loop: the first index of the whole schedule that is measured, once drawn. */
  private firstMeasured: number | null = null;
  /** Open loop: the shard's part of max_in_flight (at least 1). */
  readonly maxInFlight: number;
  private measuredClaimed = 0;
  private measuredDone = 0;
  /** Multi-turn: measured conversations started, finished whole, and cut. */
  readonly conversationCounts: ConversationCounts = { started: 0, completed: 0, cut: 0 };
  private readonly cancelInFlight = new AbortController();
  private readonly stopSending = new AbortController();
  private readonly drainWaiters: Array<() => void> = [];

  constructor(
    readonly plan: IterationPlan,
    private readonly backend: Backend,
    /** The iteration's items, prepared before the clock started. */
    readonly itemAt: (index: number) => WorkItem,
    private readonly onRecord: (record: RequestRecord) => void,
    startUs: number = nowUs(),
    /** The run's id, from which each request's trace id is derived; none in unit tests. */
    private readonly runId: string | null = null,
    /** The shard this dispatcher sends (plan/segments.ts); the whole iteration by default. */
    readonly segment: Segment = WHOLE,
    /** Multi-turn: claim index c is conversation c, played turn by turn; null for single requests. */
    private readonly conversations: ConversationPlay | null = null,
  ) {
    this.startUs = startUs;
    this.dealing = dealingFor(segment, plan);
    this.measuredShare = this.dealing.inRange(plan.warmup.requests, plan.max_requests);
    this.maxInFlight = Math.max(1, shareOf(segment, plan.max_in_flight));
    this.deadlineUs = startUs + Math.round(plan.max_time_s * 1e6);
  }

  /**
   * Open loop, a shard: arrival j of the whole schedule was drawn at `offsetUs`. One client
   * measures the M arrivals from the first one past the warmup (by count and by time); a
   * shard sees every arrival drawn, so it knows that index w and owns exactly its part of
   * w … w+M−1, whatever the others' arrivals were.
   */
  arrivalDrawn(j: number, offsetUs: number): void {
    if (this.firstMeasured !== null) return;
    const { warmup } = this.plan;
    if (j < warmup.requests || offsetUs < warmup.seconds * 1e6) return;
    this.firstMeasured = j;
    this.measuredShare = this.dealing.inRange(j, this.plan.max_requests);
  }

  /** True once no further request may be sent. */
  get stopped(): boolean {
    return this.endedBy !== null;
  }

  /**
   * Claims the next work item for a request scheduled at `scheduledAtUs`, or null
   * when the iteration must stop sending. Warmup is decided by the schedule time.
   */
  claim(scheduledAtUs: number): Claim | null {
    if (this.endedBy) return null;
    if (scheduledAtUs >= this.deadlineUs) {
      this.end('max_time');
      return null;
    }
    const index = this.dealing.at(this.claimed);
    // A shard with no slot of a closed loop owns no request.
    if (index === Infinity) {
      this.end('max_requests');
      return null;
    }
    const { warmup } = this.plan;
    const phase: RequestPhase =
      index < warmup.requests || scheduledAtUs < this.startUs + warmup.seconds * 1e6 ? 'warmup' : 'measured';
    if (phase === 'measured') {
      if (this.measuredClaimed >= this.measuredShare) {
        this.end('max_requests');
        return null;
      }
      this.measuredClaimed++;
    }
    this.claimed++;
    return { index, phase };
  }

  /** Sends a claimed item (multi-turn: plays a claimed conversation); resolves when its record is complete. Never rejects. */
  async send(claim: Claim, scheduledAtUs: number): Promise<void> {
    if (this.conversations !== null) return this.sendConversation(claim, scheduledAtUs, this.conversations);
    const item = this.itemAt(claim.index);
    this.inFlight++;
    const record = await this.backend.send(item, {
      request_id: `${this.plan.index}-${claim.index}`,
      ...(this.runId ? { trace_id: traceIdFor(this.runId, this.plan.index, claim.index) } : {}),
      iteration: this.plan.index,
      index: claim.index,
      phase: claim.phase,
      scheduled_at_us: scheduledAtUs,
      signal: this.cancelInFlight.signal,
    });
    this.inFlight--;
    if (item.prefix_group !== undefined) record.prefix_group = item.prefix_group;
    // Lateness is an open-loop notion: closed-loop requests are scheduled when they are sent.
    const late = record.sent_at_us - record.scheduled_at_us > LATE_ARRIVAL_THRESHOLD_US;
    if (late && claim.phase === 'measured' && this.plan.mode !== 'concurrency') this.late++;
    if (record.status === 'error') this.errors++;
    if (claim.phase === 'measured') this.measuredDone++;
    this.records.push(record);
    this.onRecord(record);
    if (this.failFast.observe(record)) this.end('fail_fast');
    if (this.inFlight === 0) this.drainWaiters.splice(0).forEach((wake) => wake());
  }

  /**
   * Plays conversation `claim.index`, which stays in flight (one of `inFlight`) from its first
   * turn to its last: closed-loop slots and open-loop max_in_flight count conversations.
   */
  private async sendConversation(claim: Claim, scheduledAtUs: number, play: ConversationPlay): Promise<void> {
    this.inFlight++;
    const measured = claim.phase === 'measured';
    if (measured) this.conversationCounts.started++;
    let whole = false;
    try {
      whole = await playConversation(play, claim.index, scheduledAtUs, {
        id: `${this.plan.index}-${claim.index}`,
        deadlineUs: this.deadlineUs,
        cancelled: this.cancelInFlight.signal,
        send: (item, turnScheduledAtUs, onContent) =>
          this.sendTurn(item, claim.phase, turnScheduledAtUs, onContent),
      });
    } catch {
      // A conversation that could not be built or counted (never a request: backends do not
      // throw) is cut, and leaves the count in flight, so the iteration still drains.
      whole = false;
    }
    this.inFlight--;
    if (measured) {
      this.measuredDone++;
      if (whole) this.conversationCounts.completed++;
      else this.conversationCounts.cut++;
    }
    if (this.inFlight === 0) this.drainWaiters.splice(0).forEach((wake) => wake());
  }

  /** One turn of a conversation: a request whose index is the item's (unique in the iteration). */
  private async sendTurn(
    item: WorkItem,
    phase: RequestPhase,
    scheduledAtUs: number,
    onContent: ((text: string) => void) | undefined,
  ): Promise<RequestRecord> {
    const record = await this.backend.send(item, {
      request_id: `${this.plan.index}-${item.index}`,
      ...(this.runId ? { trace_id: traceIdFor(this.runId, this.plan.index, item.index) } : {}),
      iteration: this.plan.index,
      index: item.index,
      phase,
      scheduled_at_us: scheduledAtUs,
      signal: this.cancelInFlight.signal,
      ...(onContent ? { onContent } : {}),
    });
    record.conversation_id = item.conversation?.id ?? null;
    record.turn_index = item.conversation?.turn ?? null;
    // An arrival is a conversation's first turn; later turns are timed from the answer before them.
    const late = record.sent_at_us - record.scheduled_at_us > LATE_ARRIVAL_THRESHOLD_US;
    if (late && phase === 'measured' && this.plan.mode !== 'concurrency' && record.turn_index === 0)
      this.late++;
    if (record.status === 'error') this.errors++;
    this.records.push(record);
    this.onRecord(record);
    if (this.failFast.observe(record)) this.end('fail_fast');
    return record;
  }

  /**
   * Ends the iteration. The time limit, interruption and fail fast cancel what is in
   * flight (recorded as `cancelled`); reaching the request count or the trace's end drains.
   */
  end(reason: EndReason): void {
    // The first reason stands, except that an interruption is always reported as one.
    if (!this.endedBy || reason === 'interrupted') this.endedBy = reason;
    this.stopSending.abort(reason);
    if (reason !== 'max_requests' && reason !== 'trace_end') this.cancelInFlight.abort(reason);
  }

  /** Aborted when the iteration stops sending (wakes executors sleeping until their next arrival). */
  get stopSignal(): AbortSignal {
    return this.stopSending.signal;
  }

  /** Resolves when nothing is in flight. */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  progress(): ProgressSnapshot {
    return {
      sent: this.claimed,
      done: this.records.length,
      errors: this.errors,
      in_flight: this.inFlight,
      measured_done: this.measuredDone,
      max_requests: this.measuredShare,
      elapsed_s: (nowUs() - this.startUs) / 1e6,
      max_time_s: this.plan.max_time_s,
      fail_watch: this.failFast.state(),
    };
  }
}
