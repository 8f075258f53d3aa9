/**
 * CPU time of a process and its descendants, read from Linux's /proc, sampled on a
 * timer so the CPU spent inside a window (the steady part of a load step) can be
 * told apart from start-up and sealing. A process tree, not one pid: `infermark run
 * --workers N` sends from N worker processes under the parent.
 *
 * What is counted: user + system time of the root (`utime`, `stime`), of every live
 * descendant, and of every descendant already reaped by its parent (`cutime`,
 * `cstime` of that parent), so a worker that exits mid-step is not lost. Units are
 * the kernel's clock ticks (USER_HZ, 100 per second on every Linux that Node runs on),
 * so one reading is good to 10 ms; windows here are seconds long.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const US_PER_TICK = 10_000;

/** Whether this host has /proc to read (Linux). */
export function procAvailable(): boolean {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** utime + stime (own) and cutime + cstime (reaped children) of `pid`, in µs; null once it is gone. */
function statOf(pid: number): { own_us: number; reaped_us: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' do not.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const tick = (field: number): number => Number(fields[field - 3] ?? 0);
  return {
    own_us: (tick(14) + tick(15)) * US_PER_TICK,
    reaped_us: (tick(16) + tick(17)) * US_PER_TICK,
  };
}

/** The live children of `pid` (every thread's list; empty once it is gone). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') for (const child of text.split(' ')) out.push(Number(child));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Bound on the processes one reading walks (a worker tree is a handful). */
const MAX_TREE = 256;

/** CPU µs used so far by `root` and its descendants, live and reaped; null once the root is gone. */
export function treeCpu_us(root: number): number | null {
  const rootStat = statOf(root);
  if (rootStat === null) return null;
  let total = rootStat.own_us + rootStat.reaped_us;
  const queue = childrenOf(root);
  let seen = 0;
  while (queue.length > 0 && seen < MAX_TREE) {
    const pid = queue.shift() as number;
    seen++;
    const stat = statOf(pid);
    if (stat === null) continue;
    total += stat.own_us + stat.reaped_us;
    queue.push(...childrenOf(pid));
  }
  return total;
}

/** One reading: wall-clock ms (the simulator's write-log clock) and CPU µs so far. */
interface Sample {
  wall_ms: number;
  cpu_us: number;
}

/**
 * Reads a process tree's CPU every `period_ms` until stopped (or the root is gone),
 * and answers how much CPU it used between two wall-clock instants, by linear
 * interpolation between the readings around each.
 */
export class CpuSampler {
  private readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly root: number,
    period_ms = 50,
    /** Readings kept at most (10 minutes at 50 ms). */
    private readonly maxSamples = 12_000,
  ) {
    this.read();
    this.timer = setInterval(() => this.read(), period_ms);
  }

  /** Take a reading now (also at every tick). */
  read(): void {
    const cpu_us = treeCpu_us(this.root);
    if (cpu_us === null || this.samples.length >= this.maxSamples) return;
    this.samples.push({ wall_ms: performance.timeOrigin + performance.now(), cpu_us });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The CPU µs of the tree at `wall_ms`, interpolated; null outside the readings. */
  at(wall_ms: number): number | null {
    const s = this.samples;
    if (s.length === 0) return null;
    const first = s[0] as Sample;
    const last = s[s.length - 1] as Sample;
    if (wall_ms < first.wall_ms || wall_ms > last.wall_ms) return null;
    let lo = 0;
    let hi = s.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((s[mid] as Sample).wall_ms <= wall_ms) lo = mid;
      else hi = mid;
    }
    const a = s[lo] as Sample;
    const b = s[hi] as Sample;
    if (b.wall_ms === a.wall_ms) return a.cpu_us;
    return a.cpu_us + ((b.cpu_us - a.cpu_us) * (wall_ms - a.wall_ms)) / (b.wall_ms - a.wall_ms);
  }

  /** CPU µs used between two wall-clock instants; null when either is outside the readings. */
  between(from_ms: number, to_ms: number): number | null {
    const a = this.at(from_ms);
    const b = this.at(to_ms);
    return a === null || b === null ? null : b - a;
  }
}

/**
 * CPU µs of this process's children that have exited and been waited for (`cutime` +
 * `cstime` of /proc/self): the difference around one child's life is all that child's
 * CPU, its own reaped descendants included, start-up and exit too.
 */
export function reapedChildrenCpu_us(): number | null {
  return statOf(process.pid)?.reaped_us ?? null;
}
