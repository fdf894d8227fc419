import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Scheduler times of one thread, from Linux's `/proc/<pid>/task/<tid>/schedstat`, in ms:
 * time on a CPU, and time runnable but waiting for a CPU (the cost of oversubscription).
 */
export interface ThreadTimes {
  cpuMs: number;
  waitMs: number;
}

/** Times of a thread or of every thread of the process; null where /proc has no schedstat (not Linux). */
function readSchedstat(file: string): ThreadTimes | null {
  try {
    const [run, wait] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (!Number.isFinite(run) || !Number.isFinite(wait)) return null;
    return { cpuMs: run! / 1e6, waitMs: wait! / 1e6 };
  } catch {
    return null;
  }
}

/** The calling thread's scheduler times (null when unavailable). */
export function currentThreadTimes(): ThreadTimes | null {
  return readSchedstat('/proc/thread-self/schedstat');
}

/** The kernel's id of the calling thread (null when unavailable). */
export function currentThreadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return null;
  }
}

/** Ids of every thread of this process (empty when unavailable). */
export function processThreadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return [];
  }
}

/** Names (`comm`) of every thread of this process (empty when unavailable). */
export function threadNames(): string[] {
  return processThreadIds().flatMap((id) => {
    try {
      return [readFileSync(`/proc/self/task/${id}/comm`, 'utf8').trim()];
    } catch {
      return [];
    }
  });
}

/** Summed scheduler times of the given threads of this process (threads that ended count 0). */
export function threadsTimes(ids: readonly number[]): ThreadTimes | null {
  const times = ids.map((id) => readSchedstat(`/proc/self/task/${id}/schedstat`)).filter((t) => t !== null);
  if (times.length === 0) return null;
  return { cpuMs: times.reduce((a, t) => a + t.cpuMs, 0), waitMs: times.reduce((a, t) => a + t.waitMs, 0) };
}

/** Summed scheduler times of every thread of this process. */
export function processTimes(): ThreadTimes | null {
  return threadsTimes(processThreadIds());
}

/** `b − a`, field by field (null when either is null). */
export function timesBetween(a: ThreadTimes | null, b: ThreadTimes | null): ThreadTimes | null {
  return a && b ? { cpuMs: b.cpuMs - a.cpuMs, waitMs: b.waitMs - a.waitMs } : null;
}

/** A monotonic clock in ms shared by all threads of the process (unlike performance.now()). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
