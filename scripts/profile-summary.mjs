#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): busy time, and the inclusive share of each
// function, optionally only those whose "name file:line" matches a regular expression.
//   node scripts/profile-summary.mjs .bench/CPU.*.cpuprofile ["shared/|nm/jose"]
import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const selfT = new Map(); for (let i = 0; i < p.samples.length; i++) selfT.set(p.samples[i], (selfT.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
const incl = new Map(); let total = 0
for (const [id, us] of selfT) {
  const n0 = byId.get(id); if (n0.callFrame.functionName === '(idle)') continue
  total += us
  const seen = new Set(); let cur = id
  while (cur !== undefined) { const n = byId.get(cur); const cf = n.callFrame
    const key = `${cf.functionName || '(anon)'} ${cf.url.replace(/.*node_modules\//, 'nm/').replace(/.*\/work\/main\//, '')}:${cf.lineNumber}`
    if (!seen.has(key)) { seen.add(key); incl.set(key, (incl.get(key) ?? 0) + us) }
    cur = parent.get(cur) }
}
const filt = process.argv[3] ? new RegExp(process.argv[3]) : /./
console.log('busy ms', (total/1000).toFixed(0))
for (const [k, v] of [...incl].filter(([k]) => filt.test(k)).sort((a,b)=>b[1]-a[1]).slice(0, 45)) console.log((v/total*100).toFixed(1).padStart(5), '%', k)
