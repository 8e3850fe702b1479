/** The memory store lives in memory/ (one file per aggregate); this path stays for its importers. */
export * from './memory/index.js'
