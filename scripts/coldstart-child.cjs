// One cold start of the Functions bundle, as the host does it (scripts/bench-coldstart.ts runs
// this in a fresh process each time): require the bundle with a stand-in for the host's
// @azure/functions-core, then answer one request through the registered handler. Prints the
// times since the process began (performance.now()), as JSON on one line.
//   node scripts/coldstart-child.cjs <dist/functions/index.cjs> <function> <url>
const started = performance.now()
const Module = require('node:module')
const registrations = new Map()
const core = {
  setProgrammingModel() {},
  getProgrammingModel() {},
  registerFunction(metadata, handler) {
    registrations.set(metadata.name, handler)
    return { dispose() {} }
  },
  registerHook() {
    return { dispose() {} }
  },
}
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  return request === '@azure/functions-core' ? '@azure/functions-core' : resolve.call(this, request, ...rest)
}
require.cache['@azure/functions-core'] = { id: '@azure/functions-core', filename: '@azure/functions-core', loaded: true, exports: core }

const [bundle, name, url] = process.argv.slice(2)
require(bundle)
const loaded = performance.now()
// The request and context as the host hands them over (duck-typed by functions/adapter.ts).
const { HttpRequest, InvocationContext } = require('@azure/functions')
const quiet = () => {}
const context = new InvocationContext({ functionName: name, invocationId: 'cold', logHandler: quiet })
// The host's side: @azure/functions builds the request (on undici, Node's fetch, whose first use
// loads it) before our handler is called.
const request = new HttpRequest({ method: 'GET', url })
const invoked = performance.now()
Promise.resolve(registrations.get(name)(request, context)).then((res) => {
  const answered = performance.now()
  console.log(JSON.stringify({ started, loaded, invoked, answered, status: res.status }))
})
