declare module 'autocannon' {
  const autocannon: (opts: Record<string, unknown>) => Promise<unknown>
  export default autocannon
}
