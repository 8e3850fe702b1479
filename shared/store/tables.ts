/** The Table Storage store lives in tables/ (one file per aggregate); this path stays for its importers. */
export * from './tables/index.js'
