/**
 * The OpenAPI 3.1 document of the service's own API: shared/openapi/ (paths tables, generated
 * components). Kept as the stable import path for the app and the tests.
 */
export { openApiDocument } from './openapi/index.js'
