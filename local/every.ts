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
