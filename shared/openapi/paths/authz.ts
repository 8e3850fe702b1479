/** Paths: The authorizer API Management calls (CONTRACT "Authorizer"). */
import { JSON_BODY, NO_STORE, STORAGE, jsonRequest, jsonResponse, problem, type Json } from '../build.js'

export const authzPaths: Json = {

  // ---- Authorizer ----
  '/authz/check': {
    post: {
      operationId: 'authz-check',
      summary: 'Authorize a gateway request',
      description:
        'Called by APIM `send-request`. 200 whenever a decision was made (the decision\'s `status` is what the gateway answers); ' +
        '400 for a malformed call; 503 when no decision can be made (the gateway fails closed). ' +
        'Every 401 decision carries `wwwAuthenticate`; a step-up (RFC 9470: a permission\'s `acr` or `maxAge` not met) ' +
        'also `error: "insufficient_user_authentication"` with `acr_values` and/or `max_age`.',
      tags: ['authorizer'],
      // The function key always; the caller's token as the forwarded bearer header, or in the body's `token`.
      security: [{ functionKey: [], bearer: [] }, { functionKey: [] }],
      requestBody: jsonRequest('AuthzRequest', 'The request to decide.'),
      responses: {
        '200': jsonResponse('AuthzDecision', 'A decision.', NO_STORE),
        ...JSON_BODY,
        '401': problem('Missing or wrong `x-functions-key` (answered by the Functions host, possibly without a body).'),
        '403': problem('Not the gateway: the local server accepts loopback callers only (`forbidden`).'),
        ...STORAGE,
      },
    },
  },
}
