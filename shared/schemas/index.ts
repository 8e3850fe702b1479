/**
 * Every named wire shape, by its OpenAPI component name. scripts/openapi.ts turns this table into
 * `components.schemas` (shared/openapi/components.generated.json); a shape reused inside another
 * becomes a `$ref` to its name.
 */
import * as common from './common.js'
import * as webauthn from './webauthn.js'
import * as oauth from './oauth.js'
import * as account from './account.js'
import * as authz from './authz.js'
import * as admin from './admin.js'
import * as sessions from './sessions.js'

export const COMPONENTS = {
  Base64URL: common.Base64URL,
  Problem: common.Problem,
  OAuthError: common.OAuthError,
  Health: common.Health,
  OpenApiDocument: common.OpenApiDocument,
  HtmlPage: common.HtmlPage,
  JavaScript: common.JavaScript,
  AuthenticatorTransport: webauthn.AuthenticatorTransport,
  UserVerificationRequirement: webauthn.UserVerificationRequirement,
  PublicKeyCredentialDescriptorJSON: webauthn.PublicKeyCredentialDescriptorJSON,
  PublicKeyCredentialRpEntity: webauthn.PublicKeyCredentialRpEntity,
  PublicKeyCredentialUserEntityJSON: webauthn.PublicKeyCredentialUserEntityJSON,
  PublicKeyCredentialParameters: webauthn.PublicKeyCredentialParameters,
  AuthenticatorSelectionCriteria: webauthn.AuthenticatorSelectionCriteria,
  PublicKeyCredentialCreationOptionsJSON: webauthn.PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON: webauthn.PublicKeyCredentialRequestOptionsJSON,
  AuthenticatorAttestationResponseJSON: webauthn.AuthenticatorAttestationResponseJSON,
  RegistrationResponseJSON: webauthn.RegistrationResponseJSON,
  AuthenticatorAssertionResponseJSON: webauthn.AuthenticatorAssertionResponseJSON,
  AuthenticationResponseJSON: webauthn.AuthenticationResponseJSON,
  RegistrationOptionsRequest: webauthn.RegistrationOptionsRequest,
  RegistrationVerifyRequest: webauthn.RegistrationVerifyRequest,
  RegistrationResult: oauth.RegistrationResult,
  AuthenticationOptionsRequest: webauthn.AuthenticationOptionsRequest,
  AuthenticationVerifyRequest: webauthn.AuthenticationVerifyRequest,
  TokenResponse: oauth.TokenResponse,
  RefreshTokenGrantRequest: oauth.RefreshTokenGrantRequest,
  AuthorizationCodeGrantRequest: oauth.AuthorizationCodeGrantRequest,
  ClientCredentialsGrantRequest: oauth.ClientCredentialsGrantRequest,
  TokenRequest: oauth.TokenRequest,
  IntrospectionRequest: oauth.IntrospectionRequest,
  IntrospectionResponse: oauth.IntrospectionResponse,
  RevocationRequest: oauth.RevocationRequest,
  AuthorizeOptionsRequest: oauth.AuthorizeOptionsRequest,
  AuthorizeOptionsResponse: oauth.AuthorizeOptionsResponse,
  AuthorizeCompleteRequest: oauth.AuthorizeCompleteRequest,
  AuthorizeCompleteResponse: oauth.AuthorizeCompleteResponse,
  AuthorizationServerMetadata: oauth.AuthorizationServerMetadata,
  JsonWebKey: oauth.JsonWebKey,
  JsonWebKeySet: oauth.JsonWebKeySet,
  ClientJsonWebKeySet: admin.ClientJsonWebKeySet,
  UserRef: webauthn.UserRef,
  Credential: webauthn.Credential,
  CredentialList: webauthn.CredentialList,
  CredentialLabelUpdate: account.CredentialLabelUpdate,
  Me: account.Me,
  Session: sessions.Session,
  SessionList: sessions.SessionList,
  ManagedUser: admin.ManagedUser,
  ManagedUserList: admin.ManagedUserList,
  Permission: authz.Permission,
  Role: admin.Role,
  UserRoles: admin.UserRoles,
  RoleList: admin.RoleList,
  RolePermissions: admin.RolePermissions,
  AuthzRequest: authz.AuthzRequest,
  AuthzDecision: authz.AuthzDecision,
  SigningKey: admin.SigningKey,
  SigningKeyList: admin.SigningKeyList,
  AuditEvent: admin.AuditEvent,
  AuditEventList: admin.AuditEventList,
  ClientRegistration: admin.ClientRegistration,
  ClientCreated: admin.ClientCreated,
}
