/** Thrown by `readAtMost` when a stream is longer than allowed. */
export class TooLongError extends RangeError {
  constructor(readonly maxBytes: number) {
    super(`longer than ${maxBytes} bytes`)
    this.name = 'TooLongError'
  }
}

/**
 * Reads a byte stream whole, at most `maxBytes`: past that it is cancelled and TooLongError is
 * thrown; the stream's own failures are thrown as they come (after cancelling it).
 *
 * @example
 * const bytes = await readAtMost(res.body, 20 * 1024 * 1024)
 */
export async function readAtMost(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = stream.getReader()
  const parts: Uint8Array[] = []
  let size = 0
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      size += r.value.length
      if (size > maxBytes) throw new TooLongError(maxBytes)
      parts.push(r.value)
    }
  } catch (e) {
    await reader.cancel().catch(() => {})
    throw e
  }
  return joinBytes(parts)
}

/** The parts one after the other, in one array. */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    bytes.set(p, at)
    at += p.length
  }
  return bytes
}
