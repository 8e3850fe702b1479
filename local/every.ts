/**
 * The local server's stand-in for a Functions timer: runs `job` every `everyMs`. Runs never
 * overlap, a failed run (storage down) is logged and retried by the next one, and the timer does
 * not keep the process alive. The returned function stops it and waits for a run in progress.
 */
export function every(
  everyMs: number,
  job: () => Promise<string[]>,
  { log, failure }: { log: (line: string) => void; failure: string },
): () => Promise<void> {
  let running: Promise<void> | undefined
  const run = () => {
    running ??= job()
      .then(
        (lines) => lines.forEach(log),
        (err: unknown) => log(`${failure}: ${err instanceof Error ? err.message : String(err)}`),
      )
      .finally(() => (running = undefined))
  }
  const timer = setInterval(run, everyMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}

/** What each timer's start function takes: the core it works on, its period and its log. */
export interface TimerOptions<C> {
  core: C
  everyMs?: number
  /** Where its lines go (default: stdout). */
  log?: (line: string) => void
}

/**
 * A stand-in timer's start function: `start({ core })` runs `job(core)` every `everyMs` (default
 * `defaultEveryMs`) through `every`, logging the job's lines, or `failure: <error>` when it fails.
 * The returned function stops it.
 *
 * @example
 * export const startHousekeeping = timer(600_000, 'housekeeping: failed', async (core) => [...])
 */
export function timer<C>(
  defaultEveryMs: number,
  failure: string,
  job: (core: C) => Promise<string[]>,
): (opts: TimerOptions<C>) => () => Promise<void> {
  return ({ core, everyMs = defaultEveryMs, log = (line: string) => console.log(line) }) =>
    every(everyMs, () => job(core), { log, failure })
}
