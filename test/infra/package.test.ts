/**
 * What `azd deploy` zips for the service (azure.yaml): the project folder minus `.funcignore`,
 * which azd reads as a .gitignore (learn.microsoft.com, "Configure service packaging file
 * exclusions"), not as Core Tools does (test/functions/registration.test.ts checks that reading).
 * Under both, the zip must be what `func azure functionapp publish --no-build` ships: host.json,
 * package.json and the prebuilt bundle, and no sources, settings or secrets.
 */
import { LEFT_OUT, shippedFiles } from '../helpers/packaging.js'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const read = (p: string) => readFileSync(join(root, p), 'utf8')

/**
 * .gitignore rules, as far as .funcignore uses them: a pattern with a "/" at the start or in the
 * middle is anchored at the folder, one without matches a name at any depth; `*` stays within a
 * name; the last matching pattern wins ("!" re-includes); nothing under an ignored folder can be
 * re-included.
 */
function gitignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!')
      let p = negate ? line.slice(1) : line
      const dirOnly = p.endsWith('/')
      if (dirOnly) p = p.slice(0, -1)
      const anchored = p.includes('/')
      if (p.startsWith('/')) p = p.slice(1)
      const body = p
        .split('**')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
        .join('.*')
      return { negate, dirOnly, anchored, re: new RegExp(`^${body}$`) }
    })
  const ignoredItself = (path: string, isDir: boolean) => {
    let ignored = false
    for (const r of rules) {
      if (r.dirOnly && !isDir) continue
      const subject = r.anchored ? path : path.split('/').at(-1)!
      if (r.re.test(subject)) ignored = !r.negate
    }
    return ignored
  }
  return (path) => {
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) if (ignoredItself(parts.slice(0, i).join('/'), true)) return true
    return ignoredItself(path, false)
  }
}

describe('the package azd deploys (azure.yaml, .funcignore)', () => {
  it('azure.yaml deploys this folder as the Functions service "api", built by npm run build before packaging, with no build in Azure', () => {
    const yaml = read('azure.yaml')
    assert.match(yaml, /^services:\n {2}api:\n/m)
    assert.match(yaml, /^ {4}project: \.$/m)
    assert.match(yaml, /^ {4}language: js$/m)
    assert.match(yaml, /^ {4}host: function$/m)
    // azd's default for JavaScript function apps is a remote (Oryx) build, which needs the sources.
    assert.match(yaml, /^ {4}remoteBuild: false$/m)
    assert.match(yaml, /^ {6}prepackage:\n(?: {8}.*\n)*? {8}run: npm run build$/m)
    assert.match(yaml, /^ {2}path: infra$/m)
  })

  it('.funcignore read as a .gitignore ships the bundle, host.json and package.json, and no sources or secrets (every file beside the bundle included)', () => {
    const denies = gitignore(read('.funcignore'))
    const pkg = JSON.parse(read('package.json')) as { main: string }
    for (const shipped of shippedFiles(pkg.main)) assert.equal(denies(shipped), false, `${shipped} is published`)
    for (const left of LEFT_OUT) assert.equal(denies(left), true, `${left} is left out`)
  })

  it('the .gitignore reading is the one that drops a name at any depth (so the file anchors its folders)', () => {
    assert.equal(gitignore('functions\n')('dist/functions/index.cjs'), true)
    assert.equal(gitignore('/functions\n')('dist/functions/index.cjs'), false)
    assert.equal(gitignore('/functions\n')('functions/index.ts'), true)
    assert.equal(gitignore('/dist\n!/dist/functions\n')('dist/functions/index.cjs'), true)
  })
})
