// A real OpenID provider for the social-login tests (npm oidc-provider, its development
// login page). Env: OP_PORT, OP_REDIRECT_URIS (comma-separated).
// The login typed becomes the account: "ada" is ada@example.net, verified; a login with
// an "@" is that address; "unverified-..." has email_verified false; "noemail-..." no
// address at all. Consent is granted at once (a first-party client).
import Provider from 'oidc-provider';

const PORT = Number(process.env.OP_PORT || 9090);
const ISSUER = `http://127.0.0.1:${PORT}`;
const REDIRECT_URIS = (process.env.OP_REDIRECT_URIS || '').split(',').filter(Boolean);

function claimsOf(login) {
  const claims = { sub: login, given_name: 'Test', family_name: login.split('@')[0] };
  if (login.startsWith('noemail-')) return claims;
  claims.email = login.includes('@') ? login.replace(/^unverified-/, '') : `${login}@example.net`;
  claims.email_verified = !login.startsWith('unverified-');
  return claims;
}

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: 'authkit-test',
    client_secret: 'authkit-test-secret',
    redirect_uris: REDIRECT_URIS,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return claimsOf(sub); } };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['test-only-cookie-key'] },
});
provider.listen(PORT, '127.0.0.1', () => console.log(`listening on ${ISSUER}`));
process.on('SIGTERM', () => process.exit(0));
