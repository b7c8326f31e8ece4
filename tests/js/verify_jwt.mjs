// node verify_jwt.mjs <jwks_url> <jwt> <issuer> <audience> [algorithms] [now]
// Verifies a JWT the way a third party would: keys fetched from the remote JWKS, EdDSA
// only unless [algorithms] (comma-separated: a template's ES256 or RS256 key) says.
// An empty <audience> means "no audience check" (session tokens carry no aud). [now], in
// seconds since the epoch, is the time to judge exp and nbf by (a test's clock).
// Prints {"payload", "protectedHeader"} as JSON; on failure exits 1 with "CODE: message".
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, token, issuer, audience, algorithms, now] = process.argv.slice(2);
if (!jwksUrl || !token || issuer === undefined) {
  console.error('USAGE: node verify_jwt.mjs <jwks_url> <jwt> <issuer> <audience or "">');
  process.exit(2);
}
try {
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), {
    issuer,
    audience: audience ? audience : undefined,
    algorithms: algorithms ? algorithms.split(',') : ['EdDSA', 'Ed25519'],
    typ: 'JWT',
    currentDate: now ? new Date(Number(now) * 1000) : undefined,
  });
  console.log(JSON.stringify({ payload, protectedHeader }));
} catch (e) {
  console.error(`${e.code || e.name}: ${e.message}`);
  process.exit(1);
}
